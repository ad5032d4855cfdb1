import type { Knex } from 'knex';
import { ConfigError, resolvePassConfig, UsageError, type CommonOptions, type Env, type PassConfig } from '../config.js';
import { ApiCallCounter } from '../providers/errors.js';
import { EXIT } from '../run/exit.js';
import { exitCodeOf } from '../run/exit-code.js';
import type { FleetGauge, FleetReadings, Withheld } from '../run/fleet-gauges.js';
import { FLEET_JOB, pushFleetGauges, writeFleetTextfile } from '../run/fleet-metrics.js';
import { checkInterrupted, handleInterrupts, type Interruption } from '../run/interrupt.js';
import { JobFailure, runJob } from '../run/job.js';
import { createLogger, type Logger } from '../run/log.js';
import { PushError, redactUrl } from '../run/pushgateway.js';
import { recordRun, type RunEvent } from '../store/runlog.js';
import type { FleetProvider } from '../store/fleet-counts.js';
import { printFleetResult, type FleetFormat } from './fleet-output.js';
import { fleetSourceOf, type FleetSource } from './fleet-sources.js';
import { reportUnrunPass } from './report-unrun.js';
import { pushRunMetricsOrWarn, runMetricsHead } from '../run/push-run-metrics.js';

export type MetricsSource = 'provider' | 'db';

export interface MetricsPushOptions extends CommonOptions {
  provider: FleetProvider;
  source?: MetricsSource;
  instanceLabel?: string;
  textfile?: string;
  format?: FleetFormat;
  maxRetries?: string;
  requestTimeout?: string;
  pageBudget?: string;
  rate?: string;
}

/** Where the measured gauges went; null where they were not sent (a dry run, no destination). */
export interface FleetDelivery {
  readonly pushed: { readonly url: string; readonly job: string; readonly instance: string } | null;
  readonly textfile: { readonly path: string; readonly carriedOver: readonly FleetGauge[] } | null;
}

export interface MetricsPushResult extends FleetDelivery {
  readonly command: string;
  readonly provider: FleetProvider;
  readonly source: MetricsSource;
  readonly instance: string | null;
  readonly status: 'ok' | 'partial' | 'failed' | 'locked' | 'interrupted';
  readonly dryRun: boolean;
  readonly exitCode: number;
  readonly runId: number | null;
  readonly startedAt: Date;
  readonly finishedAt: Date;
  readonly readings: FleetReadings;
  readonly apiCalls: Record<string, number>;
  readonly quota: { readonly throttled: number; readonly waitMs: number };
  readonly error: string | null;
}

const NO_READINGS: FleetReadings = { values: {}, withheld: [] };
const MAX_LABEL_LENGTH = 255;

/** The command's name in the run log, its lock and its run metrics: one per provider, so both can run at once. */
export const metricsCommandName = (provider: FleetProvider) => `metrics-push-${provider}`;

/**
 * `metrics push`: measures the fleet gauges once, under the command's lock, and hands them to
 * Prometheus (a Pushgateway group, a textfile, or stdout), recording the run like every pass.
 */
export async function runMetricsPush(opts: MetricsPushOptions, env: Env): Promise<number> {
  const startedAt = new Date();
  const command = metricsCommandName(opts.provider);
  const sourceName: MetricsSource = opts.source ?? 'provider';
  let config: PassConfig;
  let source: FleetSource;
  let textfile: string | null;
  try {
    config = resolvePassConfig(command, opts, env, process.stdout.isTTY === true);
    if (opts.json && opts.format === 'prometheus') throw new UsageError('--json and --format prometheus each choose the output: give one');
    textfile = opts.textfile ?? null;
    if (textfile !== null && !textfile.endsWith('.prom')) {
      throw new UsageError(`--textfile ${textfile}: node_exporter's textfile collector reads only files ending in .prom`);
    }
    const label = opts.instanceLabel?.trim();
    if (label !== undefined && (label === '' || label.length > MAX_LABEL_LENGTH)) {
      throw new UsageError(`--instance-label must be 1 to ${MAX_LABEL_LENGTH} characters`);
    }
    source = fleetSourceOf(opts.provider, sourceName, opts, env, label ?? null);
    if (config.pushgateway !== null && source.instance() === null && !source.labelAfterMeasure) {
      throw new ConfigError(`--instance-label is needed to push the ${opts.provider} gauges from --source ${sourceName}: no stable name of the fleet can be derived`);
    }
  } catch (error) {
    const log = createLogger({ format: opts.logFormat === 'json' ? 'json' : 'text', command });
    await reportUnrunPass(command, opts, env, error, startedAt, log);
    throw error;
  }
  const log = createLogger({ format: config.logFormat, command });
  if (config.dbIsDefault) log.info(`portal database: ${config.db.display} (the default; set --db or PORTAL_SYNC_DB to choose)`);
  const interruption = handleInterrupts();
  const calls = new ApiCallCounter();
  const base = { command, provider: opts.provider, source: sourceName, dryRun: config.dryRun, startedAt } as const;
  const finish = (fields: Partial<MetricsPushResult> & Pick<MetricsPushResult, 'status' | 'exitCode'>): MetricsPushResult => ({
    ...base,
    instance: null,
    runId: null,
    readings: NO_READINGS,
    pushed: null,
    textfile: null,
    apiCalls: calls.toJSON(),
    quota: { ...calls.quota },
    finishedAt: new Date(),
    error: null,
    ...fields,
  });

  const result = await runJob(
    config,
    log,
    startedAt,
    async ({ db }) => {
      const readings = await source.measure(db, calls, log);
      checkInterrupted(interruption);
      const instance = source.instance();
      if (config.dryRun) return finish({ ...outcome(readings), instance, readings });
      const delivery = await deliver(readings, instance, config, textfile, log);
      const failure = delivery.failure;
      const { status, exitCode } = failure ? { status: 'failed' as const, exitCode: failure.exitCode } : outcome(readings);
      const runId = await record(db, config, startedAt, status, exitCode, readings, instance, delivery, calls, failure?.message ?? null, interruption);
      return finish({ status, exitCode, instance, readings, pushed: delivery.pushed, textfile: delivery.textfile, runId, error: failure?.message ?? withheldError(readings) });
    },
    (end) => finish({ status: end.status, exitCode: end.exitCode, error: end.error, runId: end.runId }),
  );
  await printFleetResult(result, { json: config.json, format: opts.format ?? 'table', color: config.color, logFormat: config.logFormat }, log);
  if (config.pushgateway && !config.dryRun && result.status !== 'locked') await pushOwnRunMetrics(config.pushgateway, result, log);
  if (interruption.received() !== null) {
    await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
    process.exit(result.exitCode);
  }
  return result.exitCode;
}

