import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { dirname, resolve } from 'node:path';
import { ensureDir } from './ensure-dir.js';

// COUNT(*) and bigint columns (versions) come back from pg as strings; they fit a double in practice.
pg.types.setTypeParser(20, (value) => Number(value));

export type DbClient = 'sqlite' | 'postgres';

export interface DbTarget {
  readonly client: DbClient;
  /** As given by the user; may hold a password: never print it, print `display`. */
  readonly url: string;
  readonly display: string;
  readonly filename?: string;
}

export class DbUrlError extends Error {}

export const DEFAULT_DB_URL = 'sqlite:./portal-sync.db';

/**
 * `sqlite:<path>` (relative to the current folder, or absolute), `sqlite:///abs/path.db` (the same
 * absolute path, as file URLs write it), `sqlite::memory:`, `postgres://...` or `postgresql://...`.
 * `source` names where the value came from (`--db`, `PORTAL_SYNC_DB`...) in the error.
 */
export function parseDbUrl(url: string, source = '--db'): DbTarget {
  if (url.startsWith('sqlite:')) {
    const path = sqlitePath(url, source);
    const filename = path === ':memory:' ? ':memory:' : resolve(path);
    return { client: 'sqlite', url, display: `sqlite:${path}`, filename };
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new DbUrlError(`${source} is not a valid postgres:// URL, got "${maskPassword(url)}"`);
    }
    return { client: 'postgres', url, display: redactUrl(parsed) };
  }
  const hint = /^[a-z][a-z0-9+.-]*:/i.test(url) ? '' : ` (did you mean sqlite:${url}?)`;
  throw new DbUrlError(`${source} must be sqlite:<path> or postgres://..., got "${maskPassword(url)}"${hint}`);
}

function sqlitePath(url: string, source: string): string {
  const rest = url.slice('sqlite:'.length);
  if (rest.startsWith('//')) {
    const after = rest.slice(2);
    if (after.startsWith('/')) return after;
    // `sqlite://./gen.db` once became `/gen.db`: a host part has no meaning for a file, so say what works.
    const relative = after === '' ? './portal-sync.db' : after;
    throw new DbUrlError(
      `${source} "${maskPassword(url)}" has a host part (sqlite://<host>/...), which a SQLite file cannot have: ` +
        `write sqlite:${relative} (a path relative to the current folder) or sqlite:///abs/path.db (an absolute path)`,
    );
  }
  if (rest === '') throw new DbUrlError(`${source} sqlite: needs a file path, e.g. sqlite:./portal-sync.db`);
  return rest;
}

/** A value as typed, fit to quote in an error: the password of anything URL-like masked. */
function maskPassword(value: string): string {
  // Greedy up to the last `@`: an unencoded `@` or `/` in the password must not leave part of it shown.
  const match = /^([a-z][a-z0-9+.-]*:\/\/)(.*)@/is.exec(value);
  if (!match || !match[2]!.includes(':')) return value;
  return `${match[1]}${match[2]!.split(':')[0]}:***@${value.slice(match[0].length)}`;
}

/** A URL with user and password removed, for output. */
export function redactUrl(url: URL): string {
  const copy = new URL(url.href);
  copy.username = '';
  copy.password = '';
  copy.search = '';
  return copy.href;
}

const SQL_PREFIXED = Symbol('portal-sync.sqlPrefixed');

export interface OpenOptions {
  /** Make the SQLite file's folder when missing (passes and `migrate` do; read-only commands do not). Default true. */
  readonly createFolder?: boolean;
  /** Open SQLite read-only: a file that does not exist fails instead of being created. Default false. */
  readonly readOnly?: boolean;
}

export function openKnex(target: DbTarget, options: OpenOptions = {}): Knex {
  const knex = createKnex(target, options);
  // knex prefixes a failed statement's SQL to the driver's message; flag it so output can drop it.
  knex.on('query-error', (error: unknown) => {
    if (error && typeof error === 'object') (error as Record<symbol, boolean>)[SQL_PREFIXED] = true;
  });
  return knex;
}

