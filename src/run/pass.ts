import type { Knex } from 'knex';
import { ProviderError } from '../providers/errors.js';
import { hasChanges, Planner, summarize, type Plan, type PlanSummary, type RemoteAction, type RemoteEntry } from '../reconcile/index.js';
import { describeDbError } from '../store/db.js';
import { completeRun, pruneEvents, recordRun, type RunEvent, type RunStatus } from '../store/runlog.js';
import type { ApplyOutcome } from '../store/types.js';
import type { PassConfig } from '../config.js';
import { EXIT, type PassStatus } from './exit.js';
import { exitCodeOf } from './exit-code.js';
import type { Inventory } from './inventory.js';
import type { HeldLock } from './lock.js';
import { JobFailure, runJob } from './job.js';
import type { Logger } from './log.js';
import { changeEvents } from './change-events.js';
import { formatDuration } from '../duration.js';
import { checkInterrupted, InterruptedError, NO_INTERRUPTION, type Interruption } from './interrupt.js';
import { createProgress, progressLine } from './progress.js';
import { peakRssBytes } from './peak-rss.js';
import { actionEvents, countActions, performActions, skippedActions, type ActionResult } from './remote-actions.js';

export interface PassResult {
  readonly command: string;
  readonly status: PassStatus;
  readonly dryRun: boolean;
  readonly exitCode: number;
  readonly runId: number | null;
  readonly startedAt: Date;
  readonly finishedAt: Date;
  readonly plan: Plan | null;
  readonly summary: PlanSummary;
  readonly applied: ApplyOutcome | null;
  /** Why the listing stopped early, when it did: no deletes were planned. */
  readonly listingError: string | null;
  /** The plan's remote actions and what became of each (skipped on a dry run or a refused pass). */
  readonly actions: readonly ActionResult[];
  readonly apiCalls: Record<string, number>;
  /** Requests the provider throttled, and the time spent waiting on its quota (pacing included). */
  readonly quota: { readonly throttled: number; readonly waitMs: number };
  readonly error: string | null;
  readonly noun: string;
  /** False when rows have no version of their own (the inventory's `versioned`): the table shows none. */
  readonly versioned?: boolean;
  /** The inventory's `nameOf`, for the diff table. */
  readonly nameOf?: (key: string) => string | null;
  readonly peakRssBytes: number;
}

const EMPTY_SUMMARY: PlanSummary = { create: 0, update: 0, delete: 0, unchanged: 0, skipped: 0, failed: 0 };

/**
 * One reconcile pass, the same for every inventory: lock, migrate, list, plan, apply in one
 * transaction, record the run. Never throws for expected failures: they become the result's status.
 */
export async function runPass(
  inventory: Inventory,
  config: PassConfig,
  log: Logger,
  interruption: Interruption = NO_INTERRUPTION,
): Promise<PassResult> {
  const startedAt = new Date();
  const nameOf = inventory.nameOf?.bind(inventory);
  const base = { command: config.command, dryRun: config.dryRun, startedAt, noun: inventory.noun, versioned: inventory.versioned !== false, ...(nameOf ? { nameOf } : {}) };
  const finish = (fields: Partial<PassResult> & Pick<PassResult, 'status' | 'exitCode'>): PassResult => ({
    ...base,
    runId: null,
    plan: null,
    summary: EMPTY_SUMMARY,
    applied: null,
    listingError: null,
    actions: [],
    error: null,
    apiCalls: inventory.calls.toJSON(),
    quota: { ...inventory.calls.quota },
    finishedAt: new Date(),
    peakRssBytes: peakRssBytes(),
    ...fields,
  });

  return runJob(
    config,
    log,
    startedAt,
    ({ db, lock }) => reconcile(inventory, config, log, db, lock, startedAt, finish, interruption),
    (end) => finish(end),
  );
}

