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
}

export class PushError extends Error {
  override readonly name = 'PushError';
  constructor(
    message: string,
    /** The push URL without credentials. */
    public readonly url: string,
    /** HTTP status when the gateway answered, undefined when it could not be reached. */
    public readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
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
export const PUSH_CONTENT_TYPE = 'text/plain; version=0.0.4';

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

  return registry.metrics();
}

/** The URL without user:password (for messages); unparseable input is not echoed at all. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return '(unparseable Pushgateway URL)';
  }
}

/** One grouping-key path segment pair; label values containing '/' use the gateway's base64 form. */
function groupingSegment(name: string, value: string): string {
  if (value === '' || value.includes('/')) {
    return `${name}@base64/${Buffer.from(value, 'utf8').toString('base64url') || '='}`;
  }
  return `${name}/${encodeURIComponent(value)}`;
}

/** The push URL for a command, plus an Authorization header for credentials given in the URL. */
export function pushTarget(pushgatewayUrl: string, command: string): { url: string; authorization?: string } {
  let u: URL;
  try {
    u = new URL(pushgatewayUrl);
  } catch {
    throw new PushError('invalid Pushgateway URL (expected http(s)://host:port)', redactUrl(pushgatewayUrl));
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new PushError(`invalid Pushgateway URL ${redactUrl(pushgatewayUrl)}: expected http or https`, redactUrl(pushgatewayUrl));
  }
  let authorization: string | undefined;
  if (u.username || u.password) {
    // fetch refuses URLs with credentials: send them as basic auth instead.
    const user = decodeURIComponent(u.username);
    const pass = decodeURIComponent(u.password);
    authorization = `Basic ${Buffer.from(`${user}:${pass}`, 'utf8').toString('base64')}`;
    u.username = '';
    u.password = '';
  }
  u.pathname = `${u.pathname.replace(/\/+$/, '')}/metrics/job/${PUSH_JOB}/${groupingSegment('command', command)}`;
  u.search = '';
  u.hash = '';
  return authorization ? { url: u.toString(), authorization } : { url: u.toString() };
}

function scrubber(pushgatewayUrl: string): (text: string) => string {
  const secrets: string[] = [];
  try {
    const u = new URL(pushgatewayUrl);
    for (const raw of [u.password, u.username]) {
      if (!raw) continue;
      secrets.push(raw);
      try {
        secrets.push(decodeURIComponent(raw));
      } catch {
        /* raw form only */
      }
    }
  } catch {
    /* nothing to scrub */
  }
  const list = secrets.filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
  return (text) => list.reduce((t, s) => t.split(s).join('***'), text);
}

function describeFetchError(err: unknown): string {
  const cause = (err as { cause?: unknown } | null)?.cause;
  const code = (cause as { code?: unknown } | null)?.code;
  const causeMessage = cause instanceof Error ? cause.message : undefined;
  let detail: string;
  if (typeof code === 'string') detail = causeMessage?.includes(code) ? causeMessage : `${code}${causeMessage ? `: ${causeMessage}` : ''}`;
  else detail = causeMessage ?? (err instanceof Error ? err.message : String(err));
  return `request failed (${detail})`;
}

/**
 * POSTs the run's metrics to `<pushgatewayUrl>/metrics/job/portal_sync/command/<command>`.
 * Throws PushError (URL without credentials, HTTP status when there was one) on any failure.
 */
export async function pushRunMetrics(pushgatewayUrl: string, m: RunMetrics, opts: { timeoutMs?: number } = {}): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const target = pushTarget(pushgatewayUrl, m.command);
  const shownUrl = target.url; // credentials already removed
  const scrub = scrubber(pushgatewayUrl);
  const body = await renderRunMetrics(m);

  const headers: Record<string, string> = { 'Content-Type': PUSH_CONTENT_TYPE };
  if (target.authorization) headers.Authorization = target.authorization;

  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    let res: Response;
    try {
      res = await fetch(target.url, { method: 'POST', headers, body, signal: controller.signal });
    } catch (err) {
      const reason = controller.signal.aborted ? `no answer within ${timeoutMs} ms` : describeFetchError(err);
      throw new PushError(`pushing metrics to ${shownUrl} failed: ${scrub(reason)}`, shownUrl, undefined, { cause: err });
    }
    let text = '';
    try {
      text = await res.text();
    } catch {
      /* the status is what matters */
    }
    if (res.status < 200 || res.status > 299) {
      const snippet = text.trim().replace(/\s+/g, ' ').slice(0, 200);
      const statusText = res.statusText ? ` ${res.statusText}` : '';
      throw new PushError(
        scrub(`pushing metrics to ${shownUrl} failed: HTTP ${res.status}${statusText}${snippet ? `: ${snippet}` : ''}`),
        shownUrl,
        res.status,
      );
    }
  } finally {
    clearTimeout(timer);
  }
}