/** knex's own console output (stack traces of pool errors) would bypass --log-format; every failure reaches the result instead. */
const quiet = { warn() {}, error() {}, deprecate() {}, debug() {} };

function createKnex(target: DbTarget, options: OpenOptions): Knex {
  if (target.client === 'sqlite') {
    const memory = target.filename === ':memory:';
    if (!memory && options.createFolder !== false) ensureDir(dirname(target.filename!));
    // better-sqlite3 refuses a read-only in-memory database; one is empty anyway.
    const readOnly = options.readOnly === true && !memory;
    return knexFactory({
      client: 'better-sqlite3',
      log: quiet,
      connection: { filename: target.filename!, options: { readonly: readOnly } },
      useNullAsDefault: true,
      // Never interpolate values (LoRa keys...) into error messages.
      compileSqlOnError: false,
      pool: {
        min: 1,
        max: 1,
        afterCreate(conn: { pragma(sql: string): unknown }, done: (err: Error | null, conn: unknown) => void) {
          // Setting the journal mode writes to the file; a read-only reader takes the file as it is.
          if (!readOnly) {
            conn.pragma('journal_mode = WAL');
            conn.pragma('synchronous = NORMAL');
          }
          conn.pragma('foreign_keys = ON');
          conn.pragma('busy_timeout = 5000');
          done(null, conn);
        },
      },
    });
  }
  return knexFactory({
    client: 'pg',
    log: quiet,
    // A blackholed server must fail the pass in seconds, not hang a cron slot.
    connection: { connectionString: pgConnectionString(target.url), application_name: 'portal-sync', connectionTimeoutMillis: 10_000 },
    acquireConnectionTimeout: 15_000,
    compileSqlOnError: false,
    pool: { min: 0, max: 4 },
  });
}

/**
 * A database error for output: the driver's own words, without the SQL knex put in front of them
 * (statements can be long) and without the connection string (it can hold a password).
 */
export function describeDbError(target: DbTarget, error: unknown): string {
  return driverMessage(error).split(target.url).join(target.display);
}

/** The driver's own words for a failed statement, without the SQL knex put in front of them. */
export function driverMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (error && typeof error === 'object' && (error as Record<symbol, boolean>)[SQL_PREFIXED]) {
    const at = message.indexOf(' - ');
    if (at >= 0) return message.slice(at + 3);
  }
  return message;
}

/** Which of the two databases a knex handle talks to. */
export function clientOf(db: Knex | Knex.Transaction): DbClient {
  const name = (db.client as { config?: { client?: unknown } }).config?.client;
  return name === 'better-sqlite3' ? 'sqlite' : 'postgres';
}

/**
 * The database as a `--db` value someone can copy into a command: the user and everything else kept,
 * the password masked (`postgres://portal:***@db/portal?sslmode=require`). For hints, never for logs
 * of the password itself.
 */
export function copyableDbUrl(target: DbTarget): string {
  if (target.client === 'sqlite') return target.display;
  try {
    const url = new URL(target.url);
    if (url.password) url.password = '***';
    return url.href;
  } catch {
    return target.display;
  }
}

/**
 * The connection string as pg should read it. pg 8 treats `sslmode=prefer|require|verify-ca` as
 * `verify-full` and prints a multi-line SECURITY WARNING saying so on every run; naming
 * `verify-full` keeps exactly that behaviour (the server's certificate is verified) without the
 * warning. Whoever wants libpq's weaker meaning asks for it with `uselibpqcompat=true`, left as is.
 */
export function pgConnectionString(url: string): string {
  try {
    const parsed = new URL(url);
    const mode = parsed.searchParams.get('sslmode');
    if (parsed.searchParams.has('uselibpqcompat') || (mode !== 'prefer' && mode !== 'require' && mode !== 'verify-ca')) return url;
    parsed.searchParams.set('sslmode', 'verify-full');
    return parsed.href;
  } catch {
    return url;
  }
}
