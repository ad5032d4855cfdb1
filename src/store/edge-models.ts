import type { Knex } from 'knex';
import type { CurrentRecord, DesiredRecord, Plan } from '../reconcile/index.js';
import type { DbClient } from './db.js';
import { applyModelPlan, deleteUnusedModels, usageByModel } from './model-plan.js';
import { mapLazily } from './rows.js';
import { columns, insertRows } from './sql.js';
import type { ApplyOutcome } from './types.js';

/**
 * `edge_device_models` has no version column: every model is at this version on both sides of the
 * plan, so a model is updated when its name moved (a live field).
 */
export const EDGE_MODEL_VERSION = 1;
export const EDGE_MODEL_FIELDS = ['name'] as const;

/**
 * The owner mark of the models `greengrass` writes: external_identifier = id (both are the
 * deploymentId; `emulate --seed-models` seeds AWS models the same way). Rows without it (Azure
 * models, the portal's own: NULL or another identifier) are never loaded, updated or deleted here.
 * Every statement below carries this condition, not just the load: a row whose mark was changed
 * meanwhile is left alone.
 */
const OWNED = 'edge_device_models.external_identifier = edge_device_models.id';

/** The models `greengrass` owns, as plan records (the description is the portal's: not compared). */
export async function loadOwnedEdgeModels(db: Knex): Promise<Map<string, CurrentRecord>> {
  const rows: Array<{ id: unknown; name: unknown }> = await db('edge_device_models').select('id', 'name').whereRaw(OWNED).orderBy('id');
  return new Map(rows.map((r) => [String(r.id), { key: String(r.id), version: EDGE_MODEL_VERSION, fields: { name: String(r.name) } }]));
}

/** The models `greengrass` does not own, by id, with their external identifier (null when none). */
export async function foreignEdgeModels(db: Knex): Promise<Map<string, string | null>> {
  const rows: Array<{ id: unknown; external_identifier: unknown }> = await db('edge_device_models')
    .select('id', 'external_identifier')
    .whereRaw(`NOT (${OWNED})`)
    .orWhereNull('external_identifier');
  return new Map(rows.map((r) => [String(r.id), r.external_identifier === null || r.external_identifier === undefined ? null : String(r.external_identifier)]));
}

/** How many edge devices use each edge device model, by model id (only models some edge device uses). */
export async function edgeDeviceCountsByModel(db: Knex): Promise<Map<string, number>> {
  return usageByModel(db, 'edge_devices');
}


/**
 * Applies a plan to `edge_device_models` inside `trx`. Creates insert (description null,
 * external_identifier = id) and never overwrite an existing row, owned or not; updates set the name
 * of owned rows only; deletes take owned rows that no edge device uses, both re-checked in SQL. What
 * the statements refused is a conflict.
 */
export function applyEdgeModelsPlan(trx: Knex.Transaction, plan: Plan, client: DbClient): Promise<ApplyOutcome> {
  return applyModelPlan(trx, plan, {
    insert: (db, batch) => insertModels(db, client, batch),
    update: updateModels,
    remove: (db, batch) => deleteUnusedModels(db, batch, { table: 'edge_device_models', owned: OWNED, users: 'edge_devices' }),
  });
}

const INSERT_COLUMNS = columns({ id: 'text', name: 'text', description: 'text', external_identifier: 'text' });

async function insertModels(db: Knex.Transaction, client: DbClient, batch: readonly DesiredRecord[]): Promise<string[]> {
  const rows = mapLazily(batch, (d) => [d.key, d.fields.name ?? null, null, d.key]);
  // DO NOTHING on a conflict: a row of that id (another writer's, or a model greengrass does not own) stays as it is.
  const returned = await insertRows(db, client, 'edge_device_models', INSERT_COLUMNS, rows, { upsert: { target: ['id'], set: {} }, returning: 'id' });
  return returned.map((r) => String(r.id));
}

/** Models are few (one per deployment): a statement per changed model is cheap and plain. */
async function updateModels(db: Knex.Transaction, batch: readonly DesiredRecord[]): Promise<string[]> {
  const done: string[] = [];
  for (const d of batch) {
    const n = await db('edge_device_models').where('id', d.key).whereRaw(OWNED).update({ name: d.fields.name });
    if (Number(n) > 0) done.push(d.key);
  }
  return done;
}
