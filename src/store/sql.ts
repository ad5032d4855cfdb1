import type { Knex } from 'knex';
import type { Scalar } from '../reconcile/index.js';
import type { DbClient } from './db.js';

/** SQLite takes at most 32,766 bound parameters per statement; stay under it with room to spare. */
const MAX_PARAMETERS = 30_000;

export interface Upsert {
  /** Conflict target, e.g. ['id']. */
  readonly target: readonly string[];
  /** Column -> SQL expression, e.g. `excluded."name"`; none means DO NOTHING. */
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

/** A column of a bulk insert; PostgreSQL needs its type to receive the column as one typed array. */
export interface Column {
  readonly name: string;
  readonly pgType: 'text' | 'bigint' | 'integer' | 'double precision' | 'boolean' | 'timestamptz';
}

export function columns(spec: Readonly<Record<string, Column['pgType']>>): Column[] {
  return Object.entries(spec).map(([name, pgType]) => ({ name, pgType }));
}

/** Rows per PostgreSQL statement: one array parameter per column, so only memory bounds it. */
const PG_ROWS_PER_STATEMENT = 10_000;

/**
 * Bulk INSERT [ON CONFLICT ... DO UPDATE ... WHERE ...] [RETURNING ...], a statement per chunk of rows.
 * SQLite gets VALUES (...), (...) under its parameter limit (knex's own SQLite multi-row insert is a
 * UNION ALL of SELECTs, capped at 500 terms); PostgreSQL gets one typed array per column through
 * unnest(), which it plans once instead of parsing thousands of placeholders.
 */
export async function insertRows(
  db: Knex | Knex.Transaction,
  client: DbClient,
  table: string,
  cols: readonly Column[],
  rows: Iterable<readonly Scalar[]>,
  options: InsertOptions = {},
): Promise<Array<Record<string, unknown>>> {
  const returned: Array<Record<string, unknown>> = [];
  const names = cols.map((c) => quote(c.name)).join(', ');
  let tail = '';
  if (options.upsert) {
    const { target, set, where } = options.upsert;
    const assignments = Object.entries(set).map(([column, expr]) => `${quote(column)} = ${expr}`);
    tail += ` ON CONFLICT (${target.map(quote).join(', ')})`;
    tail += assignments.length === 0 ? ' DO NOTHING' : ` DO UPDATE SET ${assignments.join(', ')}`;
    if (where && assignments.length > 0) tail += ` WHERE ${where}`;
  }
  if (options.returning) tail += ` RETURNING ${quote(options.returning)}`;
  const run = async (sql: string, bindings: unknown[]) => {
    const result = (await db.raw(sql, bindings as Knex.RawBinding[])) as unknown;
    if (options.returning) returned.push(...resultRows(result));
  };

  if (client === 'postgres') {
    const sql =
      `INSERT INTO ${quote(table)} (${names}) SELECT * FROM unnest(${cols.map((c) => `?::${c.pgType}[]`).join(', ')})` + tail;
    let arrays: Scalar[][] = cols.map(() => []);
    let count = 0;
    for (const row of rows) {
      row.forEach((value, i) => arrays[i]!.push(value));
      if (++count === PG_ROWS_PER_STATEMENT) {
        await run(sql, arrays);
        arrays = cols.map(() => []);
        count = 0;
      }
    }
    if (count > 0) await run(sql, arrays);
    return returned;
  }

  const direct = await sqliteStatements(db);
  const perRow = `(${cols.map(() => '?').join(', ')})`;
  const head = `INSERT INTO ${quote(table)} (${names}) VALUES `;
  const rowsPerStatement = Math.max(1, Math.floor(MAX_PARAMETERS / cols.length));
  const sqlByCount = new Map<number, string>();
  // Rows are consumed lazily, a statement at a time: a large pass never holds all its bindings at once.
  let bindings: Scalar[] = [];
  let count = 0;
  const flush = async () => {
    let sql = sqlByCount.get(count);
    if (!sql) sqlByCount.set(count, (sql = head + new Array<string>(count).fill(perRow).join(', ') + tail));
    if (direct) {
      const rows = direct(sql, bindings);
      if (options.returning) returned.push(...rows);
    } else await run(sql, bindings);
    bindings = [];
    count = 0;
  };
  for (const row of rows) {
    // better-sqlite3 binds no booleans.
    for (const value of row) bindings.push(typeof value === 'boolean' ? (value ? 1 : 0) : value);
    if (++count === rowsPerStatement) await flush();
  }
  if (count > 0) await flush();
  return returned;
}

/** What knex's better-sqlite3 connection offers: prepared statements. */
interface SqliteStatement {
  readonly reader: boolean;
  run(bindings: readonly unknown[]): unknown;
  all(bindings: readonly unknown[]): Array<Record<string, unknown>>;
}
interface SqliteConnection {
  prepare(sql: string): SqliteStatement;
}

const MAX_PREPARED = 32;
const prepared = new WeakMap<SqliteConnection, Map<string, SqliteStatement>>();

/**
 * Inside a transaction on SQLite, bulk statements go to the transaction's better-sqlite3 connection
 * as cached prepared statements: knex would parse every statement again and rewrite its tens of
 * thousands of placeholders one by one, which cost more than SQLite's own work on the rows.
 */
async function sqliteStatements(db: Knex | Knex.Transaction): Promise<((sql: string, bindings: readonly Scalar[]) => Array<Record<string, unknown>>) | null> {
  if (!('isTransaction' in db) || db.isTransaction !== true) return null;
  const conn = (await (db.client as { acquireConnection(): Promise<unknown> }).acquireConnection()) as SqliteConnection;
  let cache = prepared.get(conn);
  if (!cache) prepared.set(conn, (cache = new Map()));
  return (sql, bindings) => {
    let statement = cache.get(sql);
    if (!statement) {
      // The last chunk of each insert has a size of its own: keep the cache from growing with them.
      if (cache.size >= MAX_PREPARED) cache.clear();
      cache.set(sql, (statement = conn.prepare(sql)));
    }
    // An array binds as the statement's anonymous parameters, in order.
    if (statement.reader) return statement.all(bindings);
    statement.run(bindings);
    return [];
  };
}

function resultRows(result: unknown): Array<Record<string, unknown>> {
  if (Array.isArray(result)) return result as Array<Record<string, unknown>>;
  const rows = (result as { rows?: unknown })?.rows;
  return Array.isArray(rows) ? (rows as Array<Record<string, unknown>>) : [];
}

/** Rows per DELETE on SQLite: two parameters a row, far under its limit. */
const DELETE_CHUNK = 500;

/**
 * DELETE ... RETURNING id, by id and, with `checkVersion`, only where the row is still at the version
 * the plan read (a row another writer changed meanwhile is kept), and where `where` holds (the
 * caller's own rows, owners.ts). Returns the ids deleted.
 */
export async function deleteRows(
  db: Knex | Knex.Transaction,
  client: DbClient,
  table: string,
  rows: ReadonlyArray<{ readonly key: string; readonly version: number }>,
  options: { readonly checkVersion: boolean; readonly where?: string | undefined },
): Promise<string[]> {
  const deleted: string[] = [];
  const t = quote(table);
  const keys = options.checkVersion ? '(id, version)' : 'id';
  const also = options.where ? ` AND ${options.where}` : '';
  if (client === 'postgres') {
    if (rows.length === 0) return deleted;
    const source = options.checkVersion ? 'SELECT * FROM unnest(?::text[], ?::bigint[])' : 'SELECT unnest(?::text[])';
    const bindings = options.checkVersion ? [rows.map((r) => r.key), rows.map((r) => r.version)] : [rows.map((r) => r.key)];
    const result = (await db.raw(`DELETE FROM ${t} WHERE ${keys} IN (${source})${also} RETURNING id`, bindings)) as { rows: Array<{ id: unknown }> };
    for (const row of result.rows) deleted.push(String(row.id));
    return deleted;
  }
  for (let i = 0; i < rows.length; i += DELETE_CHUNK) {
    const chunk = rows.slice(i, i + DELETE_CHUNK);
    const values = chunk.map(() => (options.checkVersion ? '(?, ?)' : '(?)')).join(', ');
    const bindings = chunk.flatMap((r) => (options.checkVersion ? [r.key, r.version] : [r.key]));
    const result = (await db.raw(`DELETE FROM ${t} WHERE ${keys} IN (VALUES ${values})${also} RETURNING id`, bindings)) as Array<{ id: unknown }>;
    for (const row of result) deleted.push(String(row.id));
  }
  return deleted;
}

/** `a IS DISTINCT FROM b`, which SQLite spells `IS NOT`. */
export function distinctFrom(client: DbClient, a: string, b: string): string {
  return client === 'sqlite' ? `${a} IS NOT ${b}` : `${a} IS DISTINCT FROM ${b}`;
}