async function reconcile(
  inventory: Inventory,
  config: PassConfig,
  log: Logger,
  db: Knex,
  lock: HeldLock,
  startedAt: Date,
  finish: (fields: Partial<PassResult> & Pick<PassResult, 'status' | 'exitCode'>) => PassResult,
  interruption: Interruption,
): Promise<PassResult> {
  checkInterrupted(interruption);
  // The portal's rows first: each remote page is then compared as it arrives and unchanged records
  // are dropped at once, so memory holds one side of the comparison, not both.
  const current = await inventory.loadCurrent(db);
  const planner = new Planner(current, { ...inventory.policy, massDelete: config.massDelete });
  const maxDuration = config.maxDurationMs === null ? null : { ms: config.maxDurationMs, stopAt: startedAt.getTime() + config.maxDurationMs };
  const { listing, pages, actions: plannedActions } = await fetchRemote(inventory, db, log, config.progress, planner, interruption, maxDuration, current.size);
  checkInterrupted(interruption);
  if (!listing.complete && pages === 0) {
    throw new JobFailure(listing.reason, exitCodeOf(listing.error));
  }
  const plan = planner.finish(listing.complete ? { complete: true } : listing, plannedActions);
  const listingError = listing.complete ? null : listing.reason;
  const summary = { ...summarize(plan), failed: plan.failed.length + (listingError ? 1 : 0) };

  if (config.dryRun) {
    const status: PassStatus = plan.guard.refused ? 'refused' : summary.failed > 0 ? 'partial' : 'ok';
    const actions = skippedActions(plan.remoteActions, 'dry run');
    return finish({ status, exitCode: exitCodeFor(status, hasChanges(plan), config), plan, summary, listingError, actions });
  }

  const events = eventsOf(plan, listingError, inventory.noun);
  if (plan.guard.refused) {
    // A refused pass changes nothing, on either side: its remote actions are recorded as not done.
    const actions = skippedActions(plan.remoteActions, 'the mass-delete guard refused the pass');
    events.push(...actionEvents(actions));
    const record = runRecord(config, startedAt, 'refused', EXIT.failed, withActions(summary, actions), inventory, guardMessage(plan));
    const runId = await recordRun(db, record, events);
    return finish({ status: 'refused', exitCode: EXIT.failed, plan, summary, listingError, runId, error: guardMessage(plan), actions });
  }

  const { applied, runId, status, exitCode, appliedSummary } = await db.transaction(async (trx) => {
    const applied = await inventory.apply(trx, plan, config.db.client);
    // What the statements changed, not what was planned: a concurrent writer may have got there first.
    events.push(...changeEvents(plan, applied, inventory.noun));
    const appliedSummary = { ...summary, failed: summary.failed + applied.failed.length };
    const status: PassStatus = appliedSummary.failed > 0 ? 'partial' : 'ok';
    const exitCode = exitCodeFor(status, hasChanges(plan), config);
    // Checked last, right before COMMIT: a lock lost during the pass means another run may be writing.
    const compromised = lock.compromised();
    if (compromised) throw new Error(`lock lost during the pass, nothing applied: ${compromised.message}`);
    checkInterrupted(interruption);
    const record = runRecord(config, startedAt, status, exitCode, { ...appliedSummary, ...appliedCounts(applied) }, inventory, null);
    const runId = await recordRun(trx, record, events);
    // The last moment a signal can still undo the pass; past it, COMMIT runs and the pass ends as it was.
    checkInterrupted(interruption);
    return { applied, runId, status, exitCode, appliedSummary };
  });
  log.debug('applied', { runId, ...appliedCounts(applied), failed: applied.failed.length });
  const problem = inventory.afterCommit ? await inventory.afterCommit({ db, log, plan, listingComplete: listingError === null }) : null;
  let result: PassResult;
  if (problem) {
    log.error(problem);
    const failedSummary = { ...appliedSummary, failed: appliedSummary.failed + 1 };
    result = finish({ status: 'partial', exitCode: EXIT.partial, plan, summary: failedSummary, applied, listingError, runId, error: problem });
  } else {
    result = finish({ status, exitCode, plan, summary: appliedSummary, applied, listingError, runId });
  }
  if (plan.remoteActions.length > 0) {
    result = await actAfterCommit(inventory, config, log, db, plan, result, runId, { ...appliedSummary, ...appliedCounts(applied) }, interruption, finish);
  }
  await keepEvents(db, config, log);
  return result;
}

/**
 * The plan's remote actions, run AFTER the data transaction committed, one by one, and their outcome
 * added to the run already recorded (its events, status, exit code and summary).
 *
 * After, not before: the database can be rolled back, AWS cannot. Run first, a deletion in AWS would
 * stand while the transaction still failed, was refused at COMMIT (a lost lock) or was interrupted,
 * and exit 1 / 130 / 143 promise "nothing applied". Run after, a failed commit means no action was
 * attempted, and a failed action leaves the portal as the rules want it anyway (a long-deprecated
 * type is no longer a device model) while the type, still deprecated in AWS, is planned again by the
 * next pass. The actions also hold no database transaction open while they wait on the network.
 */