/** ok, or partial when a gauge could not be measured this time (never for one the source cannot measure at all). */
function outcome(readings: FleetReadings): { status: 'ok' | 'partial'; exitCode: number } {
  return readings.withheld.some((w) => w.kind === 'failed') ? { status: 'partial', exitCode: EXIT.partial } : { status: 'ok', exitCode: EXIT.ok };
}

function withheldError(readings: FleetReadings): string | null {
  const failed = readings.withheld.filter((w) => w.kind === 'failed');
  if (failed.length === 0) return null;
  const gauges = failed.flatMap((w) => w.gauges);
  return `${gauges.length} gauge${gauges.length === 1 ? '' : 's'} withheld (not measured, last pushed value kept): ${failed.map((w) => `${w.gauges.join(', ')}: ${w.reason}`).join('; ')}`;
}

/**
 * Sends the measured gauges to each destination asked for. A destination that fails makes the run
 * failed (the gauges did not reach Prometheus): 69 when the gateway cannot be reached, 1 when it
 * answered with an error, the mapped code of a textfile that cannot be written.
 */
async function deliver(
  readings: FleetReadings,
  instance: string | null,
  config: PassConfig,
  textfile: string | null,
  log: Logger,
): Promise<FleetDelivery & { failure: { message: string; exitCode: number } | null }> {
  let pushed: FleetDelivery['pushed'] = null;
  let written: FleetDelivery['textfile'] = null;
  const measured = Object.keys(readings.values).length;
  if (config.pushgateway !== null && measured > 0) {
    if (instance === null) throw new JobFailure('no --instance-label given, and none can be derived for this provider and source', EXIT.config);
    try {
      await pushFleetGauges(config.pushgateway, instance, readings.values);
      pushed = { url: redactUrl(config.pushgateway), job: FLEET_JOB, instance };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const exitCode = error instanceof PushError && error.status === undefined ? EXIT.unavailable : EXIT.failed;
      return { pushed, textfile: written, failure: { message, exitCode } };
    }
  }
  if (textfile !== null) {
    try {
      const carriedOver = await writeFleetTextfile(textfile, readings.values);
      written = { path: textfile, carriedOver };
    } catch (error) {
      const message = `cannot write --textfile ${textfile}: ${error instanceof Error ? error.message : String(error)}`;
      return { pushed, textfile: written, failure: { message, exitCode: exitCodeOf(error) === EXIT.failed ? EXIT.config : exitCodeOf(error) } };
    }
  }
  return { pushed, textfile: written, failure: null };
}

async function record(
  db: Knex,
  config: PassConfig,
  startedAt: Date,
  status: 'ok' | 'partial' | 'failed',
  exitCode: number,
  readings: FleetReadings,
  instance: string | null,
  delivery: FleetDelivery,
  calls: ApiCallCounter,
  error: string | null,
  interruption: Interruption,
): Promise<number> {
  checkInterrupted(interruption);
  const events: RunEvent[] = readings.withheld.map(withheldEvent);
  if (error !== null) events.push({ level: 'error', type: 'error', ref: null, message: error });
  return recordRun(
    db,
    {
      command: config.command,
      status,
      dryRun: false,
      startedAt,
      finishedAt: new Date(),
      exitCode,
      summary: {
        instance,
        gauges: readings.values,
        withheld: readings.withheld.map((w) => ({ gauges: w.gauges, kind: w.kind, reason: w.reason })),
        pushed: delivery.pushed,
        textfile: delivery.textfile?.path ?? null,
        apiCalls: calls.toJSON(),
      },
      error: error ?? withheldError(readings),
    },
    events,
  );
}

function withheldEvent(w: Withheld): RunEvent {
  return { level: w.kind === 'failed' ? 'error' : 'info', type: 'withheld', ref: null, message: `${w.gauges.join(', ')}: ${w.reason}` };
}

/** The run's own `portal_sync_*` metrics, to their usual group: a warning when they cannot go. */
function pushOwnRunMetrics(url: string, result: MetricsPushResult, log: Logger): Promise<void> {
  const failed = result.readings.withheld.filter((w) => w.kind === 'failed').reduce((n, w) => n + w.gauges.length, 0);
  const skipped = result.readings.withheld.filter((w) => w.kind === 'unavailable').reduce((n, w) => n + w.gauges.length, 0);
  return pushRunMetricsOrWarn(
    url,
    {
      ...runMetricsHead(result),
      changes: { create: 0, update: 0, delete: 0 },
      records: { unchanged: Object.keys(result.readings.values).length, skipped, failed },
      apiCalls: result.apiCalls,
      quota: { throttled: result.quota.throttled, waitSeconds: result.quota.waitMs / 1000 },
    },
    log,
    'run metrics',
  );
}
