import type { Knex } from 'knex';
import type { CurrentRecord, DesiredRecord, Plan } from '../reconcile/index.js';
import { driverMessage, type DbClient } from './db.js';
import { writeIsolated } from './isolate.js';
import { declaredColumns, valueProblem } from './schema.js';
import { deleteRows, insertRows } from './sql.js';
import type { ApplyOutcome } from './types.js';

/** A gateway id has no version and no fields: the set is the data. */
export const GATEWAY_VERSION = 0;

const GATEWAY_TABLE = declaredColumns('lora_gateway_ids', ['id']);

export async function loadGatewayIds(db: Knex): Promise<Map<string, CurrentRecord>> {
  const ids = (await db('lora_gateway_ids').pluck('id')) as string[];
  return new Map(ids.map((id) => [id, { key: id, version: GATEWAY_VERSION, fields: {} }]));
}

/** Why a gateway id cannot be stored, or null. */
export function gatewayIdProblem(record: DesiredRecord): string | null {
  const problem = valueProblem(GATEWAY_TABLE[0]!.spec, record.key);
  return problem ? `deviceId ${problem}` : null;
}

/** Replaces the set: inserts the new ids and deletes the gone ones, in the caller's transaction. */
export async function applyGatewayIdsPlan(trx: Knex.Transaction, plan: Plan, client: DbClient): Promise<ApplyOutcome> {
  const keyOf = (r: { key: string }) => r.key;
  const inserted = await writeIsolated(
    trx,
    plan.create,
    keyOf,
    async (db, batch) =>
      (await insertRows(db, client, 'lora_gateway_ids', GATEWAY_TABLE, batch.map((c) => [c.key]), { upsert: { target: ['id'], set: {} }, returning: 'id' })).map(
        (r) => String(r.id),
      ),
    driverMessage,
  );
  const removed = await writeIsolated(
    trx,
    plan.delete,
    keyOf,
    (db, batch) => deleteRows(db, client, 'lora_gateway_ids', batch, { checkVersion: false }),
    driverMessage,
  );
  const created = inserted.results.flat();
  const deleted = removed.results.flat();
  const createdSet = new Set(created);
  const deletedSet = new Set(deleted);
  const failed = [...inserted.failed, ...removed.failed];
  const failedKeys = new Set(failed.map(keyOf));
  // An id another writer added or removed meanwhile is already as this pass wants it: a conflict, counted once.
  const conflicts = [
    ...plan.create.filter((c) => !createdSet.has(c.key) && !failedKeys.has(c.key)),
    ...plan.delete.filter((d) => !deletedSet.has(d.key) && !failedKeys.has(d.key)),
  ].map(keyOf);
  return { created, updated: [], deleted, conflicts, failed };
}

export async function listGatewayIds(db: Knex): Promise<string[]> {
  return ((await db('lora_gateway_ids').pluck('id')) as string[]).sort();
}