async function actAfterCommit(
  inventory: Inventory,
  config: PassConfig,
  log: Logger,
  db: Knex,
  plan: Plan,
  committed: PassResult,
  runId: number,
  recordedSummary: PlanSummary & Record<string, number>,
  interruption: Interruption,
  finish: (fields: Partial<PassResult> & Pick<PassResult, 'status' | 'exitCode'>) => PassResult,
): Promise<PassResult> {
  // What the pass had; its API calls, end time and memory are taken again, after the actions.
  const kept = { plan, summary: committed.summary, applied: committed.applied, listingError: committed.listingError, runId };
  const actions = await performActions(inventory, plan.remoteActions, { db, log }, interruption, log);
  const counts = countActions(actions);
  const unfinished = counts.failed + counts.skipped;
  // The committed pass is ok or partial (an afterCommit problem, failed rows); an unfinished action makes it partial.
  const status: RunStatus = unfinished > 0 || committed.status === 'partial' ? 'partial' : 'ok';
  const exitCode = status === 'partial' ? EXIT.partial : committed.exitCode;
  const actionError = unfinished > 0 ? `${unfinished} of ${counts.planned} remote action${counts.planned === 1 ? '' : 's'} not done` : null;
  const error = committed.error ?? actionError;
  try {
    await completeRun(db, runId, { status, exitCode, finishedAt: new Date(), summary: { ...withActions(recordedSummary, actions), apiCalls: inventory.calls.toJSON() }, error }, actionEvents(actions));
  } catch (caught) {
    // The actions happened; only their record is missing. Said loudly, and the pass is partial.
    log.error(`the outcome of the remote actions could not be recorded in run ${runId}: ${describeDbError(config.db, caught)}`);
    return finish({ ...kept, status: 'partial', exitCode: EXIT.partial, actions, error: error ?? 'remote actions not recorded in the run log' });
  }
  return finish({ ...kept, status, exitCode, actions, error });
}

/** The run's summary with its remote actions counted by outcome, when the plan had any. */
function withActions<S extends object>(summary: S, actions: readonly ActionResult[]): S & { actions?: ReturnType<typeof countActions> } {
  return actions.length === 0 ? summary : { ...summary, actions: countActions(actions) };
}

/**
 * Retention, after the commit and outside its transaction: events older than --keep-events go, in
 * bounded batches. A failure here is a warning; the pass itself is done.
 */
async function keepEvents(db: Knex, config: PassConfig, log: Logger): Promise<void> {
  if (config.keepEventsMs === null) return;
  try {
    const pruned = await pruneEvents(db, new Date(Date.now() - config.keepEventsMs));
    if (pruned.events + pruned.runs > 0) log.debug('pruned the run log', { ...pruned });
  } catch (error) {
    log.warn(`run log not pruned: ${describeDbError(config.db, error)}`);
  }
}

/** Counts of what the statements changed, as the run log records them. */
function appliedCounts(applied: ApplyOutcome) {
  return { create: applied.created.length, update: applied.updated.length, delete: applied.deleted.length, conflicts: applied.conflicts.length };
}

interface Listing {
  listing: { complete: true } | { complete: false; reason: string; error: unknown };
  pages: number;
  /** Remote actions the inventory planned while listing. */
  actions: RemoteAction[];
}

async function fetchRemote(
  inventory: Inventory,
  db: Knex,
  log: Logger,
  showProgress: boolean,
  planner: Planner,
  interruption: Interruption,
  maxDuration: { readonly ms: number; readonly stopAt: number } | null,
  storedRows: number,
): Promise<Listing> {
  const progress = createProgress(showProgress);
  let records = 0;
  let pages = 0;
  let sideFailure: string | null = null;
  const actions: RemoteAction[] = [];
  const ctx = {
    db,
    log,
    markIncomplete(reason: string) {
      if (sideFailure === null) log.error(`${reason}; no ${inventory.noun} is deleted in this pass`);
      sideFailure ??= reason;
    },
    planAction(action: RemoteAction) {
      // Refused at planning time, not at the end of a pass that would then fail to act.
      if (!inventory.performAction) throw new Error(`${inventory.command} planned a remote action it cannot carry out`);
      // A record listed twice (a listing that shifted, a repeated page) plans its action once.
      if (!actions.some((a) => a.kind === action.kind && a.ref === action.ref)) actions.push(action);
    },
  };
  try {
    const started = Date.now();
    const timeUp = maxDuration === null ? null : AbortSignal.timeout(Math.max(1, maxDuration.stopAt - started));
    const stop = timeUp === null ? interruption.signal : AbortSignal.any([interruption.signal, timeUp]);
    for await (const page of untilInterrupted(inventory.remote(ctx), stop)) {
      pages++;
      records += page.length;
      for (const entry of page) planner.add(entry.kind === 'desired' ? validated(inventory, entry) : entry);
      progress.update(progressLine(inventory.command, records, pages, storedRows, Date.now() - started));
    }
    if (sideFailure !== null) return { listing: { complete: false, reason: sideFailure, error: null }, pages, actions };
    return { listing: { complete: true }, pages, actions };
  } catch (caught) {
    if (caught instanceof InterruptedError) throw caught;
    // --max-duration is a limit the operator set, not a failure of the provider: said as such.
    const timedOut = caught instanceof DOMException && caught.name === 'TimeoutError' && maxDuration !== null;
    const error = timedOut ? new Error(`stopped at --max-duration ${formatDuration(maxDuration.ms)} after ${pages} page${pages === 1 ? '' : 's'}`) : caught;
    const message = error instanceof Error ? error.message : String(error);
    const reason = pages === 0 ? message : `listing stopped after page ${pages}: ${message}`;
    if (pages > 0) log.error(`${reason}; no ${inventory.noun} is deleted in this pass`);
    return { listing: { complete: false, reason, error }, pages, actions };
  } finally {
    progress.done();
  }
}

