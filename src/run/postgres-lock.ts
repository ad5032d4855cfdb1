/**
 * A PostgreSQL session advisory lock: protects runs across hosts and Kubernetes pods (a file lock
 * only protects runs that share one lock directory).
 *
 * The lock lives as long as the session: a killed run's connection goes, and so does its lock.
 * A dropped session while held is reported through `compromised()`, never by crashing.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { pgConnectionString } from '../store/db.js';
import { errorMessage } from './errors.js';
import { LockHeldError, type HeldLock, type LockInfo } from './lock.js';

export interface PostgresLockOptions {
  command: string;
  connectionString: string;
}

/**
 * The advisory lock key of a command: the first 8 bytes of sha256('portal-sync:' + command), as a
 * signed 64-bit integer in decimal (pass it as text and cast `::bigint`).
 */
export function advisoryLockKey(command: string): string {
  return createHash('sha256').update(`portal-sync:${command}`).digest().readBigInt64BE(0).toString();
}

/**
 * Finds the session holding the advisory lock `$1::bigint` in the current database.
 * pg_locks shows a single-bigint advisory key split in two: classid = high 32 bits, objid = low
 * 32 bits (both oid, i.e. unsigned), objsubid = 1 (2 is the two-int4-keys form).
 */
export const ADVISORY_HOLDER_SQL = `
SELECT a.pid, host(a.client_addr) AS client_addr, a.backend_start, a.application_name
  FROM pg_locks l
  JOIN pg_stat_activity a ON a.pid = l.pid
 WHERE l.locktype = 'advisory'
   AND l.granted
   AND l.objsubid = 1
   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
   AND ((l.classid::bigint << 32) | l.objid::bigint) = $1::bigint
 LIMIT 1`;

/** "host:port/database" of a connection string: never user or password. */
export function describePostgres(connectionString: string): string {
  try {
    const u = new URL(connectionString);
    const host = decodeURIComponent(u.hostname) || u.searchParams.get('host') || 'localhost';
    const port = u.port || '5432';
    const db = decodeURIComponent(u.pathname.replace(/^\//, '')) || '(default database)';
    return `${host}:${port}/${db}`;
  } catch {
    return 'the configured PostgreSQL database';
  }
}

function scrubber(connectionString: string): (text: string) => string {
  const secrets = new Set<string>([connectionString]);
  try {
    const u = new URL(connectionString);
    if (u.password) {
      secrets.add(u.password);
      try {
        secrets.add(decodeURIComponent(u.password));
      } catch {
        /* keep the raw form */
      }
    }
  } catch {
    /* not a URL: the whole string is already listed */
  }
  const list = [...secrets].filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
  return (text) => list.reduce((t, s) => t.split(s).join('***'), text);
}

interface HolderRow {
  pid: number;
  client_addr: string | null;
  backend_start: Date | null;
  application_name: string | null;
}

function holderInfo(command: string, row: HolderRow | undefined): LockInfo {
  if (!row) return { command, since: null, holder: null };
  let holder = `pid ${row.pid}`;
  if (row.application_name) holder += ` (${row.application_name})`;
  holder += row.client_addr ? ` from ${row.client_addr}` : ' from a local socket';
  return { command, since: row.backend_start ?? null, holder };
}

export async function acquirePostgresLock(opts: PostgresLockOptions): Promise<HeldLock> {
  const { command, connectionString } = opts;
  const where = describePostgres(connectionString);
  const scrub = scrubber(connectionString);
  const key = advisoryLockKey(command);

  const client = new pg.Client({
    connectionString: pgConnectionString(connectionString),
    application_name: `portal-sync ${command}`,
    connectionTimeoutMillis: 10_000,
    keepAlive: true,
  });

  let held = false;
  let releasing = false;
  let compromisedError: Error | null = null;
  const lost = (reason: string) => {
    if (held && !releasing) {
      compromisedError ??= new Error(
        `the PostgreSQL advisory lock of portal-sync ${command} on ${where} was lost while the pass was running: ${reason}`,
      );
    }
  };
  // Listeners go on before connect: an unhandled 'error' event would crash the process.
  client.on('error', (err) => lost(scrub(err.message)));
  client.on('end', () => lost('the connection was closed'));

  const fail = (what: string, err: unknown): Error =>
    new Error(`${what} PostgreSQL at ${where} for the portal-sync ${command} lock: ${scrub(errorMessage(err))}`, { cause: err });

  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw fail('cannot connect to', err);
  }

  try {
    let granted = false;
    let row: HolderRow | undefined;
    // Two rounds: the holder may release between our try and our look-up.
    for (let round = 0; round < 2 && !granted; round++) {
      const res = await client.query<{ granted: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS granted', [key]);
      granted = res.rows[0]?.granted === true;
      if (!granted) {
        row = (await client.query<HolderRow>(ADVISORY_HOLDER_SQL, [key])).rows[0];
        if (row) break;
      }
    }
    if (!granted) {
      await client.end().catch(() => undefined);
      throw new LockHeldError(holderInfo(command, row));
    }
    held = true;
  } catch (err) {
    if (err instanceof LockHeldError) throw err;
    await client.end().catch(() => undefined);
    throw fail('query failed on', err);
  }

  let released: Promise<void> | null = null;
  return {
    kind: 'postgres',
    compromised: () => compromisedError,
    release: () => {
      released ??= (async () => {
        releasing = true;
        try {
          if (!compromisedError) {
            await client.query('SELECT pg_advisory_unlock($1::bigint)', [key]);
          }
        } catch {
          // The session is going away anyway: ending it releases every session-level lock.
        } finally {
          held = false;
          await client.end().catch(() => undefined);
        }
      })();
      return released;
    },
  };
}
