import type { Knex } from 'knex';
import type { CurrentRecord, DesiredRecord, Plan } from '../reconcile/index.js';
import { driverMessage } from './db.js';
import { chunks } from './rows.js';
import { writeIsolated } from './isolate.js';
import type { ApplyOutcome } from './types.js';

/**
 * The statements of a model table (`device_models`, `edge_device_models`), each re-checking in SQL
 * what the plan assumed (ownership, no device using a model) and returning the ids it changed.
 */
export interface ModelStatements {
  insert(db: Knex.Transaction, batch: readonly DesiredRecord[]): Promise<string[]>;
  update(db: Knex.Transaction, batch: readonly DesiredRecord[]): Promise<string[]>;
  remove(db: Knex.Transaction, batch: readonly CurrentRecord[]): Promise<string[]>;
}

/**
 * Applies a model plan inside `trx` through `statements`: rows the database refuses are isolated
 * and reported as failed, and what a statement's re-check refused is a conflict.
 */
export async function applyModelPlan(trx: Knex.Transaction, plan: Plan, statements: ModelStatements): Promise<ApplyOutcome> {
  const describe = (error: unknown) => driverMessage(error);
  const keyOf = (r: { readonly key: string }) => r.key;
  const updates = plan.update.map((u) => u.desired);
  const inserted = await writeIsolated(trx, plan.create, keyOf, statements.insert, describe);
  const updated = await writeIsolated(trx, updates, keyOf, statements.update, describe);
  const removed = await writeIsolated(trx, plan.delete, keyOf, statements.remove, describe);
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

/** How many rows of `table` (devices, edge_devices) use each model, by model id (only models in use). */
export async function usageByModel(db: Knex, table: 'devices' | 'edge_devices'): Promise<Map<string, number>> {
  const rows: Array<{ id: unknown; n: unknown }> = await db(table).select({ id: 'device_model_id' }).count({ n: '*' }).groupBy('device_model_id');
  return new Map(rows.map((r) => [String(r.id), Number(r.n)]));
}

const DELETE_CHUNK = 500;

/**
 * Deletes the models of `batch` whose row is still `owned` (an SQL condition on the model's row) and
 * that no row of `users` uses, both re-checked in the statement: a device added meanwhile keeps its
 * model. Returns the ids deleted.
 */
export async function deleteUnusedModels(
  db: Knex.Transaction,
  batch: readonly CurrentRecord[],
  models: { readonly table: 'device_models' | 'edge_device_models'; readonly owned: string; readonly users: 'devices' | 'edge_devices' },
): Promise<string[]> {
  const { table, owned, users } = models;
  const done: string[] = [];
  for (const chunk of chunks(batch.map((c) => c.key), DELETE_CHUNK)) {
    const sql =
      `DELETE FROM ${table} WHERE id IN (${chunk.map(() => '?').join(', ')}) AND ${owned} ` +
      `AND NOT EXISTS (SELECT 1 FROM ${users} WHERE ${users}.device_model_id = ${table}.id) RETURNING id`;
    const result = (await db.raw(sql, chunk)) as unknown;
    // better-sqlite3 gives the rows, pg a result holding them.
    const rows = (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as Array<{ id: unknown }>;
    done.push(...rows.map((r) => String(r.id)));
  }
  return done;
}