/**
 * The pages of `source` until `signal` aborts: a signal does not wait for a page in flight (its
 * request may take its whole timeout); the abandoned request ends with the process.
 */
async function* untilInterrupted<T>(source: AsyncIterable<T>, signal: AbortSignal): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]();
  const aborted = new Promise<never>((_, reject) => {
    const fail = () => reject(signal.reason);
    if (signal.aborted) fail();
    else signal.addEventListener('abort', fail, { once: true });
  });
  aborted.catch(() => undefined);
  for (;;) {
    const next = await Promise.race([iterator.next(), aborted]);
    if (next.done) return;
    yield next.value;
  }
}

/** A record with a value its column cannot hold is skipped with the reason, before it reaches the plan. */
function validated(inventory: Inventory, entry: Extract<RemoteEntry, { kind: 'desired' }>): RemoteEntry {
  const problem = inventory.validate(entry);
  return problem === null ? entry : { kind: 'skipped', key: entry.key, reason: `invalid value: ${problem}` };
}

function exitCodeFor(status: PassStatus, changed: boolean, config: PassConfig): number {
  if (status === 'partial') return EXIT.partial;
  if (status === 'refused' || status === 'failed') return EXIT.failed;
  return changed && config.detailedExitcode ? EXIT.changes : EXIT.ok;
}

function guardMessage(plan: Plan): string {
  const { wouldDelete, tableRows, maxShare } = plan.guard;
  return (
    `mass-delete guard: this pass would delete ${wouldDelete} of ${tableRows} rows ` +
    `(more than ${Math.round(maxShare * 100)}%); nothing was applied. ` +
    `If the remote side really lost them, run again with --allow-mass-delete`
  );
}

function eventsOf(plan: Plan, listingError: string | null, noun: string): RunEvent[] {
  const events: RunEvent[] = [];
  for (const s of plan.skipped) events.push({ level: 'info', type: 'skip', ref: s.key, message: s.reason });
  for (const w of plan.warnings) events.push({ level: 'warn', type: 'warning', ref: w.key, message: w.message });
  for (const f of plan.failed) events.push({ level: 'error', type: 'fail', ref: f.key, message: f.error });
  if (listingError) {
    events.push({ level: 'error', type: 'listing', ref: null, message: listingError });
    events.push({ level: 'warn', type: 'deletes-withheld', ref: null, message: `listing incomplete: no ${noun} deleted in this pass` });
  }
  for (const s of plan.stale) {
    events.push({
      level: 'warn',
      type: 'stale',
      ref: s.key,
      message: `remote version ${s.remoteVersion} is older than stored version ${s.storedVersion}; kept the stored row`,
    });
  }
  if (plan.guard.refused) events.push({ level: 'warn', type: 'guard', ref: null, message: guardMessage(plan) });
  return events;
}

function runRecord(
  config: PassConfig,
  startedAt: Date,
  status: RunStatus,
  exitCode: number,
  summary: PlanSummary & Record<string, unknown>,
  inventory: Inventory,
  error: string | null,
) {
  return {
    command: config.command,
    status,
    dryRun: false,
    startedAt,
    finishedAt: new Date(),
    exitCode,
    summary: { ...summary, apiCalls: inventory.calls.toJSON() },
    error,
  };
}
