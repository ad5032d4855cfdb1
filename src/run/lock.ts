/**
 * One lock per command: a pass of `portal-sync <command>` never runs twice at the same time.
 *
 * Two flavours share one interface (`HeldLock`):
 *  - a file lock (proper-lockfile) in a lock directory: protects runs on one host / one volume;
 *  - a PostgreSQL session advisory lock: protects runs across hosts and Kubernetes pods.
 *
 * A lock that is held by someone else surfaces as `LockHeldError` (the CLI maps it to exit 75).
 * A lock that is lost while held (lock directory removed, mtime taken over, database connection
 * dropped) never kills the process: `compromised()` returns the error, and the pass checks it
 * right before committing and aborts.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import lockfile, { type LockOptions } from 'proper-lockfile';
import pg from 'pg';

export interface LockInfo {
  command: string;
  since: Date | null;
  /** e.g. "pid 123 on host x" or "pid 4711 (portal-sync devices) from 10.0.0.7" */
  holder: string | null;
}

export class LockHeldError extends Error {
  override readonly name = 'LockHeldError';
  constructor(public readonly info: LockInfo) {
    super(lockHeldMessage(info));
  }
}

export interface HeldLock {
  readonly kind: 'file' | 'postgres';
  /** null while the lock is still ours; the reason once it was lost. */
  compromised(): Error | null;
  /** Idempotent. */
  release(): Promise<void>;
}

function lockHeldMessage(info: LockInfo): string {
  let detail = 'lock held';
  if (info.since) detail += ` since ${info.since.toISOString()}`;
  if (info.holder) detail += ` by ${info.holder}`;
  return `portal-sync ${info.command} is already running (${detail}); try again later`;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

// ---------------------------------------------------------------------------------------------
// File lock
// ---------------------------------------------------------------------------------------------

interface OwnerRecord {
  pid: number;
  hostname: string;
  since: string;
}

export interface FileLockOptions {
  command: string;
  lockDir: string;
  /** proper-lockfile staleness threshold (ms); the lock mtime is refreshed every staleMs/3. Default 30000. */
  staleMs?: number;
}

/** Lock-directory paths (absolute) held by this process, to tell our own pid from a recycled one. */
const heldInThisProcess = new Set<string>();

const GUARD_STALE_MS = 10_000;
const GUARD_ATTEMPTS = 200;
const GUARD_DELAY_MS = 10;

/** A command name as a safe file name (`metrics push` -> `metrics-push`). */
function fileStem(command: string): string {
  const stem = command.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[.-]+/, '');
  return stem || 'command';
}

function filePaths(command: string, lockDir: string) {
  const dir = path.resolve(lockDir);
  const stem = fileStem(command);
  return {
    dir,
    /** The "locked file" as far as proper-lockfile is concerned; it never has to exist. */
    target: path.join(dir, stem),
    /** The directory proper-lockfile creates atomically with mkdir: its existence is the lock. */
    lockPath: path.join(dir, `${stem}.lock`),
    owner: path.join(dir, `${stem}.owner.json`),
    /** Short-lived mutex serialising "acquire + write owner" and dead-owner recovery. */
    guard: path.join(dir, `${stem}.lock.guard`),
  };
}

async function readOwner(ownerPath: string): Promise<OwnerRecord | null> {
  try {
    const parsed: unknown = JSON.parse(await fsp.readFile(ownerPath, 'utf8'));
    if (!parsed || typeof parsed !== 'object') return null;
    const o = parsed as Record<string, unknown>;
    if (typeof o.pid !== 'number' || typeof o.hostname !== 'string' || typeof o.since !== 'string') return null;
    return { pid: o.pid, hostname: o.hostname, since: o.since };
  } catch {
    return null;
  }
}

function ownerInfo(command: string, owner: OwnerRecord | null): LockInfo {
  if (!owner) return { command, since: null, holder: null };
  const since = new Date(owner.since);
  return {
    command,
    since: Number.isNaN(since.getTime()) ? null : since,
    holder: `pid ${owner.pid} on host ${owner.hostname}`,
  };
}

/** True when `pid` certainly does not run any more (on this host). */
function pidIsDead(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    // EPERM: it exists, it just belongs to someone else.
    return errorCode(err) === 'ESRCH';
  }
}

