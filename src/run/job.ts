import type { Knex } from 'knex';
import { existsSync } from 'node:fs';
import type { PassConfig } from '../config.js';
import { copyableDbUrl, describeDbError, openKnex } from '../store/db.js';
import { migrateLatest, pendingMigrations } from '../store/migrate.js';
import { recordRun, type RunStatus } from '../store/runlog.js';
import { EXIT } from './exit.js';
import { exitCodeOf } from './exit-code.js';
import { InterruptedError } from './interrupt.js';
import { LockHeldError, type HeldLock } from './lock.js';
import type { Logger } from './log.js';
import { acquirePassLock } from './pass-lock.js';

/** A failure that ends a job before its work is done, with the exit code it maps to. */
export class JobFailure extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    /** False when the database itself failed: trying to log the run there would only wait again. */
    readonly recordable = true,
  ) {
    super(message);
  }
}

/** What a job's work gets: the open, migrated portal database and the lock it holds. */
export interface JobContext {
  readonly db: Knex;
  readonly lock: HeldLock;
}

/** How a job ended when its work could not run or threw: recorded in the run log where that was possible. */
export interface JobEnd {
  readonly status: 'locked' | 'failed' | 'interrupted';
  readonly exitCode: number;
  readonly error: string;
  readonly runId: number | null;
}

/**
 * The lifecycle every command that writes the portal database shares (DESIGN.md, one pass, steps 1,
 * 2 and 6): take the command's lock, open the store, apply pending migrations (a dry run only checks
 * there are none, and writes no byte), run `work`, then close the store and release the lock.
 *
 * Expected failures never throw: a held lock, an unusable database, a JobFailure or an interruption
 * thrown by `work` become `ended(...)`, recorded as a failed (or interrupted) run where the database
 * answers and the run is not a dry run.
 */
export async function runJob<R>(
  config: PassConfig,
  log: Logger,
  startedAt: Date,
  work: (job: JobContext) => Promise<R>,
  ended: (end: JobEnd) => R,
): Promise<R> {
  let lock: HeldLock;
  try {
    lock = await acquirePassLock({ command: config.lockName ?? config.command, db: config.db, kind: config.lock, lockDir: config.lockDir, staleMs: config.lockStaleMs });
  } catch (error) {
    if (error instanceof LockHeldError) return ended({ status: 'locked', exitCode: EXIT.locked, error: error.message, runId: null });
    const message = `cannot take the lock of ${config.command} on ${config.db.display}: ${describeDbError(config.db, error)}`;
    const mapped = exitCodeOf(error);
    const exitCode = mapped !== EXIT.failed ? mapped : config.lock === 'postgres' ? EXIT.unavailable : EXIT.config;
    return ended({ status: 'failed', exitCode, error: message, runId: null });
  }

  const target = config.db;
  if (config.dryRun && target.client === 'sqlite' && target.filename !== ':memory:' && !existsSync(target.filename!)) {
    await lock.release().catch(() => undefined);
    const error = `${target.display} does not exist, and a dry run creates nothing: run \`portal-sync migrate --db ${copyableDbUrl(target)}\` first`;
    return ended({ status: 'failed', exitCode: EXIT.config, error, runId: null });
  }
  let db: Knex;
  try {
    // A dry run writes no byte: not the schema, not the journal mode of an existing (even empty) file.
    db = openKnex(target, config.dryRun ? { createFolder: false, readOnly: true } : {});
  } catch (error) {
    // The SQLite file's folder cannot be made (a typo, /proc, no permission): nothing to record in.
    await lock.release().catch(() => undefined);
    return ended({ status: 'failed', exitCode: exitCodeOf(error), error: `cannot open ${target.display}: ${describeDbError(target, error)}`, runId: null });
  }
  try {
    await prepare(db, config);
    return await work({ db, lock });
  } catch (error) {
    if (error instanceof InterruptedError) {
      // Rolled back: record the run as interrupted where the database answers, then exit 130/143.
      const runId = config.dryRun ? null : await recordFailedRun(db, config, startedAt, error.exitCode, error.message, log, 'interrupted');
      return ended({ status: 'interrupted', exitCode: error.exitCode, error: error.message, runId });
    }
    const exitCode = error instanceof JobFailure ? error.exitCode : EXIT.failed;
    const message = error instanceof Error ? describeDbError(config.db, error) : String(error);
    const recordable = !config.dryRun && !(error instanceof JobFailure && !error.recordable);
    const runId = recordable ? await recordFailedRun(db, config, startedAt, exitCode, message, log) : null;
    return ended({ status: 'failed', exitCode, error: message, runId });
  } finally {
    await db.destroy().catch(() => undefined);
    await lock.release().catch(() => undefined);
  }
}

/** Migrations applied, or on a dry run, none pending: a dry run reads the schema it would write to. */
async function prepare(db: Knex, config: PassConfig): Promise<void> {
  const target = config.db;
  try {
    if (config.dryRun) {
      const pending = await pendingMigrations(db);
      if (pending.length > 0) {
        const message = `${target.display} has migrations to apply (${pending.join(', ')}), and a dry run changes nothing: run \`portal-sync migrate --db ${copyableDbUrl(target)}\` first`;
        throw new JobFailure(message, EXIT.config);
      }
    } else {
      await migrateLatest(db);
    }
  } catch (error) {
    if (error instanceof JobFailure) throw error;
    const exitCode = exitCodeOf(error);
    throw new JobFailure(`cannot prepare the database ${target.display}: ${describeDbError(target, error)}`, exitCode, exitCode !== EXIT.unavailable);
  }
}

async function recordFailedRun(
  db: Knex,
  config: PassConfig,
  startedAt: Date,
  exitCode: number,
  message: string,
  log: Logger,
  status: RunStatus = 'failed',
): Promise<number | null> {
  try {
    return await recordRun(
      db,
      { command: config.command, status, dryRun: false, startedAt, finishedAt: new Date(), exitCode, summary: null, error: message },
      [{ level: 'error', type: status === 'failed' ? 'error' : status, ref: null, message }],
    );
  } catch (error) {
    log.debug(`could not record the failed run: ${describeDbError(config.db, error)}`);
    return null;
  }
}
