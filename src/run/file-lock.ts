/**
 * A file lock (proper-lockfile) in a lock directory: protects runs on one host, or on hosts that
 * share the lock directory's volume. Across Kubernetes pods, use the PostgreSQL advisory lock.
 *
 * The lock is the directory `<stem>.lock`, an owned directory (owned-dir.ts): it names its holder
 * (pid, host, since) from the moment it exists. A run killed at any point of taking the lock thus
 * leaves either no lock or a lock whose holder is known, and when that holder is a dead process
 * of this host the next run removes the lock at once (under the guard, lock-guard.ts).
 * proper-lockfile puts the directory in place and takes it away through an `fs` adapter, and
 * keeps refreshing its mtime: that is how runs on another host, which cannot check our pid, tell
 * a live lock from a dead one.
 */
import fs from 'node:fs';
import path from 'node:path';
import lockfile, { type LockOptions } from 'proper-lockfile';
import { ensureDir } from '../store/ensure-dir.js';
import { errorCode, errorMessage } from './errors.js';
import { withGuard } from './lock-guard.js';
import { lockTestPoint } from './lock-test-point.js';
import { LockHeldError, type HeldLock, type LockInfo } from './lock.js';
import {
  inspectOwned,
  isAbandoned,
  markHeld,
  newOwner,
  placeOwned,
  prepareOwned,
  readOwner,
  removeOwned,
  removeOwnedSync,
  sameIncarnation,
  sweepLeftovers,
  type OwnedState,
  type Owner,
} from './owned-dir.js';

export interface FileLockOptions {
  command: string;
  lockDir: string;
  /** What the lock is about besides the command (the database): runs with another scope do not conflict. */
  scope?: string;
  /** proper-lockfile staleness threshold (ms); the lock mtime is refreshed every staleMs/3. Default 30000. */
  staleMs?: number;
}

/** A command name as a safe file name (`metrics push` -> `metrics-push`). */
function fileStem(command: string): string {
  const stem = command.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[.-]+/, '');
  return stem || 'command';
}

type LockPaths = ReturnType<typeof filePaths>;

function filePaths(command: string, lockDir: string, scope?: string) {
  const dir = path.resolve(lockDir);
  const stem = fileStem(scope === undefined ? command : `${command}.${scope}`);
  return {
    dir,
    /** The "locked file" as far as proper-lockfile is concerned; it never has to exist. */
    target: path.join(dir, stem),
    /** The lock: exists while held, owner record inside. */
    lockPath: path.join(dir, `${stem}.lock`),
    guard: path.join(dir, `${stem}.lock.guard`),
    /** Where earlier versions of portal-sync recorded the owner: beside their (empty) lock directory. */
    earlierOwner: path.join(dir, `${stem}.owner.json`),
  };
}

function ownerInfo(command: string, owner: Owner | null): LockInfo {
  if (!owner) return { command, since: null, holder: null };
  const since = new Date(owner.since);
  return {
    command,
    since: Number.isNaN(since.getTime()) ? null : since,
    holder: `pid ${owner.pid} on host ${owner.hostname}`,
  };
}

/** The lock as it is now; the owner of an earlier version's lock is in the record beside it. */
async function inspectLock(p: LockPaths): Promise<{ state: OwnedState; owner: Owner | null } | null> {
  const state = await inspectOwned(p.lockPath);
  if (!state) return null;
  return { state, owner: state.owner ?? (await readOwner(p.earlierOwner)) };
}

/**
 * The file system as proper-lockfile sees it: its mkdir of the lock directory puts our owned
 * directory in place, its rmdir (release, and its exit hook) takes it away only while it is ours.
 */