/** An owner record that names a process on this host that no longer holds the lock. */
function ownerIsGone(owner: OwnerRecord | null, lockPath: string): boolean {
  if (!owner || owner.hostname !== os.hostname()) return false;
  if (owner.pid === process.pid) {
    // Our own pid: either we hold it (then it's not stale), or the record is from an earlier
    // incarnation with the same pid (a restarted container where we are pid 1 again).
    return !heldInThisProcess.has(lockPath);
  }
  return pidIsDead(owner.pid);
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Run `fn` while holding the guard directory. The guard is held for a few milliseconds only
 * (mkdir + write a small file), so waiting for it is bounded and short; a guard left behind by a
 * crash is considered stale after GUARD_STALE_MS. Returns undefined when the guard could not be had.
 */
async function withGuard<T>(guard: string, fn: () => Promise<T>): Promise<{ value: T } | undefined> {
  let acquired = false;
  for (let attempt = 0; attempt < GUARD_ATTEMPTS && !acquired; attempt++) {
    try {
      await fsp.mkdir(guard);
      acquired = true;
    } catch (err) {
      if (errorCode(err) !== 'EEXIST') throw err;
      try {
        const st = await fsp.stat(guard);
        if (st.mtimeMs < Date.now() - GUARD_STALE_MS) {
          await fsp.rmdir(guard).catch(() => undefined);
          continue;
        }
      } catch {
        continue; // vanished meanwhile: try again at once
      }
      await delay(GUARD_DELAY_MS);
    }
  }
  if (!acquired) return undefined;
  try {
    return { value: await fn() };
  } finally {
    await fsp.rmdir(guard).catch(() => undefined);
  }
}

export async function acquireFileLock(opts: FileLockOptions): Promise<HeldLock> {
  const { command } = opts;
  const staleMs = opts.staleMs ?? 30_000;
  const p = filePaths(command, opts.lockDir);
  await fsp.mkdir(p.dir, { recursive: true });

  let compromisedError: Error | null = null;
  const lockOptions: LockOptions = {
    realpath: false,
    lockfilePath: p.lockPath,
    retries: 0,
    stale: staleMs,
    update: Math.floor(staleMs / 3),
    onCompromised: (err: Error) => {
      heldInThisProcess.delete(p.lockPath);
      compromisedError ??= new Error(
        `the lock of portal-sync ${command} (${p.lockPath}) was lost while the pass was running: ${err.message}`,
        { cause: err },
      );
    },
  };

  const tryOnce = async (): Promise<{ release: () => Promise<void>; owner: OwnerRecord } | { held: true }> => {
    let release: () => Promise<void>;
    try {
      release = await lockfile.lock(p.target, lockOptions);
    } catch (err) {
      if (errorCode(err) === 'ELOCKED') return { held: true };
      throw new Error(`cannot take the lock of portal-sync ${command} in ${p.dir}: ${errorMessage(err)}`, { cause: err });
    }
    heldInThisProcess.add(p.lockPath);
    const owner: OwnerRecord = { pid: process.pid, hostname: os.hostname(), since: new Date().toISOString() };
    try {
      const tmp = `${p.owner}.${process.pid}.tmp`;
      await fsp.writeFile(tmp, `${JSON.stringify(owner)}\n`);
      await fsp.rename(tmp, p.owner);
    } catch (err) {
      heldInThisProcess.delete(p.lockPath);
      await release().catch(() => undefined);
      throw new Error(`cannot record the owner of the portal-sync ${command} lock in ${p.owner}: ${errorMessage(err)}`, {
        cause: err,
      });
    }
    return { release, owner };
  };

  const attempt = async () => {
    const guarded = await withGuard(p.guard, async () => {
      const first = await tryOnce();
      if (!('held' in first)) return first;
      // Held. If the owner record names a process on this host that is gone (a crash, SIGKILL,
      // OOM kill), do not wait for the mtime to go stale: remove the dead lock and try once more.
      // The guard makes sure no other process acquires in between (its owner record would not be
      // written yet, and we would remove a live lock).
      const owner = await readOwner(p.owner);
      if (!ownerIsGone(owner, p.lockPath)) return { held: true as const, owner };
      await fsp.rm(p.owner, { force: true });
      await fsp.rm(p.lockPath, { recursive: true, force: true });
      const second = await tryOnce();
      if (!('held' in second)) return second;
      return { held: true as const, owner: await readOwner(p.owner) };
    });
    if (!guarded) return { held: true as const, owner: await readOwner(p.owner) };
    return guarded.value;
  };

  const result = await attempt();
  if ('held' in result) throw new LockHeldError(ownerInfo(command, result.owner));

  const { owner } = result;
  let released: Promise<void> | null = null;
  return {
    kind: 'file',
    compromised: () => compromisedError,
    release: () => {
      released ??= (async () => {
        heldInThisProcess.delete(p.lockPath);
        // Owner record first: a lock directory without an owner record is never "recovered".
        const current = await readOwner(p.owner);
        if (current && current.pid === owner.pid && current.hostname === owner.hostname && current.since === owner.since) {
          await fsp.rm(p.owner, { force: true });
        }
        try {
          await result.release();
        } catch (err) {
          // Already gone (compromised): nothing left to release.
          if (errorCode(err) !== 'ERELEASED' && errorCode(err) !== 'ENOTACQUIRED' && errorCode(err) !== 'ENOENT') {
            throw err;
          }
        }
      })();
      return released;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL advisory lock
// ---------------------------------------------------------------------------------------------

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
    connectionString,
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
    new Error(`${what} PostgreSQL at ${where} for the portal-sync ${command} lock: ${scrub(errorMessage(err))}`);

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
