import type { Knex } from 'knex';
import type { Scalar } from '../reconcile/index.js';
import type { DbClient } from './db.js';

/** SQLite takes at most 32,766 bound parameters per statement; stay under it with room to spare. */
const MAX_PARAMETERS = 30_000;

export interface Upsert {
  /** Conflict target, e.g. ['id']. */
  readonly target: readonly string[];
  /** Column -> SQL expression, e.g. `excluded."name"`. */
  readonly set: Readonly<Record<string, string>>;
  /** Only update when this holds (the version re-check). */
  readonly where?: string;
}

export interface InsertOptions {
  readonly upsert?: Upsert;
  readonly returning?: string;
}

export function quote(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}

/**
 * Multi-row INSERT ... VALUES (...), (...) [ON CONFLICT ... DO UPDATE ... WHERE ...] [RETURNING ...],
 * chunked under the parameter limit. The same SQL runs on SQLite and PostgreSQL; knex's own
 * SQLite multi-row insert is a UNION ALL of SELECTs, capped at 500 terms.
 */
export async function insertRows(
  db: Knex | Knex.Transaction,
  client: DbClient,
  table: string,
  columns: readonly string[],
  rows: Iterable<readonly Scalar[]>,
  options: InsertOptions = {},
): Promise<Array<Record<string, unknown>>> {
  const returned: Array<Record<string, unknown>> = [];
  const perRow = `(${columns.map(() => '?').join(', ')})`;
  let tail = '';
  if (options.upsert) {
    const { target, set, where } = options.upsert;
    const assignments = Object.entries(set).map(([column, expr]) => `${quote(column)} = ${expr}`);
    tail += ` ON CONFLICT (${target.map(quote).join(', ')}) DO UPDATE SET ${assignments.join(', ')}`;
    if (where) tail += ` WHERE ${where}`;
  }
  if (options.returning) tail += ` RETURNING ${quote(options.returning)}`;
  const head = `INSERT INTO ${quote(table)} (${columns.map(quote).join(', ')}) VALUES `;
  const rowsPerStatement = Math.max(1, Math.floor(MAX_PARAMETERS / columns.length));
  const sqlByCount = new Map<number, string>();
  const sqliteBooleans = client === 'sqlite';

  // Rows are consumed lazily, a statement at a time: a large pass never holds all its bindings at once.
  let bindings: Scalar[] = [];
  let count = 0;
  const flush = async () => {
    if (count === 0) return;
    let sql = sqlByCount.get(count);
    if (!sql) sqlByCount.set(count, (sql = head + new Array<string>(count).fill(perRow).join(', ') + tail));
    const result = (await db.raw(sql, bindings)) as unknown;
    if (options.returning) returned.push(...resultRows(result));
    bindings = [];
    count = 0;
  };
  for (const row of rows) {
    for (const value of row) bindings.push(sqliteBooleans && typeof value === 'boolean' ? (value ? 1 : 0) : value);
    if (++count === rowsPerStatement) await flush();
  }
  await flush();
  return returned;
}

function resultRows(result: unknown): Array<Record<string, unknown>> {
  if (Array.isArray(result)) return result as Array<Record<string, unknown>>;
  const rows = (result as { rows?: unknown })?.rows;
  return Array.isArray(rows) ? (rows as Array<Record<string, unknown>>) : [];
}

/** `a IS DISTINCT FROM b`, which SQLite spells `IS NOT`. */
export function distinctFrom(client: DbClient, a: string, b: string): string {
  return client === 'sqlite' ? `${a} IS NOT ${b}` : `${a} IS DISTINCT FROM ${b}`;
}
