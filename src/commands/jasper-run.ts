/**
 * One `jasper` pass: every enabled service provider (or the one --service-provider names), each
 * under its own lock, with its own cursor and its own run in the run log; one provider's failure
 * never stops the others.
 *
 * For each provider: list the devices modified since the cursor (a full sync the first time, or with
 * --full: since one month and one day ago), staging each page as it arrives together with the point
 * the listing resumes from; only once the last page is in, validate the staged records and promote
 * them to `jasper_devices` in one transaction that also clears the staging and moves the cursor. A
 * listing cut short (--max-pages, a page that failed past the retry budget) leaves production and
 * the cursor as they were, and the next pass continues from the next page.
 */
import type { Knex } from 'knex';
import { ConfigError, resolveDuration, resolvePassConfig, UsageError, type CommonOptions, type Env, type PassConfig } from '../config.js';
import { ApiCallCounter } from '../providers/errors.js';
import { envSuffix, JasperClient, type JasperLimits } from '../providers/jasper/client.js';
import { parseRate } from '../providers/pace.js';
import { planPromotion, type Promotion, type StagedSim } from '../reconcile/jasper.js';
import { EXIT } from '../run/exit.js';
import { exitCodeOf } from '../run/exit-code.js';
import { handleInterrupts, interruptExitCode, type Interruption } from '../run/interrupt.js';
import { JobFailure, runJob } from '../run/job.js';
import { createLogger, type Logger } from '../run/log.js';
import type { RunLineFacts } from '../run/output.js';
import { applyPromotion, clearStaging, listProviders, loadSims, readCursor, readStaging, stagePage, writeCursor, type ServiceProvider } from '../store/jasper.js';
import { recordRun, type RunEvent } from '../store/runlog.js';
import { reportConfigFailure } from './common.js';
import { printJasperResults, pushJasperMetrics } from './jasper-output.js';

export const JASPER_COMMAND = 'jasper';
/**
 * A first or --full sync reads the changes since one month and one day ago: a calendar month back in
 * UTC, clamped to the end of a shorter month, then a day, truncated to the second (Control Center's
 * `yyyy-MM-ddTHH:mm:ssZ`): from 2026-03-31T02:15:07Z, 2026-02-27T02:15:07Z.
 */
export function fullSyncSince(now: Date): Date {
  const year = now.getUTCFullYear();
  const month = now.getUTCMonth() - 1;
  const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  const day = Math.min(now.getUTCDate(), lastDay);
  const since = new Date(Date.UTC(year, month, day, now.getUTCHours(), now.getUTCMinutes(), now.getUTCSeconds()));
  since.setUTCDate(since.getUTCDate() - 1);
  return since;
}

function oneYearBefore(now: Date): Date {
  const d = new Date(now);
  d.setUTCFullYear(d.getUTCFullYear() - 1);
  return d;
}
/** An incremental pass starts this long before the last complete one began: no change at the boundary is missed. */
export const CURSOR_OVERLAP_MS = 10 * 60_000;

export interface JasperOptions extends CommonOptions {
  serviceProvider?: string;
  full?: boolean;
  maxPages?: string;
  retryBudget?: string;
  requestTimeout?: string;
  rate?: string;
}

interface JasperSettings {
  readonly only: string | null;
  readonly full: boolean;
  readonly maxPages: number | null;
  readonly limits: JasperLimits;
}

export interface ProviderResult {
  readonly provider: string;
  readonly status: 'ok' | 'partial' | 'failed' | 'locked' | 'interrupted';
  readonly exitCode: number;
  readonly runId: number | null;
  readonly mode: 'full' | 'incremental' | 'resumed' | null;
  readonly modifiedSince: string | null;
  /** Pages read by this pass, and where the listing stands. */
  readonly pages: { readonly from: number; readonly read: number; readonly complete: boolean; readonly resumeAt: number | null };
  readonly staged: number;
  readonly promotion: Promotion | null;
  readonly apiCalls: Record<string, number>;
  readonly retries: { readonly count: number; readonly waitedMs: number };
  readonly error: string | null;
}

export interface JasperResult extends RunLineFacts {
  readonly status: 'ok' | 'partial' | 'failed' | 'locked' | 'interrupted';
  readonly providers: readonly ProviderResult[];
  readonly error: string | null;
}

