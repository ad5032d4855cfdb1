import type { Knex } from 'knex';
import type { CurrentRecord, DesiredRecord, Plan } from '../reconcile/index.js';
import type { DbClient } from './db.js';
import { applyModelPlan, deleteUnusedModels, usageByModel } from './model-plan.js';
import { mapLazily } from './rows.js';
import { columns, insertRows } from './sql.js';
import type { ApplyOutcome } from './types.js';

/**
 * `device_models` has no version column: every model is at this version, on both sides of the
 * plan, so a model is updated when its name or description moved (both are live fields).
 */
export const DEVICE_MODEL_VERSION = 1;
export const DEVICE_MODEL_FIELDS = ['name', 'description'] as const;

/**
 * Ownership (migration 004): `thing_type_name` is set on the models `thing-types` wrote, and only
 * those are its own. The others (the Azure fleet's, the portal's own, NULL there) it never loads,
 * updates or deletes; it adopts one only by creating a model of the same id (see insertModels).
 * The model's name is its type's name, so the owner mark written is the desired name.
 */
const OWNED = 'thing_type_name IS NOT NULL';

/** `thing-types`' device models as plan records (support_lora_features is the portal's own: not compared). */
export async function loadCurrentDeviceModels(db: Knex): Promise<Map<string, CurrentRecord>> {
  const rows: Array<{ id: unknown; name: unknown; description: unknown }> = await db('device_models')
    .select('id', 'name', 'description')
    .whereNotNull('thing_type_name')
    .orderBy('id');
  return new Map(
    rows.map((r) => [
      String(r.id),
      {
        key: String(r.id),
        version: DEVICE_MODEL_VERSION,
        fields: { name: String(r.name), description: r.description === null || r.description === undefined ? null : String(r.description) },
      },
    ]),
  );
}

/** Ids of the models no command owns (thing_type_name NULL): a create of one of these ids adopts the row. */
export async function unownedDeviceModelIds(db: Knex): Promise<Set<string>> {
  return new Set(((await db('device_models').whereNull('thing_type_name').pluck('id')) as unknown[]).map(String));
}

/** How many devices use each model, by model id (only models that some device uses). */
export async function deviceCountsByModel(db: Knex): Promise<Map<string, number>> {
  return usageByModel(db, 'devices');
}


/**
 * Applies a plan to `device_models` inside `trx`, to `thing-types`' own rows only, each statement
 * re-checking ownership in SQL. Creates insert with support_lora_features false, or adopt an
 * unowned row of the same id (reported as created: see insertModels), and never overwrite a row
 * another writer owns; updates touch name, description and the owner mark only (the portal's LoRa
 * flag stays as its users set it); deletes re-check in SQL that no device uses the model, so a
 * device added meanwhile keeps it. What the statements refused is a conflict.
 */
export function applyDeviceModelsPlan(trx: Knex.Transaction, plan: Plan, client: DbClient): Promise<ApplyOutcome> {
  return applyModelPlan(trx, plan, {
    insert: (db, batch) => insertModels(db, client, batch),
    update: updateModels,
    remove: (db, batch) => deleteUnusedModels(db, batch, { table: 'device_models', owned: OWNED, users: 'devices' }),
  });
}

const INSERT_COLUMNS = columns({ id: 'text', name: 'text', description: 'text', support_lora_features: 'boolean', thing_type_name: 'text' });

/**
 * Adoption: a row of the same id that no command owns (seeded by `emulate --seed-models`, or written
 * by the portal before models had an owner) is the same model, thingTypeIds being AWS-generated, so
 * the insert takes it over: name, description and the owner mark are set, the LoRa flag is left as
 * it is. It counts as created: the plan had it as a create (the pass never loaded the row), and from
 * now on the model is one of `thing-types`' own (the pass's listing warns of it, see the command).
 * A row another writer owns, or took meanwhile, is left as it is: a conflict.
 */
const ADOPT = {
  target: ['id'],
  set: { name: 'excluded."name"', description: 'excluded."description"', thing_type_name: 'excluded."thing_type_name"' },
  where: '"device_models"."thing_type_name" IS NULL',
};

async function insertModels(db: Knex.Transaction, client: DbClient, batch: readonly DesiredRecord[]): Promise<string[]> {
  const rows = mapLazily(batch, (d) => [d.key, d.fields.name ?? null, d.fields.description ?? null, false, d.fields.name ?? null]);
  const returned = await insertRows(db, client, 'device_models', INSERT_COLUMNS, rows, { upsert: ADOPT, returning: 'id' });
  return returned.map((r) => String(r.id));
}

/**
 * Models are few (one per thing type): a statement per changed model is cheap and plain. The owner
 * mark follows the name (a renamed type keeps its id); a row that lost its owner meanwhile is not ours.
 */
async function updateModels(db: Knex.Transaction, batch: readonly DesiredRecord[]): Promise<string[]> {
  const done: string[] = [];
  for (const d of batch) {
    const n = await db('device_models')
      .where('id', d.key)
      .whereRaw(OWNED)
      .update({ name: d.fields.name, description: d.fields.description ?? null, thing_type_name: d.fields.name });
    if (Number(n) > 0) done.push(d.key);
  }
  return done;
}
