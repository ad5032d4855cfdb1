import type { Knex } from 'knex';
import type { CurrentRecord, Plan } from '../reconcile/index.js';
import type { DbClient } from './db.js';
import { chunks } from './rows.js';
import { columns, insertRows } from './sql.js';
import type { ApplyOutcome } from './types.js';

/** A gateway id has no version and no fields: the set is the data. */
export const GATEWAY_VERSION = 0;

export async function loadGatewayIds(db: Knex): Promise<Map<string, CurrentRecord>> {
  const ids = (await db('lora_gateway_ids').pluck('id')) as string[];
  return new Map(ids.map((id) => [id, { key: id, version: GATEWAY_VERSION, fields: {} }]));
}

/** Replaces the set: inserts the new ids and deletes the gone ones, in the caller's transaction. */
export async function applyGatewayIdsPlan(trx: Knex.Transaction, plan: Plan, client: DbClient): Promise<ApplyOutcome> {
  const inserted = await insertRows(
    trx,
    client,
    'lora_gateway_ids',
    columns({ id: 'text' }),
    plan.create.map((c) => [c.key]),
    { upsert: { target: ['id'], set: {}, where: undefined }, returning: 'id' },
  );
  let deleted = 0;
  for (const chunk of chunks(plan.delete.map((d) => d.key), 500)) deleted += await trx('lora_gateway_ids').whereIn('id', chunk).del();
  return { created: inserted.length, updated: 0, deleted, conflicts: [] };
}

export async function listGatewayIds(db: Knex): Promise<string[]> {
  return ((await db('lora_gateway_ids').pluck('id')) as string[]).sort();
}
