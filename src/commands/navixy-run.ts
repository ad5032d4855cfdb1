/**
 * One pass of `navixy-customers`: read the customer snapshot and the overrides, list the forwarding
 * service's connections, plan (reconcile/navixy.ts), act (navixy-act.ts), validate, record.
 *
 * Nothing is changed until both sides were read in full: a customer database or a listing that
 * fails ends the pass before any action (69 when unreachable). The customer database is only read.
 */
import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { resolvePassConfig, type CommonOptions, type Env, type PassConfig } from '../config.js';
import { ApiCallCounter } from '../providers/errors.js';
import { ForwarderClient, type ForwarderConfig } from '../providers/forwarder/client.js';
import { resolveActConcurrency, resolveCustomersDb, resolveForwarderConfig, type NavixyOptions } from '../providers/forwarder/config.js';
import { judgeCustomer, planNavixy, validateNavixy, type Connection, type CustomerVerdict, type NavixyPlan, type NavixyValidation, type Override } from '../reconcile/navixy.js';
import { EXIT } from '../run/exit.js';
import { exitCodeOf } from '../run/exit-code.js';
import { handleInterrupts, interruptExitCode, type Interruption } from '../run/interrupt.js';
import { JobFailure, runJob } from '../run/job.js';
import { createLogger, type Logger } from '../run/log.js';
import type { RunLineFacts } from '../run/output.js';
import { describeDbError, openKnex, type DbTarget } from '../store/db.js';
import { previousDiscrepantPasses, readCustomerSnapshot, readOverrides } from '../store/customers.js';
import { pruneEvents, recordRun, type RunEvent } from '../store/runlog.js';
import { ConnectionModel, performNavixyActions, type ActionLine, type NavixyActionResult } from './navixy-act.js';
import { navixyEvents } from './navixy-events.js';
import { printNavixyResult, pushNavixyMetrics } from './navixy-output.js';
import { reportConfigFailure } from './common.js';

export const NAVIXY_COMMAND = 'navixy-customers';

export interface NavixyCommandOptions extends CommonOptions, NavixyOptions {}

export interface NavixyResult extends RunLineFacts {
  readonly status: 'ok' | 'partial' | 'failed' | 'refused' | 'locked' | 'interrupted';
  readonly plan: NavixyPlan | null;
  readonly actions: readonly NavixyActionResult[];
  /** After acting (null on a dry run, a refused or a failed pass). */
  readonly validation: (NavixyValidation & { readonly consecutiveDiscrepantPasses: number }) | null;
  readonly customers: number;
  readonly apiCalls: Record<string, number>;
  readonly error: string | null;
}

export async function runNavixyCustomers(opts: NavixyCommandOptions, env: Env): Promise<number> {
  const startedAt = new Date();
  let config: PassConfig;
  let forwarder: ForwarderConfig;
  let customersDb: DbTarget | null;
  let concurrency: number;
  try {
    config = resolvePassConfig(NAVIXY_COMMAND, opts, env, process.stdout.isTTY === true);
    forwarder = resolveForwarderConfig(opts, env);
    customersDb = resolveCustomersDb(opts, env);
    concurrency = resolveActConcurrency(opts);
  } catch (error) {
    await reportConfigFailure(NAVIXY_COMMAND, opts, error, startedAt);
    throw error;
  }
  const log = createLogger({ format: config.logFormat, command: NAVIXY_COMMAND });
  if (config.dbIsDefault) log.info(`portal database: ${config.db.display} (the default; set --db or PORTAL_SYNC_DB to choose)`);
  const interruption = handleInterrupts();
  const calls = new ApiCallCounter();
  const base = { command: NAVIXY_COMMAND, dryRun: config.dryRun, startedAt } as const;
  const result = await runJob<NavixyResult>(
    config,
    log,
    startedAt,
    ({ db }) => navixyPass(db, { config, forwarder, customersDb, concurrency, calls, log, interruption, startedAt }),
    (end) => ({ ...base, status: end.status, exitCode: end.exitCode, error: end.error, runId: end.runId, finishedAt: new Date(), plan: null, actions: [], validation: null, customers: 0, apiCalls: calls.toJSON() }),
  );
  printNavixyResult(result, config, log);
  if (config.pushgateway && !config.dryRun && result.status !== 'locked') await pushNavixyMetrics(config.pushgateway, result, log);
  return result.exitCode;
}

