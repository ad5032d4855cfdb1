/**
 * Run metrics, pushed to a Prometheus Pushgateway after a pass.
 *
 * Grouping key: job="portal_sync", command="<command>" — stable across runs, never a pod name or a
 * run id (those would pile up one group per run in the gateway forever).
 * Pushed with POST (pushAdd): the gateway replaces only the metric families present in the body, so
 * `portal_sync_last_success_timestamp_seconds`, which is only sent by a successful (or partial) run,
 * keeps the time of the last success across failed runs. Alert on `time() - last_success`.
 */
import { Gauge, Registry } from 'prom-client';
import { pushExposition } from './pushgateway.js';

export { PushError } from './pushgateway.js';

export interface RunMetrics {
  command: string;
  status: 'ok' | 'partial' | 'failed' | 'refused' | 'interrupted';
  startedAt: Date;
  finishedAt: Date;
  changes: { create: number; update: number; delete: number };
  records: { unchanged: number; skipped: number; failed: number };
  /** operation -> number of calls */
  apiCalls: Record<string, number>;
  /** Throttled requests and seconds spent waiting on the provider's quota; absent for a run that made no call. */
  quota?: { throttled: number; waitSeconds: number };
  /** The command's own gauges, pushed in the same group (navixy-customers: its counts and validation). */
  gauges?: readonly CommandGauge[];
}

export interface CommandGauge {
  readonly name: string;
  readonly help: string;
  /** One value, or one per label set (all with the same label names). */
  readonly values: ReadonlyArray<{ readonly labels?: Readonly<Record<string, string>>; readonly value: number }>;
}

/** Numeric run status: the same numbers as the exit codes where one exists. */
export const RUN_STATUS_CODE: Record<RunMetrics['status'], number> = {
  ok: 0,
  failed: 1,
  partial: 3,
  refused: 4,
  interrupted: 5,
};

export const PUSH_JOB = 'portal_sync';

const seconds = (d: Date) => d.getTime() / 1000;

/** Prometheus text exposition of one run, from a fresh registry (never the global one). */
export async function renderRunMetrics(m: RunMetrics): Promise<string> {
  const registry = new Registry();
  const registers = [registry];

  new Gauge({
    name: 'portal_sync_last_run_timestamp_seconds',
    help: 'Unix time at which the last portal-sync pass of this command finished, whatever its outcome.',
    registers,
  }).set(seconds(m.finishedAt));

  if (m.status === 'ok' || m.status === 'partial') {
    new Gauge({
      name: 'portal_sync_last_success_timestamp_seconds',
      help: 'Unix time at which the last successful (ok or partial) portal-sync pass of this command finished.',
      registers,
    }).set(seconds(m.finishedAt));
  }

  new Gauge({
    name: 'portal_sync_run_duration_seconds',
    help: 'Wall-clock duration of the last portal-sync pass of this command.',
    registers,
  }).set(Math.max(0, (m.finishedAt.getTime() - m.startedAt.getTime()) / 1000));

  const changes = new Gauge({
    name: 'portal_sync_changes',
    help: 'Rows created, updated and deleted by the last portal-sync pass of this command.',
    labelNames: ['action'] as const,
    registers,
  });
  changes.set({ action: 'create' }, m.changes.create);
  changes.set({ action: 'update' }, m.changes.update);
  changes.set({ action: 'delete' }, m.changes.delete);

  const records = new Gauge({
    name: 'portal_sync_records',
    help: 'Remote records left unchanged, skipped (with a reason) or failed in the last portal-sync pass of this command.',
    labelNames: ['state'] as const,
    registers,
  });
  records.set({ state: 'unchanged' }, m.records.unchanged);
  records.set({ state: 'skipped' }, m.records.skipped);
  records.set({ state: 'failed' }, m.records.failed);

  const apiCalls = new Gauge({
    name: 'portal_sync_api_calls',
    help: 'Calls made to provider APIs by the last portal-sync pass of this command, by operation.',
    labelNames: ['operation'] as const,
    registers,
  });
  for (const [operation, count] of Object.entries(m.apiCalls).sort(([a], [b]) => a.localeCompare(b))) {
    apiCalls.set({ operation }, count);
  }

  if (m.quota) {
    new Gauge({
      name: 'portal_sync_throttle_wait_seconds',
      help: "Seconds the last pass of this command waited on the provider's quota: pacing (--rate) and throttled answers.",
      registers,
    }).set(m.quota.waitSeconds);
    new Gauge({
      name: 'portal_sync_throttled_requests_total',
      help: 'Requests of the last pass of this command that the provider answered with a throttle (HTTP 429).',
      registers,
    }).set(m.quota.throttled);
  }

  new Gauge({
    name: 'portal_sync_run_status',
    help: 'Outcome of the last portal-sync pass of this command: 0 ok, 1 failed, 3 partial (applied, some records failed), 4 refused (mass-delete guard), 5 interrupted.',
    registers,
  }).set(RUN_STATUS_CODE[m.status]);

  for (const gauge of m.gauges ?? []) {
    const labelNames = Object.keys(gauge.values[0]?.labels ?? {});
    const g = new Gauge({ name: gauge.name, help: gauge.help, labelNames, registers });
    for (const { labels, value } of gauge.values) {
      if (labels) g.set(labels, value);
      else g.set(value);
    }
  }

  return registry.metrics();
}

/**
 * POSTs the run's metrics to `<pushgatewayUrl>/metrics/job/portal_sync/command/<command>`.
 * Throws PushError (URL without credentials, HTTP status when there was one) on any failure.
 */
export async function pushRunMetrics(pushgatewayUrl: string, m: RunMetrics, opts: { timeoutMs?: number } = {}): Promise<void> {
  await pushExposition(pushgatewayUrl, [['job', PUSH_JOB], ['command', m.command]], await renderRunMetrics(m), opts);
}
