import { createHash } from 'node:crypto';
import type { DbTarget } from '../store/db.js';
import { describePostgres } from './postgres-lock.js';
import { acquireFileLock, acquirePostgresLock, type HeldLock } from './lock.js';

export interface PassLockOptions {
  readonly command: string;
  readonly db: DbTarget;
  readonly kind: 'file' | 'postgres';
  readonly lockDir: string;
  readonly staleMs: number;
}

/**
 * The locks of one pass, keyed by (command, database): a run against another database is never
 * refused. A pass on a PostgreSQL database always holds the database's advisory lock too, so a run
 * with `--lock file` and one with `--lock postgres` (another pod) never write the same database at once.
 */
export async function acquirePassLock(opts: PassLockOptions): Promise<HeldLock> {
  const { command, db } = opts;
  if (opts.kind === 'postgres') return acquirePostgresLock({ command, connectionString: db.url });
  const file = await acquireFileLock({ command, lockDir: opts.lockDir, staleMs: opts.staleMs, scope: databaseScope(db) });
  if (db.client !== 'postgres') return file;
  let advisory: HeldLock;
  try {
    advisory = await acquirePostgresLock({ command, connectionString: db.url });
  } catch (error) {
    await file.release().catch(() => undefined);
    throw error;
  }
  return both(file, advisory);
}

/** A short, stable name for the database in a lock file's name: never its user or password. */
export function databaseScope(db: DbTarget): string {
  const identity = db.client === 'sqlite' ? `sqlite:${db.filename}` : `postgres:${describePostgres(db.url)}`;
  return createHash('sha256').update(identity).digest('hex').slice(0, 12);
}

function both(first: HeldLock, second: HeldLock): HeldLock {
  return {
    kind: first.kind,
    compromised: () => first.compromised() ?? second.compromised(),
    release: async () => {
      await Promise.allSettled([second.release(), first.release()]);
    },
  };
}
