/**
 * A file lock (proper-lockfile) in a lock directory: protects runs on one host, or on hosts that
 * share the lock directory's volume. Across Kubernetes pods, use the PostgreSQL advisory lock.
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import lockfile, { type LockOptions } from 'proper-lockfile';
import { ensureDir } from '../store/ensure-dir.js';
import { errorCode, errorMessage } from './errors.js';
import { LockHeldError, type HeldLock, type LockInfo } from './lock.js';

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
  ensureDir(p.dir);

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