function lockFs(lockPath: string, owner: Owner & { token: string }) {
  const ours = (s: OwnedState) => s.owner?.token === owner.token;
  const put = async (): Promise<boolean> => {
    const prepared = await prepareOwned(lockPath, owner);
    lockTestPoint('prepared');
    const placed = await placeOwned(prepared, lockPath);
    if (placed) lockTestPoint('created');
    return placed;
  };
  return {
    stat: fs.stat,
    utimes: fs.utimes,
    realpath: fs.realpath,
    mkdir(p: string, callback: (err: Error | null) => void): void {
      if (p !== lockPath) return void fs.mkdir(p, callback);
      put().then(
        // Not EEXIST: on EEXIST proper-lockfile judges staleness and removes the lock itself,
        // outside the guard. Every judgement is made here instead.
        (placed) => callback(placed ? null : Object.assign(new Error(`${lockPath} exists`), { code: 'ELOCKED' })),
        (err: Error) => callback(err),
      );
    },
    rmdir(p: string, callback: (err: Error | null) => void): void {
      if (p !== lockPath) return void fs.rmdir(p, callback);
      removeOwned(lockPath, ours).then(() => callback(null), (err: Error) => callback(err));
    },
    rmdirSync(p: string): void {
      if (p !== lockPath) return fs.rmdirSync(p);
      removeOwnedSync(lockPath, owner.token);
    },
  };
}

/**
 * Takes the lock, or removes it first when it is abandoned (isAbandoned). Three rounds at most:
 * take it; else remove the abandoned one and take it; else someone else was quicker.
 */
async function take(p: LockPaths, command: string, staleMs: number, options: LockOptions): Promise<() => Promise<void>> {
  let lastOwner: Owner | null = null;
  for (let round = 0; round < 3; round++) {
    try {
      return await lockfile.lock(p.target, options);
    } catch (err) {
      if (errorCode(err) !== 'ELOCKED') {
        throw new Error(`cannot take the lock of portal-sync ${command} in ${p.dir}: ${errorMessage(err)}`, { cause: err });
      }
    }
    const seen = await inspectLock(p);
    if (!seen) continue; // released meanwhile
    lastOwner = seen.owner;
    if (!isAbandoned(seen.state, seen.owner, staleMs)) break;
    // Only the very lock judged abandoned is removed: not one a live run has put in its place since.
    const guarded = await withGuard(p.guard, () => removeOwned(p.lockPath, (now) => sameIncarnation(now, seen.state)));
    if (!guarded) break; // another run is removing it right now, and will hold the lock next
  }
  const now = await inspectLock(p);
  throw new LockHeldError(ownerInfo(command, now?.owner ?? lastOwner));
}

export async function acquireFileLock(opts: FileLockOptions): Promise<HeldLock> {
  const { command } = opts;
  const staleMs = opts.staleMs ?? 30_000;
  const p = filePaths(command, opts.lockDir, opts.scope);
  ensureDir(p.dir);

  const owner = newOwner();
  let compromisedError: Error | null = null;
  const options: LockOptions = {
    realpath: false,
    lockfilePath: p.lockPath,
    retries: 0,
    stale: staleMs,
    update: Math.floor(staleMs / 3),
    fs: lockFs(p.lockPath, owner),
    onCompromised: (err: Error) => {
      markHeld(owner.token, false);
      compromisedError ??= new Error(
        `the lock of portal-sync ${command} (${p.lockPath}) was lost while the pass was running: ${err.message}`,
        { cause: err },
      );
    },
  };

  // Marked before the lock exists: another acquisition in this process must see a live owner.
  markHeld(owner.token, true);
  let release: () => Promise<void>;
  try {
    release = await take(p, command, staleMs, options);
  } catch (err) {
    markHeld(owner.token, false);
    throw err;
  }
  // What killed runs of this host left beside the lock (sweepLeftovers checks they are dead), and,
  // with the lock ours now, any owner record of an earlier version is stale too.
  await sweepLeftovers(p.lockPath, p.guard);
  await fs.promises.rm(p.earlierOwner, { force: true }).catch(() => undefined);

  let released: Promise<void> | null = null;
  return {
    kind: 'file',
    compromised: () => compromisedError,
    release: () => {
      released ??= (async () => {
        try {
          await release();
        } catch (err) {
          // Already gone (compromised): nothing left to release.
          if (errorCode(err) !== 'ERELEASED' && errorCode(err) !== 'ENOTACQUIRED' && errorCode(err) !== 'ENOENT') throw err;
        } finally {
          markHeld(owner.token, false);
        }
      })();
      return released;
    },
  };
}
