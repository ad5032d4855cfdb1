import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { pushRunMetrics, PushError, renderRunMetrics, type RunMetrics } from '../../src/run/metrics.js';
import { requireOrSkip, startPushgateway } from '../support/services.js';

function run(overrides: Partial<RunMetrics> = {}): RunMetrics {
  return {
    command: 'devices',
    status: 'ok',
    startedAt: new Date('2026-11-23T10:00:00.000Z'),
    finishedAt: new Date('2026-11-23T10:00:12.500Z'),
    changes: { create: 3, update: 2, delete: 1 },
    records: { unchanged: 40, skipped: 4, failed: 0 },
    apiCalls: { 'devices.query': 7, 'modules.query': 2 },
    ...overrides,
  };
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/** The value of `name` in the portal_sync/<command> group with the given extra labels. */
function valueOf(samples: Sample[], name: string, extra: Record<string, string> = {}, command = 'devices'): number | undefined {
  const want = { job: 'portal_sync', command, ...extra };
  return samples.find((s) => s.name === name && Object.entries(want).every(([k, v]) => s.labels[k] === v))?.value;
}

async function localServer(handler: http.RequestListener): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('renderRunMetrics', () => {
  it('renders every gauge with HELP text from a private registry', async () => {
    const text = await renderRunMetrics(run());
    for (const name of [
      'portal_sync_last_run_timestamp_seconds',
      'portal_sync_last_success_timestamp_seconds',
      'portal_sync_run_duration_seconds',
      'portal_sync_changes',
      'portal_sync_records',
      'portal_sync_api_calls',
      'portal_sync_run_status',
    ]) {
      expect(text).toMatch(new RegExp(`^# HELP ${name} \\S`, 'm'));
      expect(text).toContain(`# TYPE ${name} gauge`);
    }
    const s = parseExposition(text);
    const v = (name: string, labels: Record<string, string> = {}) =>
      s.find((x) => x.name === name && Object.entries(labels).every(([k, val]) => x.labels[k] === val))?.value;
    expect(v('portal_sync_run_duration_seconds')).toBe(12.5);
    expect(v('portal_sync_last_run_timestamp_seconds')).toBe(Date.parse('2026-11-23T10:00:12.500Z') / 1000);
    expect(v('portal_sync_changes', { action: 'delete' })).toBe(1);
    expect(v('portal_sync_records', { state: 'skipped' })).toBe(4);
    expect(v('portal_sync_api_calls', { operation: 'devices.query' })).toBe(7);
    expect(v('portal_sync_run_status')).toBe(0);
    // no process/default metrics leak in: only our families
    expect(new Set(s.map((x) => x.name)).size).toBe(7);
  });

  it('leaves out last_success unless the run succeeded, and codes the status', async () => {
    const codes = { ok: 0, failed: 1, partial: 3, refused: 4 } as const;
    for (const status of ['ok', 'partial', 'failed', 'refused'] as const) {
      const text = await renderRunMetrics(run({ status }));
      const s = parseExposition(text);
      expect(s.find((x) => x.name === 'portal_sync_run_status')?.value).toBe(codes[status]);
      expect(text.includes('portal_sync_last_success_timestamp_seconds')).toBe(status === 'ok' || status === 'partial');
    }
  });
});

const gateway = await startPushgateway();
const haveGateway = requireOrSkip('Pushgateway tests', 'url' in gateway ? { ok: true } : { ok: false, reason: gateway.skipped });

describe.runIf(haveGateway)('pushRunMetrics against a real Pushgateway', () => {
  const gw = gateway as { url: string; stop(): Promise<void> };
  afterAll(() => gw.stop());

  const scrape = async () => {
    const res = await fetch(`${gw.url}/metrics`);
    expect(res.status).toBe(200);
    return parseExposition(await res.text());
  };

  it('pushes an ok run, then a failed run keeps the last success', async () => {
    // a fresh in-memory gateway: nothing left over from earlier runs
    expect((await scrape()).filter((x) => x.name.startsWith('portal_sync_'))).toEqual([]);
    const ok = run();
    await pushRunMetrics(gw.url, ok);
    let s = await scrape();
    const okSeconds = ok.finishedAt.getTime() / 1000;
    expect(valueOf(s, 'portal_sync_last_run_timestamp_seconds')).toBe(okSeconds);
    expect(valueOf(s, 'portal_sync_last_success_timestamp_seconds')).toBe(okSeconds);
    expect(valueOf(s, 'portal_sync_run_duration_seconds')).toBe(12.5);
    expect(valueOf(s, 'portal_sync_changes', { action: 'create' })).toBe(3);
    expect(valueOf(s, 'portal_sync_changes', { action: 'update' })).toBe(2);
    expect(valueOf(s, 'portal_sync_changes', { action: 'delete' })).toBe(1);
    expect(valueOf(s, 'portal_sync_records', { state: 'unchanged' })).toBe(40);
    expect(valueOf(s, 'portal_sync_records', { state: 'skipped' })).toBe(4);
    expect(valueOf(s, 'portal_sync_records', { state: 'failed' })).toBe(0);
    expect(valueOf(s, 'portal_sync_api_calls', { operation: 'devices.query' })).toBe(7);
    expect(valueOf(s, 'portal_sync_api_calls', { operation: 'modules.query' })).toBe(2);
    expect(valueOf(s, 'portal_sync_run_status')).toBe(0);
    // grouped by job and command only: no pod, no run id
    const ours = s.filter((x) => x.name.startsWith('portal_sync_'));
    for (const x of ours) expect(Object.keys(x.labels).sort()).toEqual(expect.arrayContaining(['command', 'job']));
    for (const x of ours) {
      expect(Object.keys(x.labels).filter((k) => !['command', 'job', 'instance', 'action', 'state', 'operation'].includes(k))).toEqual([]);
    }

    const failed = run({
      status: 'failed',
      startedAt: new Date('2026-11-23T11:00:00.000Z'),
      finishedAt: new Date('2026-11-23T11:00:03.000Z'),
      changes: { create: 0, update: 0, delete: 0 },
      records: { unchanged: 0, skipped: 0, failed: 5 },
    });
    await pushRunMetrics(gw.url, failed);
    s = await scrape();
    expect(valueOf(s, 'portal_sync_last_success_timestamp_seconds')).toBe(okSeconds);
    expect(valueOf(s, 'portal_sync_last_run_timestamp_seconds')).toBe(failed.finishedAt.getTime() / 1000);
    expect(valueOf(s, 'portal_sync_run_status')).toBe(1);
    expect(valueOf(s, 'portal_sync_run_duration_seconds')).toBe(3);
    expect(valueOf(s, 'portal_sync_records', { state: 'failed' })).toBe(5);
    expect(valueOf(s, 'portal_sync_changes', { action: 'create' })).toBe(0);
  });

  it('keeps commands in separate groups (command names are URL-encoded)', async () => {
    await pushRunMetrics(`${gw.url}/`, run({ command: 'metrics push', status: 'partial' }));
    await pushRunMetrics(gw.url, run({ command: 'things', status: 'refused' }));
    const s = await scrape();
    expect(valueOf(s, 'portal_sync_run_status', {}, 'metrics push')).toBe(3);
    expect(valueOf(s, 'portal_sync_run_status', {}, 'things')).toBe(4);
  });

  it('treats a status the gateway rejects as an error', async () => {
    // not a Pushgateway path: the gateway answers 404
    const err = await pushRunMetrics(`${gw.url}/not-here`, run()).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PushError);
    expect((err as PushError).status).toBe(404);
    expect((err as PushError).message).toContain('HTTP 404');
    expect((err as PushError).message).toContain(`${gw.url}/not-here/metrics/job/portal_sync/command/devices`);
  });
});