export async function runJasper(opts: JasperOptions, env: Env): Promise<number> {
  const startedAt = new Date();
  let config: PassConfig;
  let settings: JasperSettings;
  try {
    config = resolvePassConfig(JASPER_COMMAND, opts, env, process.stdout.isTTY === true);
    settings = resolveJasperSettings(opts);
  } catch (error) {
    await reportConfigFailure(JASPER_COMMAND, opts, error, startedAt);
    throw error;
  }
  const log = createLogger({ format: config.logFormat, command: JASPER_COMMAND });
  const interruption = handleInterrupts();
  const base = { command: JASPER_COMMAND, dryRun: config.dryRun, startedAt, runId: null } as const;
  const listed = await runJob<{ providers: ServiceProvider[] } | { exitCode: number; status: JasperResult['status']; error: string }>(
    { ...config, lockName: `${JASPER_COMMAND}@providers` },
    log,
    startedAt,
    async ({ db }) => ({ providers: await listProviders(db) }),
    (end) => ({ exitCode: end.exitCode, status: end.status, error: end.error }),
  );
  let result: JasperResult;
  if ('error' in listed) {
    result = { ...base, status: listed.status, exitCode: listed.exitCode, finishedAt: new Date(), providers: [], error: listed.error };
  } else {
    const chosen = listed.providers.filter((p) => (settings.only === null ? p.enabled : p.id === settings.only));
    if (settings.only !== null && chosen.length === 0) {
      const error = new ConfigError(`no service provider ${settings.only}: see \`portal-sync jasper providers list\``);
      await reportConfigFailure(JASPER_COMMAND, opts, error, startedAt);
      throw error;
    }
    if (chosen.length === 0) log.warn('no enabled service provider: add one with `portal-sync jasper providers add`');
    const providers: ProviderResult[] = [];
    for (const provider of chosen) {
      if (interruption.received() !== null) break;
      providers.push(await providerPass(provider, config, settings, env, log, interruption, startedAt));
    }
    result = { ...base, ...overall(providers), finishedAt: new Date(), providers };
  }
  printJasperResults(result, config, log);
  if (config.pushgateway && !config.dryRun) await pushJasperMetrics(config.pushgateway, result, log);
  return result.exitCode;
}

/** The pass's outcome from its providers': all well is 0 (2 when one changed rows, with --detailed-exitcode); some failed is 3; all failed is their failure. */
function overall(providers: readonly ProviderResult[]): Pick<JasperResult, 'status' | 'exitCode' | 'error'> {
  const failed = providers.filter((p) => p.status !== 'ok');
  if (failed.length === 0) return { status: 'ok', exitCode: providers.some((p) => p.exitCode === EXIT.changes) ? EXIT.changes : EXIT.ok, error: null };
  const error = failed.map((p) => `${p.provider}: ${p.error ?? p.status}`).join('; ');
  if (failed.length < providers.length) return { status: 'partial', exitCode: EXIT.partial, error };
  if (failed.length === 1) return { status: failed[0]!.status, exitCode: failed[0]!.exitCode, error };
  // All failed, in different ways: the code of the first, unless they agree.
  const codes = new Set(failed.map((p) => p.exitCode));
  return { status: 'failed', exitCode: codes.size === 1 ? failed[0]!.exitCode : EXIT.failed, error };
}

function resolveJasperSettings(opts: JasperOptions): JasperSettings {
  const only = opts.serviceProvider ?? null;
  const maxPages = opts.maxPages === undefined ? null : Number(opts.maxPages);
  if (maxPages !== null && (!Number.isInteger(maxPages) || maxPages < 1)) throw new UsageError('--max-pages must be a whole number of at least 1');
  const rate = opts.rate === undefined ? null : parseRate(opts.rate);
  if (opts.rate !== undefined && rate === null) throw new UsageError('--rate must be <n>/<s|min|h>, e.g. 5/s');
  return {
    only,
    full: opts.full === true,
    maxPages,
    limits: {
      retryBudgetMs: resolveDuration('--retry-budget', opts.retryBudget ?? '2m'),
      requestTimeoutMs: resolveDuration('--request-timeout', opts.requestTimeout ?? '30s'),
      rate,
    },
  };
}

async function providerPass(
  provider: ServiceProvider,
  config: PassConfig,
  settings: JasperSettings,
  env: Env,
  log: Logger,
  interruption: Interruption,
  passStartedAt: Date,
): Promise<ProviderResult> {
  const startedAt = new Date();
  const calls = new ApiCallCounter();
  const empty = { provider: provider.id, mode: null, modifiedSince: null, pages: { from: 1, read: 0, complete: false, resumeAt: null }, staged: 0, promotion: null, retries: { count: 0, waitedMs: 0 } };
  return runJob<ProviderResult>(
    { ...config, lockName: `${JASPER_COMMAND}@${provider.id}` },
    log,
    startedAt,
    ({ db }) => new ProviderSync(db, provider, config, settings, env, log, interruption, calls, startedAt, passStartedAt).run(),
    (end) => ({ ...empty, status: end.status, exitCode: end.exitCode, runId: end.runId, apiCalls: calls.toJSON(), error: `${end.error}` }),
  );
}

