/**
 * One lock per command: a pass of `portal-sync <command>` never runs twice at the same time.
 *
 * Two flavours share one interface (`HeldLock`):
 *  - a file lock (proper-lockfile) in a lock directory: protects runs on one host / one volume
 *    (file-lock.ts);
 *  - a PostgreSQL session advisory lock: protects runs across hosts and Kubernetes pods
 *    (postgres-lock.ts).
 *
 * A lock that is held by someone else surfaces as `LockHeldError` (the CLI maps it to exit 75).
 * A lock that is lost while held (lock directory removed, mtime taken over, database connection
 * dropped) never kills the process: `compromised()` returns the error, and the pass checks it
 * right before committing and aborts.
 *
 * The two lock modules import from here and are re-exported from here: that cycle is safe as long
 * as they use these names only inside functions, never while their module is being evaluated.
 */

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

export { acquireFileLock, type FileLockOptions } from './file-lock.js';
export { acquirePostgresLock, ADVISORY_HOLDER_SQL, advisoryLockKey, describePostgres, type PostgresLockOptions } from './postgres-lock.js';