interface PassDeps {
  readonly config: PassConfig;
  readonly forwarder: ForwarderConfig;
  readonly customersDb: DbTarget | null;
  /** Customers acted on at once. */
  readonly concurrency: number;
  readonly calls: ApiCallCounter;
  readonly log: Logger;
  readonly interruption: Interruption;
  readonly startedAt: Date;
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

async function navixyPass(db: Knex, deps: PassDeps): Promise<NavixyResult> {
  const { config, calls, log, interruption, startedAt } = deps;
  const overrides = await readOverrides(db);
  const verdicts = (await readSnapshot(db, config.db, deps.customersDb)).map((c) => judgeCustomer(c, sha256));
  const client = new ForwarderClient(deps.forwarder, calls);
  const connections = await listAll(client);
  const plan = planNavixy(verdicts, connections, overrides, config.massDelete);
  const base = { command: NAVIXY_COMMAND, dryRun: config.dryRun, startedAt, plan, customers: verdicts.length };
  const changes = plan.lines.some((l) => l.kind === 'establish' || l.kind === 'close');
  const okCode = changes && config.detailedExitcode ? EXIT.changes : EXIT.ok;
  const actionLines = plan.lines.filter((l): l is ActionLine => l.kind === 'establish' || l.kind === 'close');

  if (config.dryRun) {
    const status = plan.guard.refused ? 'refused' : 'ok';
    const skipped = actionLines.map((line) => ({ line, outcome: { status: 'skipped' as const, reason: 'dry run' } }));
    return { ...base, status, exitCode: plan.guard.refused ? EXIT.failed : okCode, runId: null, finishedAt: new Date(), actions: skipped, validation: null, apiCalls: calls.toJSON(), error: null };
  }
  if (plan.guard.refused) {
    const error = guardMessage(plan);
    const actions = actionLines.map((line) => ({ line, outcome: { status: 'skipped' as const, reason: 'the mass-delete guard refused the pass' } }));
    const events: RunEvent[] = [...navixyEvents(plan, actions, null), { level: 'warn', type: 'guard', ref: null, message: error }];
    const runId = await recordRun(db, { command: NAVIXY_COMMAND, status: 'refused', dryRun: false, startedAt, finishedAt: new Date(), exitCode: EXIT.failed, summary: summaryOf(plan, actions, null, calls), error }, events);
    return { ...base, status: 'refused', exitCode: EXIT.failed, runId, finishedAt: new Date(), actions, validation: null, apiCalls: calls.toJSON(), error };
  }

  const model = new ConnectionModel(connections);
  const customers = new Map(verdicts.map((v) => [v.customer.reference, v]));
  const deadline = config.maxDurationMs === null ? null : startedAt.getTime() + config.maxDurationMs;
  const stopped = () => interruption.received() ?? (deadline !== null && Date.now() > deadline ? '--max-duration' : null);
  const actions = await performNavixyActions(actionLines, { client, customers, stopped, concurrency: deps.concurrency }, model);
  const checked = validateNavixy(verdicts, model.all(), overrides);
  const consecutive = checked.ok ? 0 : (await previousDiscrepantPasses(db, NAVIXY_COMMAND)) + 1;
  const validation = { ...checked, consecutiveDiscrepantPasses: consecutive };
  if (!checked.ok) log.warn(`validation failed (${consecutive} pass${consecutive === 1 ? '' : 'es'} in a row): ${checked.problems[0]}${checked.problemCount > 1 ? ` and ${checked.problemCount - 1} more` : ''}`);

  const failed = actions.filter((a) => a.outcome.status !== 'done').length;
  const signal = interruption.received();
  const status = signal !== null ? 'interrupted' : failed > 0 ? 'partial' : 'ok';
  const exitCode = signal !== null ? interruptExitCode(signal) : failed > 0 ? EXIT.partial : okCode;
  const error = signal !== null ? `interrupted by ${signal}` : failed > 0 ? `${failed} of ${actions.length} action${actions.length === 1 ? '' : 's'} not done` : null;
  const runId = await recordRun(
    db,
    { command: NAVIXY_COMMAND, status, dryRun: false, startedAt, finishedAt: new Date(), exitCode, summary: summaryOf(plan, actions, validation, calls), error },
    navixyEvents(plan, actions, validation),
  );
  await keepEvents(db, config, log);
  return { ...base, status, exitCode, runId, finishedAt: new Date(), actions, validation, apiCalls: calls.toJSON(), error };
}

/** --keep-events, as every pass prunes: after the run is recorded, a failure only a warning. */
async function keepEvents(db: Knex, config: PassConfig, log: Logger): Promise<void> {
  if (config.keepEventsMs === null) return;
  try {
    await pruneEvents(db, new Date(Date.now() - config.keepEventsMs));
  } catch (error) {
    log.warn(`run log not pruned: ${describeDbError(config.db, error)}`);
  }
}

/**
 * The customer snapshot: from the portal database, or from --customers-db, opened read-only (SQLite)
 * or read in a READ ONLY transaction (PostgreSQL). A database that cannot be read ends the pass
 * before anything is changed.
 */
async function readSnapshot(portal: Knex, portalTarget: DbTarget, target: DbTarget | null): Promise<CustomerVerdict['customer'][]> {
  const db = target === null ? portal : openKnex(target, { createFolder: false, readOnly: true });
  try {
    return await db.transaction(async (trx) => {
      if (db.client.config.client === 'pg') await trx.raw('SET TRANSACTION READ ONLY');
      return readCustomerSnapshot(trx);
    });
  } catch (error) {
    const where = target ?? portalTarget;
    const text = String((error as Error).message);
    const missing = /no such table|relation .* does not exist/i.test(text);
    const message = missing
      ? `the customer database (${where.display}) has no customers table: see the README, navixy-customers; nothing was changed`
      : `cannot read the customers from ${where.display}: ${describeDbError(where, error)}; nothing was changed`;
    // better-sqlite3 says a file whose folder does not exist with a plain TypeError: a path that
    // cannot be opened, as SQLITE_CANTOPEN is (78), not a failed pass.
    const unopenable = /directory does not exist/i.test(text);
    throw new JobFailure(message, missing || unopenable ? EXIT.config : exitCodeOf(error));
  } finally {
    if (target !== null) await db.destroy();
  }
}

async function listAll(client: ForwarderClient): Promise<Connection[]> {
  const all: Connection[] = [];
  try {
    for await (const page of client.listConnections()) all.push(...page);
  } catch (error) {
    throw new JobFailure(`${(error as Error).message}; nothing was changed`, exitCodeOf(error));
  }
  return all;
}

function guardMessage(plan: NavixyPlan): string {
  const { wouldClose, active, maxShare } = plan.guard;
  return (
    `mass-delete guard: this pass would close ${wouldClose} of ${active} active connections (more than ${Math.round(maxShare * 100)}%); ` +
    'nothing was done. If the customer database really says so, run again with --allow-mass-delete'
  );
}

function summaryOf(plan: NavixyPlan, actions: readonly NavixyActionResult[], validation: NavixyResult['validation'], calls: ApiCallCounter) {
  const count = (kind: 'establish' | 'close', status: string) => actions.filter((a) => a.line.kind === kind && a.outcome.status === status).length;
  return {
    ...plan.counts,
    actions: {
      establish: { planned: actions.filter((a) => a.line.kind === 'establish').length, done: count('establish', 'done'), failed: count('establish', 'failed'), skipped: count('establish', 'skipped') },
      close: { planned: actions.filter((a) => a.line.kind === 'close').length, done: count('close', 'done'), failed: count('close', 'failed'), skipped: count('close', 'skipped') },
    },
    validation: validation === null ? null : { ok: validation.ok, problems: validation.problemCount, consecutiveDiscrepantPasses: validation.consecutiveDiscrepantPasses },
    apiCalls: calls.toJSON(),
  };
}
