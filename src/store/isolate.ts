import type { Knex } from 'knex';
import type { FailedRecord } from '../reconcile/index.js';

/**
 * Applies `items` with `write`, isolating the ones the database refuses: a batch that fails for a
 * reason tied to its data (a value too long, a constraint) is rolled back to a savepoint and retried
 * in halves, down to the single records that fail; those are reported with the database's message
 * and the rest is applied. Any other error (the database went away) is rethrown: the pass fails.
 * The fast path costs one savepoint for the whole batch.
 */
export async function writeIsolated<T, R>(
  trx: Knex.Transaction,
  items: readonly T[],
  keyOf: (item: T) => string,
  write: (db: Knex.Transaction, items: readonly T[]) => Promise<R>,
  describe: (error: unknown) => string,
): Promise<{ results: R[]; failed: FailedRecord[] }> {
  const results: R[] = [];
  const failed: FailedRecord[] = [];
  const attempt = async (batch: readonly T[]): Promise<void> => {
    if (batch.length === 0) return;
    try {
      results.push(await trx.transaction((savepoint) => write(savepoint, batch)));
    } catch (error) {
      if (!isDataError(error)) throw error;
      if (batch.length === 1) {
        failed.push({ key: keyOf(batch[0]!), error: `the database refused the row: ${describe(error)}` });
        return;
      }
      const half = Math.ceil(batch.length / 2);
      await attempt(batch.slice(0, half));
      await attempt(batch.slice(half));
    }
  };
  await attempt(items);
  return { results, failed };
}

/**
 * Errors caused by the rows themselves, which another row would not hit: PostgreSQL's data
 * exceptions (22xxx), integrity violations (23xxx) and program limits (54xxx: an index row too
 * large); SQLite's constraint, type, size and range errors.
 */
export function isDataError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return error instanceof RangeError;
  if (/^(22|23|54)[0-9A-Z]{3}$/.test(code)) return true;
  // A trigger's RAISE is a failure of the pass on both databases (PostgreSQL reports P0001).
  if (code === 'SQLITE_CONSTRAINT_TRIGGER') return false;
  return /^SQLITE_(CONSTRAINT|MISMATCH|TOOBIG|RANGE)/.test(code);
}