describe('pushRunMetrics failures', () => {
  it('rejects with a PushError that never shows the password when nothing listens', async () => {
    const err = await pushRunMetrics('http://user:secret@127.0.0.1:1', run(), { timeoutMs: 5000 }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PushError);
    const e = err as PushError;
    expect(e.status).toBeUndefined();
    expect(e.message).toContain('http://127.0.0.1:1/metrics/job/portal_sync/command/devices');
    expect(e.message).toMatch(/failed: request failed \(.+\)$/);
    expect(e.message).not.toContain('secret');
    expect(e.message).not.toContain('user:');
    expect(e.url).not.toContain('secret');
    expect(String(e.stack)).not.toContain('secret');
  });

  it('names the connection error when the port is closed', async () => {
    const srv = await localServer(() => undefined);
    const url = srv.url;
    await srv.close();
    const err = await pushRunMetrics(url.replace('http://', 'http://user:secret@'), run()).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PushError);
    expect((err as PushError).message).toContain('ECONNREFUSED');
    expect((err as PushError).message).not.toContain('secret');
  });

  it('fails on HTTP 500, sends basic auth from the URL, POSTs text format to the grouping key', async () => {
    const seen: { method?: string; url?: string; auth?: string; type?: string; body: string } = { body: '' };
    const srv = await localServer((req, res) => {
      seen.method = req.method;
      seen.url = req.url;
      seen.auth = req.headers.authorization;
      seen.type = req.headers['content-type'];
      req.on('data', (c: Buffer) => (seen.body += c.toString()));
      req.on('end', () => {
        res.statusCode = 500;
        res.end('storage full: secret');
      });
    });
    try {
      const withCreds = srv.url.replace('http://', 'http://user:secret@');
      const err = await pushRunMetrics(`${withCreds}/gw`, run()).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(PushError);
      const e = err as PushError;
      expect(e.status).toBe(500);
      expect(e.message).toContain('HTTP 500');
      expect(e.message).toContain(`${srv.url}/gw/metrics/job/portal_sync/command/devices`);
      expect(e.message).not.toContain('secret');
      expect(seen.method).toBe('POST');
      expect(seen.url).toBe('/gw/metrics/job/portal_sync/command/devices');
      expect(seen.auth).toBe(`Basic ${Buffer.from('user:secret').toString('base64')}`);
      expect(seen.type).toBe('text/plain; version=0.0.4');
      expect(seen.body).toContain('portal_sync_run_status 0');
    } finally {
      await srv.close();
    }
  });

  it('gives up after the timeout when the gateway does not answer', async () => {
    const srv = await localServer(() => {
      /* never answers */
    });
    try {
      const started = Date.now();
      const err = await pushRunMetrics(srv.url, run(), { timeoutMs: 200 }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(PushError);
      expect((err as PushError).message).toContain('no answer within 200 ms');
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await srv.close();
    }
  });

  it('rejects a URL that is not http(s)', async () => {
    await expect(pushRunMetrics('ftp://user:secret@example.org', run())).rejects.toBeInstanceOf(PushError);
    await expect(pushRunMetrics('not a url secret', run())).rejects.toThrow(/invalid Pushgateway URL/);
    await expect(pushRunMetrics('not a url secret', run())).rejects.not.toThrow(/secret/);
  });
});
