/**
 * The Control Center emulator's injected faults and rate limits, over real HTTP: each kind, `times`,
 * `page`, `provider`, the fixture's `rateLimit` (400 errorCode 40000029) and the 429 form.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startJasperEmulator, type JasperEmulator, type JasperFixtureInput } from '../../src/emulators/jasper/index.js';
import { jasperApi, startTestJasper, type Device, type JasperApi } from '../support/jasper.js';

const NOW = Date.parse('2026-11-25T12:00:00Z');
const SINCE = '2026-11-01T00:00:00Z';

function devices(n: number, prefix = '89012600'): Array<Record<string, unknown>> {
  return Array.from({ length: n }, (_, i) => ({
    iccid: `${prefix}${String(i + 1).padStart(12, '0')}`,
    status: 'ACTIVATED',
    ratePlan: 'IoT Basic 10MB',
    communicationPlan: 'Data Only LTE',
    modifiedAt: new Date(Date.parse('2026-11-10T00:00:00Z') + i * 1000).toISOString(),
  }));
}

let emu: JasperEmulator | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

async function start(section: JasperFixtureInput, clock?: () => number): Promise<JasperApi> {
  emu = await startJasperEmulator({ fixture: section, now: () => NOW, ...(clock ? { clock } : {}) });
  return jasperApi(emu);
}

const twoProviders = (faults: unknown[], extra: Record<string, unknown> = {}) => ({
  providers: [
    { id: 'sp1', devices: devices(120), ...extra },
    { id: 'sp2', devices: devices(3, '89012601') },
  ],
  faults,
});

describe('error', () => {
  it('500 JSON by default, 503 with an HTML body; `times` spends it, then requests pass', async () => {
    const api = await start(twoProviders([{ kind: 'error', times: 2 }, { kind: 'error', status: 503, times: 1 }]));
    for (let i = 0; i < 2; i++) {
      const r = await api.list('sp1', { modifiedSince: SINCE });
      expect(r.status).toBe(500);
      expect(r.body).toEqual({ errorMessage: 'Internal server error (injected fault: error)', errorCode: 'INTERNAL_ERROR' });
    }
    const html = await api.list('sp2', { modifiedSince: SINCE });
    expect(html.status).toBe(503);
    expect(html.headers.get('content-type')).toMatch(/^text\/html/);
    expect(html.text).toContain('<h1>503 Service Unavailable</h1>');
    expect((await api.list('sp1', { modifiedSince: SINCE })).status).toBe(200);
    expect(await api.stats()).toMatchObject({
      faults: { error: 3 },
      statuses: { '500': 2, '503': 1, '200': 1 },
      providers: { sp1: { faults: { error: 2 }, statuses: { '500': 2, '200': 1 } }, sp2: { faults: { error: 1 }, statuses: { '503': 1 } } },
    });
  });

  it('without `times`, always; `provider` limits it to that provider; faults come after authentication', async () => {
    const api = await start(twoProviders([{ kind: 'error', provider: 'sp2' }]));
    for (let i = 0; i < 3; i++) expect((await api.list('sp2', { modifiedSince: SINCE })).status).toBe(500);
    expect((await api.list('sp1', { modifiedSince: SINCE })).status).toBe(200);
    expect((await api.list('sp2', { modifiedSince: SINCE }, { auth: null })).status).toBe(401);
    // Bad parameters: the fault still answers first.
    expect((await api.list('sp2', { modifiedSince: 'bad' })).status).toBe(500);
    expect((await api.stats()).providers.sp2.faults).toEqual({ error: 4 });
  });
});

describe('rate limits', () => {
  it('the fault answers Control Center\'s 400 errorCode 40000029 "Rate Limit Exceeded", without Retry-After', async () => {
    const api = await start(twoProviders([{ kind: 'rate-limit', times: 1 }]));
    const r = await api.list('sp1', { modifiedSince: SINCE });
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ errorMessage: 'Rate Limit Exceeded', errorCode: '40000029' });
    expect(r.headers.get('retry-after')).toBeNull();
    expect((await api.list('sp1', { modifiedSince: SINCE })).status).toBe(200);
    expect((await api.stats()).faults).toEqual({ 'rate-limit': 1 });
  });

  it('with status 429, a 429 with Retry-After (1 by default, or the seconds asked)', async () => {
    const api = await start(twoProviders([{ kind: 'rate-limit', status: 429, times: 1 }, { kind: 'rate-limit', status: 429, retryAfterSeconds: 7, times: 1 }]));
    const first = await api.list('sp1', { modifiedSince: SINCE });
    expect(first.status).toBe(429);
    expect(first.headers.get('retry-after')).toBe('1');
    expect(first.body).toEqual({ errorMessage: 'Rate Limit Exceeded', errorCode: '40000029' });
    const second = await api.list('sp1', { modifiedSince: SINCE });
    expect(second.status).toBe(429);
    expect(second.headers.get('retry-after')).toBe('7');
    expect((await api.list('sp1', { modifiedSince: SINCE })).status).toBe(200);
  });

  it('a provider\'s rateLimit refuses what exceeds it (400 40000029) in a sliding window; refusals take no slot; other providers are not limited', async () => {
    let t = 0;
    const api = await start(twoProviders([], { rateLimit: '2/s' }), () => t);
    const statuses = async (provider: string, n: number) => {
      const out: number[] = [];
      for (let i = 0; i < n; i++) out.push((await api.list(provider, { modifiedSince: SINCE })).status);
      return out;
    };
    expect(await statuses('sp1', 4)).toEqual([200, 200, 400, 400]);
    const refused = await api.list('sp1', { modifiedSince: SINCE });
    expect(refused.body).toEqual({ errorMessage: 'Rate Limit Exceeded', errorCode: '40000029' });
    expect(await statuses('sp2', 5)).toEqual([200, 200, 200, 200, 200]);
    t = 999;
    expect(await statuses('sp1', 1)).toEqual([400]);
    t = 1000;
    expect(await statuses('sp1', 3)).toEqual([200, 200, 400]);
    const stats = await api.stats();
    expect(stats.providers.sp1).toMatchObject({ rateLimited: 5, pages: 4, statuses: { '200': 4, '400': 5 } });
    expect(stats.rateLimited).toBe(5);
    expect(stats.rateLimits).toEqual({ sp1: { rate: '2/s', limit: 2, windowMs: 1000, used: 2 } });
    // A paced client (one call each half second) is never refused.
    t = 5000;
    for (let i = 0; i < 6; i++, t += 500) expect(await statuses('sp1', 1)).toEqual([200]);
  });

  it('a wrong key is refused before the rate limit counts the request', async () => {
    let t = 0;
    const api = await start(twoProviders([], { rateLimit: '1/min' }), () => t);
    for (let i = 0; i < 3; i++) expect((await api.list('sp1', { modifiedSince: SINCE }, { auth: null })).status).toBe(401);
    expect((await api.list('sp1', { modifiedSince: SINCE })).status).toBe(200);
    expect((await api.list('sp1', { modifiedSince: SINCE })).status).toBe(400);
  });
});

describe('timeout', () => {
  it('never answers until the client gives up, and the server still closes promptly', async () => {
    const api = await start(twoProviders([{ kind: 'timeout', times: 1 }, { kind: 'timeout', provider: 'sp2' }]));
    const aborted = await api.list('sp1', { modifiedSince: SINCE }, { signal: AbortSignal.timeout(300) }).then(
      () => 'answered',
      (e: Error) => e.name,
    );
    expect(aborted).toBe('TimeoutError');
    expect((await api.list('sp1', { modifiedSince: SINCE })).status).toBe(200);
    const pending = api.list('sp2', { modifiedSince: SINCE }).then(
      () => 'answered',
      (e: Error) => e.name,
    );
    await new Promise((r) => setTimeout(r, 200));
    expect((await api.stats()).faults).toEqual({ timeout: 2 });
    const closing = performance.now();
    await emu!.close();
    expect(await pending).toBe('TypeError');
    expect(performance.now() - closing).toBeLessThan(2000);
  });
});

describe('page', () => {
  it('the K-th page of any listing fails (500 by default); `times` lets the retry of that page pass', async () => {
    const api = await start(twoProviders([{ kind: 'page', page: 2, times: 1 }, { kind: 'page', page: 3, status: 503, provider: 'sp2' }]));
    expect((await api.list('sp1', { modifiedSince: SINCE, pageNumber: 1 })).status).toBe(200);
    const failed = await api.list('sp1', { modifiedSince: SINCE, pageNumber: 2 });
    expect(failed.status).toBe(500);
    expect(failed.body.errorCode).toBe('INTERNAL_ERROR');
    const retried = await api.list('sp1', { modifiedSince: SINCE, pageNumber: 2 });
    expect(retried.status).toBe(200);
    expect(retried.body.devices[0].iccid).toBe(devices(120)[50]!['iccid']);
    // sp2's page 3 (past its end) fails every time; sp1's page 3 does not.
    expect((await api.list('sp1', { modifiedSince: SINCE, pageNumber: 3 })).status).toBe(200);
    for (let i = 0; i < 2; i++) expect((await api.list('sp2', { modifiedSince: SINCE, pageNumber: 3 })).status).toBe(503);
    expect((await api.list('sp2', { modifiedSince: SINCE, pageNumber: 1 })).status).toBe(200);
  });

  it('on the last page of a listing, with the rate-limit answers (400 and 429) too; `page` also filters other kinds', async () => {
    const api = await start(twoProviders([
      { kind: 'page', page: 3, status: 400, times: 1 },
      { kind: 'page', page: 3, status: 429, retryAfterSeconds: 2, times: 1 },
      { kind: 'rate-limit', page: 1, provider: 'sp2', times: 1 },
    ]));
    const last = await api.list('sp1', { modifiedSince: SINCE, pageNumber: 3 });
    expect(last.status).toBe(400);
    expect(last.body.errorCode).toBe('40000029');
    const again = await api.list('sp1', { modifiedSince: SINCE, pageNumber: 3 });
    expect(again.status).toBe(429);
    expect(again.headers.get('retry-after')).toBe('2');
    const ok = await api.list('sp1', { modifiedSince: SINCE, pageNumber: 3 });
    expect(ok.body).toMatchObject({ pageNumber: 3, lastPage: true });
    expect((await api.list('sp2', { modifiedSince: SINCE, pageNumber: 2 })).status).toBe(200);
    expect((await api.list('sp2', { modifiedSince: SINCE })).status).toBe(400);
    expect((await api.list('sp2', { modifiedSince: SINCE })).status).toBe(200);
  });
});

describe('bad-record', () => {
  it('serves the page with its first record missing iccid by default; the others as they are', async () => {
    const api = await start(twoProviders([{ kind: 'bad-record', page: 2, times: 1 }]));
    const first = await api.list('sp1', { modifiedSince: SINCE });
    expect((first.body.devices as Device[]).every((d) => typeof d.iccid === 'string')).toBe(true);
    const bad = await api.list('sp1', { modifiedSince: SINCE, pageNumber: 2 });
    expect(bad.status).toBe(200);
    expect(bad.body.devices).toHaveLength(50);
    const { iccid: _gone, ...rest } = devices(120)[50]!;
    expect(bad.body.devices[0]).toEqual({ status: rest['status'], ratePlan: rest['ratePlan'], communicationPlan: rest['communicationPlan'] });
    expect(bad.body.devices[1].iccid).toBe(devices(120)[51]!['iccid']);
    // Spent: the retry of the page is clean, and the state was never touched.
    expect((await api.list('sp1', { modifiedSince: SINCE, pageNumber: 2 })).body.devices[0].iccid).toBe(devices(120)[50]!['iccid']);
    expect((await api.state('sp1'))[50]!.iccid).toBe(devices(120)[50]!['iccid']);
    expect((await api.stats()).faults).toEqual({ 'bad-record': 1 });
  });

  it('each flaw at the position asked (past the page\'s end: its last record); an empty page is not spoiled and does not spend it', async () => {
    const api = await start(twoProviders([
      { kind: 'bad-record', provider: 'sp2', flaw: 'null-status', position: 50, times: 1 },
      { kind: 'bad-record', provider: 'sp1', flaw: 'numeric-iccid', position: 2, times: 1 },
      { kind: 'bad-record', provider: 'sp1', flaw: 'null-iccid', times: 1 },
      { kind: 'bad-record', provider: 'sp1', flaw: 'blank-ratePlan', times: 1 },
      { kind: 'bad-record', provider: 'sp1', flaw: 'missing-communicationPlan', times: 1 },
    ]));
    // sp2: a page past the end has no record: not spoiled, fault kept for the next page with records.
    expect((await api.list('sp2', { modifiedSince: SINCE, pageNumber: 2 })).body.devices).toEqual([]);
    const sp2 = await api.list('sp2', { modifiedSince: SINCE });
    expect(sp2.body.devices.map((d: Device) => d.status)).toEqual(['ACTIVATED', 'ACTIVATED', null]);
    const numeric = await api.list('sp1', { modifiedSince: SINCE });
    expect(numeric.text).toMatch(/"iccid":8901260\d+[,}]/);
    expect(typeof numeric.body.devices[1].iccid).toBe('number');
    expect(typeof numeric.body.devices[0].iccid).toBe('string');
    const nullIccid = await api.list('sp1', { modifiedSince: SINCE });
    expect(nullIccid.body.devices[0].iccid).toBeNull();
    expect((await api.list('sp1', { modifiedSince: SINCE })).body.devices[0].ratePlan).toBe('  ');
    const missingPlan = await api.list('sp1', { modifiedSince: SINCE });
    expect('communicationPlan' in missingPlan.body.devices[0]).toBe(false);
    expect((await api.list('sp1', { modifiedSince: SINCE })).body.devices[0]).toEqual({ iccid: devices(120)[0]!['iccid'], status: 'ACTIVATED', ratePlan: 'IoT Basic 10MB', communicationPlan: 'Data Only LTE' });
  });

  it('a bad request is not a listing: its 400 stands and the fault waits', async () => {
    const api = await start(twoProviders([{ kind: 'bad-record', times: 1 }]));
    expect((await api.list('sp1', { modifiedSince: 'bad' })).status).toBe(400);
    expect('iccid' in (await api.list('sp1', { modifiedSince: SINCE })).body.devices[0]).toBe(false);
  });
});

describe('order and counters', () => {
  it('the first fault that applies is used; `times: 0` never applies', async () => {
    const api = await start(twoProviders([{ kind: 'error', status: 503, times: 1 }, { kind: 'rate-limit', times: 1 }, { kind: 'error', times: 0 }]));
    expect((await api.list('sp1', { modifiedSince: SINCE })).status).toBe(503);
    expect((await api.list('sp1', { modifiedSince: SINCE })).status).toBe(400);
    // times 0: never.
    expect((await api.list('sp1', { modifiedSince: SINCE })).status).toBe(200);
  });

  it('a reload of the fixture file resets the `times` counters', async () => {
    const test = await startTestJasper(twoProviders([{ kind: 'error', times: 1 }]), { now: () => NOW });
    try {
      const api = jasperApi(test.emulator);
      expect((await api.list('sp1', { modifiedSince: SINCE })).status).toBe(500);
      expect((await api.list('sp1', { modifiedSince: SINCE })).status).toBe(200);
      test.write(twoProviders([{ kind: 'error', times: 1 }]));
      expect((await api.list('sp1', { modifiedSince: SINCE })).status).toBe(500);
      expect((await api.list('sp1', { modifiedSince: SINCE })).status).toBe(200);
    } finally {
      await test.close();
    }
  });
});
