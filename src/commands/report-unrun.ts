import { existsSync } from 'node:fs';
import { resolveDb, type CommonOptions, type Env } from '../config.js';
import { exitCodeOf } from '../run/exit-code.js';
import type { Logger } from '../run/log.js';
import { openKnex, type DbTarget } from '../store/db.js';
import { recordRun } from '../store/runlog.js';

/**
 * A run that failed before its pass could start (no connection string, a bad option value) still
 * reports, so the alert on a failing job fires for the most common failure too: its status metrics
 * go to the gateway when one is configured, and its run is recorded where the database is reachable
 * and already has the schema. Nothing is created, migrated or retried for this: each step is best
 * effort, and the failure itself is what the operator is told about.
 */
export async function reportUnrunPass(command: string, opts: CommonOptions, env: Env, error: unknown, startedAt: Date, log: Logger): Promise<void> {
  const exitCode = exitCodeOf(error);
  const message = error instanceof Error ? error.message : String(error);
  const finishedAt = new Date();
  const gateway = opts.pushgateway ?? env.PORTAL_SYNC_PUSHGATEWAY;
  if (gateway && opts.dryRun !== true && isHttpUrl(gateway)) {
    try {
      const { pushRunMetrics } = await import('../run/metrics.js');
      await pushRunMetrics(gateway, {
        command,
        status: 'failed',
        startedAt,
        finishedAt,
        changes: { create: 0, update: 0, delete: 0 },
        records: { unchanged: 0, skipped: 0, failed: 0 },
        apiCalls: {},
      });
    } catch (pushError) {
      log.warn(`metrics not pushed: ${pushError instanceof Error ? pushError.message : String(pushError)}`);
    }
  }
  if (opts.dryRun === true) return;
  const target = knownDatabase(opts, env);
  if (!target) return;
  const db = openKnex(target);
  try {
    if (!(await db.schema.hasTable('sync_runs'))) return;
    await recordRun(db, { command, status: 'failed', dryRun: false, startedAt, finishedAt, exitCode, summary: null, error: message }, [
      { level: 'error', type: 'error', ref: null, message },
    ]);
  } catch (recordError) {
    log.debug(`could not record the failed run: ${recordError instanceof Error ? recordError.message : String(recordError)}`);
  } finally {
    await db.destroy().catch(() => undefined);
  }
}

/** The database named explicitly and usable without creating anything, or null. */
function knownDatabase(opts: CommonOptions, env: Env): DbTarget | null {
  if (opts.db === undefined && env.PORTAL_SYNC_DB === undefined && env.DATABASE_URL === undefined) return null;
  try {
    const target = resolveDb(opts.db, env);
    if (target.client === 'sqlite' && (target.filename === ':memory:' || !existsSync(target.filename!))) return null;
    return target;
  } catch {
    return null;
  }
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}
