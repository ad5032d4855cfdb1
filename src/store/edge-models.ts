import type { Knex } from 'knex';
import type { CurrentRecord, DesiredRecord, Plan } from '../reconcile/index.js';
import { driverMessage, type DbClient } from './db.js';
import { writeIsolated } from './isolate.js';
import { chunks, mapLazily } from './rows.js';
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
  const rows: Array<{ id: unknown; n: unknown }> = await db('edge_devices').select({ id: 'device_model_id' }).count({ n: '*' }).groupBy('device_model_id');
  return new Map(rows.map((r) => [String(r.id), Number(r.n)]));
}

const DELETE_CHUNK = 500;

/**
 * Applies a plan to `edge_device_models` inside `trx`. Creates insert (description null,
 * external_identifier = id) and never overwrite an existing row, owned or not; updates set the name
 * of owned rows only; deletes take owned rows that no edge device uses, both re-checked in SQL. What
 * the statements refused is a conflict.
 */
export async function applyEdgeModelsPlan(trx: Knex.Transaction, plan: Plan, client: DbClient): Promise<ApplyOutcome> {
  const describe = (error: unknown) => driverMessage(error);
  const keyOf = (r: { readonly key: string }) => r.key;
  const inserted = await writeIsolated(trx, plan.create, keyOf, (db, batch) => insertModels(db, client, batch), describe);
  const updates = plan.update.map((u) => u.desired);
  const updated = await writeIsolated(trx, updates, keyOf, (db, batch) => updateModels(db, batch), describe);
  const removed = await writeIsolated(trx, plan.delete, keyOf, (db, batch) => deleteUnusedModels(db, batch), describe);
  const created = new Set(inserted.results.flat());
  const changed = new Set(updated.results.flat());
  const deleted = new Set(removed.results.flat());
  const failed = [...inserted.failed, ...updated.failed, ...removed.failed];
  const failedKeys = new Set(failed.map((f) => f.key));
  const refused = (key: string, done: ReadonlySet<string>) => !done.has(key) && !failedKeys.has(key);
  return {
    created: plan.create.map(keyOf).filter((k) => created.has(k)),
    updated: updates.map(keyOf).filter((k) => changed.has(k)),
    deleted: plan.delete.map(keyOf).filter((k) => deleted.has(k)),
    conflicts: [
      ...plan.create.map(keyOf).filter((k) => refused(k, created)),
      ...updates.map(keyOf).filter((k) => refused(k, changed)),
      ...plan.delete.map(keyOf).filter((k) => refused(k, deleted)),
    ],
    failed,
  };
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

async function deleteUnusedModels(db: Knex.Transaction, batch: readonly CurrentRecord[]): Promise<string[]> {
  const done: string[] = [];
  for (const chunk of chunks(batch.map((c) => c.key), DELETE_CHUNK)) {
    const sql =
      `DELETE FROM edge_device_models WHERE id IN (${chunk.map(() => '?').join(', ')}) AND ${OWNED} ` +
      'AND NOT EXISTS (SELECT 1 FROM edge_devices WHERE edge_devices.device_model_id = edge_device_models.id) RETURNING id';
    const result = (await db.raw(sql, chunk)) as unknown;
    // better-sqlite3 gives the rows, pg a result holding them.
    const rows = (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as Array<{ id: unknown }>;
    done.push(...rows.map((r) => String(r.id)));
  }
  return done;
}