class ProviderSync {
  constructor(
    private readonly db: Knex,
    private readonly provider: ServiceProvider,
    private readonly config: PassConfig,
    private readonly settings: JasperSettings,
    private readonly env: Env,
    private readonly log: Logger,
    private readonly interruption: Interruption,
    private readonly calls: ApiCallCounter,
    private readonly startedAt: Date,
    private readonly passStartedAt: Date,
  ) {}

  async run(): Promise<ProviderResult> {
    const { provider, db, config } = this;
    const variable = `JASPER_API_KEY_${envSuffix(provider.id)}`;
    const apiKey = this.env[variable];
    if (!apiKey) throw new JobFailure(`service provider ${provider.id}: no API key: set ${variable}`, EXIT.config);
    const client = new JasperClient(
      { providerId: provider.id, baseUrl: provider.apiBaseUrl, username: provider.username, apiKey },
      this.settings.limits,
      this.calls,
      undefined,
      undefined,
      this.interruption.signal,
    );
    const cursor = await readCursor(db, provider.id);
    const start = this.startingPoint(cursor);
    // A dry run stages nothing: the pages it reads are kept here, after what earlier passes staged.
    const inMemory: StagedSim[] = config.dryRun && start.mode === 'resumed' ? await readStaging(db, provider.id) : [];
    if (!config.dryRun && start.mode !== 'resumed') await clearStaging(db, provider.id);

    let page = start.page;
    let read = 0;
    let staged = 0;
    let complete = false;
    let failure: unknown = null;
    // --max-duration, from the start of the whole pass: a provider stops at a page boundary and resumes next time.
    const deadline = config.maxDurationMs === null ? null : this.passStartedAt.getTime() + config.maxDurationMs;
    while (this.settings.maxPages === null || read < this.settings.maxPages) {
      if (this.interruption.received() !== null) break;
      if (deadline !== null && Date.now() >= deadline) break;
      let answer;
      try {
        answer = await client.devicesPage(start.modifiedSince, page);
      } catch (error) {
        failure = error;
        break;
      }
      const records = answer.devices.map((d, position) => ({ pageNumber: page, position, ...d }));
      if (config.dryRun) inMemory.push(...records);
      else {
        // The page and the point to resume from, together: a pass killed now continues after this page.
        await db.transaction(async (trx) => {
          await stagePage(trx, provider.id, records);
          await writeCursor(trx, provider.id, { modifiedSince: cursor.modifiedSince, resume: { modifiedSince: start.modifiedSince, startedAt: start.startedAt, page: page + 1 } });
        });
      }
      staged += records.length;
      read++;
      page++;
      if (answer.lastPage) {
        complete = true;
        break;
      }
    }
    const base = {
      provider: provider.id,
      mode: start.mode,
      modifiedSince: start.modifiedSince.toISOString(),
      pages: { from: start.page, read, complete, resumeAt: complete ? null : page },
      staged,
      retries: { count: 0, waitedMs: 0 },
    };
    if (!complete) return this.incomplete(base, failure, client);

    const records = config.dryRun ? inMemory : await readStaging(db, provider.id);
    if (config.dryRun) {
      const promotion = planPromotion(records, await loadSims(db, provider.id));
      return { ...base, status: 'ok', exitCode: this.okCode(promotion), runId: null, promotion, apiCalls: this.calls.toJSON(), retries: { ...client.retries }, error: null };
    }
    const { promotion, runId } = await db.transaction(async (trx) => {
      const promotion = planPromotion(records, await loadSims(trx, provider.id));
      await applyPromotion(trx, provider.id, promotion, new Date());
      await clearStaging(trx, provider.id);
      // The next incremental pass reads from a little before this listing began.
      await writeCursor(trx, provider.id, { modifiedSince: new Date(start.startedAt.getTime() - CURSOR_OVERLAP_MS), resume: null });
      const summary = this.summary(base, promotion, client);
      const runId = await recordRun(
        trx,
        { command: JASPER_COMMAND, status: 'ok', dryRun: false, startedAt: this.startedAt, finishedAt: new Date(), exitCode: this.okCode(promotion), summary, error: null },
        promotionEvents(provider.id, promotion),
      );
      return { promotion, runId };
    });
    return { ...base, status: 'ok', exitCode: this.okCode(promotion), runId, promotion, apiCalls: this.calls.toJSON(), retries: { ...client.retries }, error: null };
  }

  private okCode(promotion: Promotion): number {
    const changed = promotion.create.length + promotion.update.length > 0;
    return changed && this.config.detailedExitcode ? EXIT.changes : EXIT.ok;
  }

  /** Where this pass's listing starts: a resumed listing, a full sync, or the changes since the cursor. */
  private startingPoint(cursor: Awaited<ReturnType<typeof readCursor>>): { mode: ProviderResult['mode'] & string; modifiedSince: Date; startedAt: Date; page: number } {
    const now = this.startedAt;
    if (!this.settings.full && cursor.resume !== null) {
      return { mode: 'resumed', modifiedSince: cursor.resume.modifiedSince, startedAt: cursor.resume.startedAt, page: cursor.resume.page };
    }
    // Control Center refuses a modifiedSince older than a year: such a cursor means a full sync.
    if (this.settings.full || cursor.modifiedSince === null || cursor.modifiedSince.getTime() < oneYearBefore(now).getTime()) {
      return { mode: 'full', modifiedSince: fullSyncSince(now), startedAt: now, page: 1 };
    }
    return { mode: 'incremental', modifiedSince: cursor.modifiedSince, startedAt: now, page: 1 };
  }

  /** A listing that stopped before its last page: nothing promoted, the cursor kept, the resume point recorded. */
  private async incomplete(base: Omit<ProviderResult, 'status' | 'exitCode' | 'runId' | 'promotion' | 'apiCalls' | 'error'>, failure: unknown, client: JasperClient): Promise<ProviderResult> {
    const signal = this.interruption.received();
    const stoppedByLimit = failure === null && signal === null;
    const error = stoppedByLimit
      ? null
      : signal !== null
        ? `interrupted by ${signal}`
        : `${failure instanceof Error ? failure.message : String(failure)}; nothing promoted, the cursor kept${this.config.dryRun ? '' : `: the next pass resumes at page ${base.pages.resumeAt}`}`;
    const status: ProviderResult['status'] = stoppedByLimit ? 'ok' : signal !== null ? 'interrupted' : 'failed';
    const exitCode = stoppedByLimit ? EXIT.ok : signal !== null ? interruptExitCode(signal) : exitCodeOf(failure);
    if (stoppedByLimit) this.log.info(`service provider ${this.provider.id}: stopped at --max-pages or --max-duration after ${base.pages.read} pages; the next pass resumes at page ${base.pages.resumeAt}`);
    const summary = this.summary(base, null, client);
    const runId = this.config.dryRun
      ? null
      : await recordRun(
          this.db,
          { command: JASPER_COMMAND, status: status === 'interrupted' ? 'interrupted' : status === 'ok' ? 'ok' : 'failed', dryRun: false, startedAt: this.startedAt, finishedAt: new Date(), exitCode, summary, error },
          error === null ? [] : [{ level: 'error', type: 'listing', ref: this.provider.id, message: error }],
        );
    return { ...base, status, exitCode, runId, promotion: null, apiCalls: this.calls.toJSON(), retries: { ...client.retries }, error };
  }

  private summary(base: Omit<ProviderResult, 'status' | 'exitCode' | 'runId' | 'promotion' | 'apiCalls' | 'error'>, promotion: Promotion | null, client: JasperClient) {
    return {
      provider: this.provider.id,
      mode: base.mode,
      modifiedSince: base.modifiedSince,
      pages: base.pages,
      staged: base.staged,
      ...(promotion
        ? { create: promotion.create.length, update: promotion.update.length, unchanged: promotion.unchanged, skipped: promotion.skipped.length, duplicates: promotion.duplicates }
        : {}),
      retries: { ...client.retries },
      apiCalls: this.calls.toJSON(),
    };
  }
}

/** One event per SIM promoted (created, or updated with its changed fields) and per record skipped, under the ICCID. */
function promotionEvents(providerId: string, promotion: Promotion): RunEvent[] {
  const events: RunEvent[] = [];
  for (const sim of promotion.create) events.push({ level: 'info', type: 'create', ref: sim.iccid, message: `${providerId}: created (${sim.status})` });
  for (const { sim, changes } of promotion.update) {
    events.push({ level: 'info', type: 'update', ref: sim.iccid, message: `${providerId}: ${changes.map((c) => `${c.field} ${c.old ?? 'null'} -> ${c.new ?? 'null'}`).join(', ')}` });
  }
  for (const s of promotion.skipped) events.push({ level: 'info', type: 'skip', ref: s.ref, message: `${providerId}: ${s.reason}` });
  for (const u of promotion.unknownStatus) events.push({ level: 'warn', type: 'warning', ref: u.iccid, message: `${providerId}: status ${u.status} is not one Control Center documents; stored as sent` });
  if (promotion.duplicates > 0) events.push({ level: 'info', type: 'warning', ref: providerId, message: `${promotion.duplicates} ICCIDs listed more than once: the last listed (the newest) was kept` });
  return events;
}
