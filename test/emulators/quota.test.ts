/**
 * The emulated hub's query quota and its time scale. Time is injected (`clock`): no test waits for
 * a window to pass, except the one that checks the default clock, which polls for a bounded while.
 */
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  EmulatedClock,
  FixtureError,
  normalizeFixture,
  parseQuotaOption,
  parseRate,
  parseTimeScale,
  QuotaError,
  SlidingWindow,
  startIotHubEmulator,
  TimeScaleError,
  type FixtureInput,
  type IotHubEmulator,
  type IotHubEmulatorOptions,
} from '../../src/emulators/iothub/index.js';
import { createSasToken } from '../../src/providers/iothub/sas.js';

const API = 'api-version=2021-04-12';
const MINUTE = 60_000;

const FLEET: FixtureInput = {
  twins: [{ deviceId: 'd1' }, { deviceId: 'd2' }, { deviceId: 'e1', capabilities: { iotEdge: true } }],
  moduleTwins: [{ deviceId: 'e1', moduleId: '$edgeAgent' }],
};

/** A real clock the test moves by hand (ms). */
function manualClock() {
  let t = 1_000;
  return {
    now: () => t,
    advance(ms: number) {
      t += ms;
    },
  };
}

interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

async function call(emu: IotHubEmulator, method: 'POST' | 'GET', path: string, opts: { authorization?: string; query?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = {
    authorization: opts.authorization ?? createSasToken(emu.credentials, Math.floor(Date.now() / 1000) + 3600),
  };
  let body: string | undefined;
  if (method === 'POST') {
    headers['content-type'] = 'application/json';
    body = JSON.stringify({ query: opts.query ?? 'SELECT * FROM devices' });
  }
  const res = await fetch(`${emu.url}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) };
}

const queryDevices = (emu: IotHubEmulator) => call(emu, 'POST', `/devices/query?${API}`);
const queryModules = (emu: IotHubEmulator) => call(emu, 'POST', `/devices/query?${API}`, { query: 'SELECT * FROM devices.modules' });

async function statuses(n: number, send: () => Promise<Answer>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await send()).status);
  return out;
}

describe('rates and options', () => {
  it('parses a whole number per s, min or h', () => {
    expect(parseRate('20/min')).toEqual({ limit: 20, windowMs: 60_000, text: '20/min' });
    expect(parseRate(' 5 / s ')).toEqual({ limit: 5, windowMs: 1_000, text: '5/s' });
    expect(parseRate('1000/h')).toEqual({ limit: 1000, windowMs: 3_600_000, text: '1000/h' });
    for (const bad of ['0/min', '1.5/s', '20/day', '20', 'x/min', '-1/s', '20/m', '2000000/s']) {
      expect(() => parseRate(bad), bad).toThrow(QuotaError);
    }
  });

  it('parses the command line form and refuses unknown or repeated classes', () => {
    expect(parseQuotaOption('queries=20/min')).toEqual({ queries: '20/min' });
    expect(parseQuotaOption('queries=5/s, twinReads=100/s')).toEqual({ queries: '5/s', twinReads: '100/s' });
    expect(() => parseQuotaOption('reads=5/s')).toThrow(/unknown quota "reads" \(expected queries, twinReads or configurations\)/);
    expect(() => parseQuotaOption('queries=5/s,queries=6/s')).toThrow(/given twice/);
    expect(() => parseQuotaOption('queries')).toThrow(/not name=rate/);
    expect(() => parseQuotaOption('queries=fast')).toThrow(/"fast" is not a rate like 20\/min/);
    expect(() => parseQuotaOption('')).toThrow(/no quota given/);
  });

  it('validates the fixture section and names the offending key', () => {
    expect(normalizeFixture({ quota: { queries: '20/min' } }).quota).toEqual({ queries: '20/min' });
    expect(normalizeFixture({}).quota).toEqual({});
    for (const [quota, message] of [
      [{ queries: 20 }, /^quota\.queries must be a string like "20\/min"/],
      [{ queries: '20 per minute' }, /^quota\.queries: "20 per minute" is not a rate/],
      [{ writes: '1/s' }, /^quota\.writes: unknown quota "writes"/],
      ['20/min', /^quota must be an object/],
    ] as const) {
      expect(() => normalizeFixture({ quota })).toThrow(FixtureError);
      expect(() => normalizeFixture({ quota })).toThrow(message);
    }
  });

  it('parses a time scale and refuses zero, negatives and words', () => {
    expect(parseTimeScale('60')).toBe(60);
    expect(parseTimeScale('0.5')).toBe(0.5);
    expect(parseTimeScale('1e3')).toBe(1000);
    for (const bad of ['0', '-1', 'fast', '', 'Infinity', '1e9']) expect(() => parseTimeScale(bad), bad).toThrow(TimeScaleError);
  });

  it('refuses bad options before listening', async () => {
    await expect(startIotHubEmulator({ quota: { queries: 'lots' } })).rejects.toThrow(/quota\.queries: "lots" is not a rate/);
    await expect(startIotHubEmulator({ timeScale: 0 })).rejects.toThrow(TimeScaleError);
  });
});

describe('sliding window', () => {
  it('admits `limit` requests in any window-long stretch, and a refusal takes no slot', () => {
    const w = new SlidingWindow(parseRate('3/min'));
    expect([0, 1_000, 2_000, 3_000].map((t) => w.tryTake(t))).toEqual([true, true, true, false]);
    // Refused again and again: the first slot still frees when the first request is a minute old.
    for (let t = 4_000; t < MINUTE; t += 500) expect(w.tryTake(t)).toBe(false);
    expect(w.tryTake(MINUTE - 1)).toBe(false);
    expect(w.used(MINUTE - 1)).toBe(3);
    expect(w.tryTake(MINUTE)).toBe(true);
    expect(w.tryTake(MINUTE)).toBe(false); // the second frees at 61 s
    expect(w.tryTake(MINUTE + 1_000)).toBe(true);
    expect(w.used(MINUTE + 1_000)).toBe(3);
    expect(w.used(10 * MINUTE)).toBe(0);
  });

  it('is not a fixed window: no 2×limit burst around a minute boundary', () => {
    const w = new SlidingWindow(parseRate('2/min'));
    expect(w.tryTake(59_000)).toBe(true);
    expect(w.tryTake(59_500)).toBe(true);
    // A fixed window starting at 60 s would admit two more here.
    expect(w.tryTake(60_000)).toBe(false);
    expect(w.tryTake(118_999)).toBe(false);
    expect(w.tryTake(119_000)).toBe(true);
  });

  it('runs an emulated clock n times faster than the real one', () => {
    const real = manualClock();
    const clock = new EmulatedClock(60, real.now);
    expect(clock.now()).toBe(0);
    real.advance(1_000);
    expect(clock.now()).toBe(MINUTE);
    expect(new EmulatedClock(1, real.now).now()).toBe(0);
  });
});

describe('query quota over HTTP', () => {
  let emu: IotHubEmulator | undefined;
  afterEach(async () => {
    await emu?.close();
    emu = undefined;
  });

  const start = async (options: IotHubEmulatorOptions) => {
    emu = await startIotHubEmulator({ fixture: FLEET, ...options });
    return emu;
  };

  it('throttles the query past the quota with 429 ThrottlingException, IoT Hub body, no Retry-After', async () => {
    const clock = manualClock();
    const e = await start({ quota: { queries: '3/min' }, clock: clock.now });
    expect(await statuses(3, () => queryDevices(e))).toEqual([200, 200, 200]);
    const r = await queryDevices(e);
    expect(r.status).toBe(429);
    expect(r.headers.get('iothub-errorcode')).toBe('ThrottlingException');
    expect(r.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(r.headers.get('retry-after')).toBeNull();
    expect(r.headers.get('x-ms-retry-after-ms')).toBeNull();
    expect(r.body.Message).toBe('ErrorCode:ThrottlingException;The request has been throttled. Operation type: Query');
    expect(r.body.ExceptionMessage).toMatch(/^Emulated quota: queries 3\/min \(sliding window\)\. Tracking ID:[0-9A-F]{32}-G:0-TimeStamp:/);
  });

  it('counts every query against one quota, module queries included, and throttled ones in the stats', async () => {
    const clock = manualClock();
    const e = await start({ quota: { queries: '3/min' }, clock: clock.now });
    expect(await statuses(2, () => queryDevices(e))).toEqual([200, 200]);
    expect((await queryModules(e)).status).toBe(200);
    expect((await queryModules(e)).status).toBe(429);
    expect((await queryDevices(e)).status).toBe(429);
    expect((await queryDevices(e)).status).toBe(429);
    expect(e.stats()).toMatchObject({
      total: 6,
      operations: { 'query:devices': 4, 'query:devices.modules': 2 },
      throttled: 3,
      throttledOperations: { 'query:devices': 2, 'query:devices.modules': 1 },
      quota: { queries: { rate: '3/min', limit: 3, windowMs: MINUTE, used: 3 } },
    });
    const res = await fetch(`${e.url}/__emulator/stats`);
    expect(await res.json()).toMatchObject({ throttled: 3, throttledOperations: { 'query:devices': 2, 'query:devices.modules': 1 } });
  });

  it('frees slots as the window slides past them, however many requests were refused meanwhile', async () => {
    const clock = manualClock();
    const e = await start({ quota: { queries: '2/min' }, clock: clock.now });
    expect(await statuses(1, () => queryDevices(e))).toEqual([200]);
    clock.advance(30_000);
    expect(await statuses(3, () => queryDevices(e))).toEqual([200, 429, 429]);
    clock.advance(29_999);
    expect((await queryDevices(e)).status).toBe(429);
    clock.advance(1); // the first query is a minute old
    expect(await statuses(2, () => queryDevices(e))).toEqual([200, 429]);
    clock.advance(30_000); // so is the second
    expect(await statuses(2, () => queryDevices(e))).toEqual([200, 429]);
    clock.advance(5 * MINUTE);
    expect(await statuses(3, () => queryDevices(e))).toEqual([200, 200, 429]);
    expect(e.stats().quota.queries?.used).toBe(2);
  });

  it('runs the window on emulated time: --time-scale 60 makes a minute last a real second', async () => {
    const clock = manualClock();
    const e = await start({ quota: { queries: '2/min' }, timeScale: 60, clock: clock.now });
    expect(await statuses(3, () => queryDevices(e))).toEqual([200, 200, 429]);
    clock.advance(999);
    expect((await queryDevices(e)).status).toBe(429);
    expect(e.stats()).toMatchObject({ timeScale: 60, emulatedMs: 59_940 });
    clock.advance(1);
    expect(await statuses(3, () => queryDevices(e))).toEqual([200, 200, 429]);
    expect(e.stats().emulatedMs).toBe(MINUTE);
  });

  it('takes no slot for a request refused before the quota: a bad token, no api-version, an unknown path', async () => {
    const clock = manualClock();
    const e = await start({ quota: { queries: '2/min' }, clock: clock.now });
    const badToken = createSasToken({ ...e.credentials, sharedAccessKey: Buffer.from('another-key-another-key-another!').toString('base64') }, Math.floor(Date.now() / 1000) + 60);
    for (let i = 0; i < 3; i++) {
      expect((await call(e, 'POST', `/devices/query?${API}`, { authorization: badToken })).status).toBe(401);
      expect((await call(e, 'POST', '/devices/query')).status).toBe(400);
      expect((await call(e, 'GET', `/nowhere?${API}`)).status).toBe(404);
    }
    expect(await statuses(3, () => queryDevices(e))).toEqual([200, 200, 429]);
    expect(e.stats().throttled).toBe(1);
  });

  it('gives an admitted request its slot even when it then fails (a bad query, an injected fault)', async () => {
    const clock = manualClock();
    const e = await startIotHubEmulator({ fixture: { ...FLEET, faults: [{ status: 503, times: 1 }] }, quota: { queries: '3/min' }, clock: clock.now });
    emu = e;
    expect((await queryDevices(e)).status).toBe(503);
    expect((await call(e, 'POST', `/devices/query?${API}`, { query: 'SELECT * FROM' })).status).toBe(400);
    expect(await statuses(2, () => queryDevices(e))).toEqual([200, 429]);
  });

  it('leaves twin reads alone unless twinReads is set, and throttles them apart from queries', async () => {
    const clock = manualClock();
    const e = await start({ quota: { queries: '1/min' }, clock: clock.now });
    expect(await statuses(5, () => call(e, 'GET', `/twins/d1?${API}`))).toEqual([200, 200, 200, 200, 200]);
    expect(await statuses(2, () => queryDevices(e))).toEqual([200, 429]);
    await e.close();

    const f = await start({ quota: { twinReads: '2/s' }, clock: clock.now });
    expect(await statuses(3, () => call(f, 'GET', `/twins/d1?${API}`))).toEqual([200, 200, 429]);
    const r = await call(f, 'GET', `/twins/e1/modules/$edgeAgent?${API}`);
    expect(r.status).toBe(429);
    expect(r.body.Message).toBe('ErrorCode:ThrottlingException;The request has been throttled. Operation type: TwinRead');
    expect(await statuses(3, () => queryDevices(f))).toEqual([200, 200, 200]);
    expect(f.stats()).toMatchObject({ throttled: 2, throttledOperations: { getTwin: 1, getModuleTwin: 1 } });
    clock.advance(1_000);
    expect((await call(f, 'GET', `/twins/d1?${API}`)).status).toBe(200);
  });

  it('takes the quota from the fixture; the option wins per class', async () => {
    const clock = manualClock();
    const e = await startIotHubEmulator({ fixture: { ...FLEET, quota: { queries: '1/min', twinReads: '1/min' } }, clock: clock.now });
    emu = e;
    expect(await statuses(2, () => queryDevices(e))).toEqual([200, 429]);
    expect(await statuses(2, () => call(e, 'GET', `/twins/d1?${API}`))).toEqual([200, 429]);
    await e.close();

    const f = await startIotHubEmulator({ fixture: { ...FLEET, quota: { queries: '1/min', twinReads: '1/min' } }, quota: { queries: '3/min' }, clock: clock.now });
    emu = f;
    expect(await statuses(4, () => queryDevices(f))).toEqual([200, 200, 200, 429]);
    expect(await statuses(2, () => call(f, 'GET', `/twins/d1?${API}`))).toEqual([200, 429]);
    expect(f.stats().quota).toEqual({
      queries: { rate: '3/min', limit: 3, windowMs: MINUTE, used: 3 },
      twinReads: { rate: '1/min', limit: 1, windowMs: MINUTE, used: 1 },
    });
  });

  it('keeps a window across a fixture reload that keeps its rate, and starts afresh when the rate changes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iothub-quota-'));
    const path = join(dir, 'fleet.json');
    let mtime = Math.floor(Date.now() / 1000);
    const write = (f: FixtureInput) => {
      writeFileSync(path, JSON.stringify(f));
      mtime += 2;
      utimesSync(path, mtime, mtime);
    };
    try {
      const clock = manualClock();
      write({ ...FLEET, quota: { queries: '2/min' } });
      const e = await startIotHubEmulator({ fixturePath: path, clock: clock.now });
      emu = e;
      expect(await statuses(3, () => queryDevices(e))).toEqual([200, 200, 429]);
      write({ ...FLEET, twins: [{ deviceId: 'new' }], quota: { queries: '2/min' } });
      expect((await queryDevices(e)).status).toBe(429);
      write({ ...FLEET, quota: { queries: '3/min' } });
      expect(await statuses(4, () => queryDevices(e))).toEqual([200, 200, 200, 429]);
      write({ ...FLEET });
      expect(await statuses(5, () => queryDevices(e))).toEqual([200, 200, 200, 200, 200]);
      expect(e.stats().quota).toEqual({});
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('DELETE /__emulator/stats resets the counters, not the window', async () => {
    const clock = manualClock();
    const e = await start({ quota: { queries: '1/min' }, clock: clock.now });
    expect(await statuses(2, () => queryDevices(e))).toEqual([200, 429]);
    const del = await fetch(`${e.url}/__emulator/stats`, { method: 'DELETE' });
    expect(await del.json()).toMatchObject({ total: 0, throttled: 0, throttledOperations: {}, quota: { queries: { used: 1 } } });
    expect((await queryDevices(e)).status).toBe(429);
  });

  it('runs on the real clock by default: at --time-scale 6000 a 1/min window frees within a real second', async () => {
    const e = await start({ quota: { queries: '1/min' }, timeScale: 6000 });
    expect((await queryDevices(e)).status).toBe(200);
    // A minute is 10 ms here; bounded polling, so a broken clock fails instead of hanging.
    let freed = false;
    for (let i = 0; i < 100 && !freed; i++) {
      await new Promise((r) => setTimeout(r, 10));
      freed = (await queryDevices(e)).status === 200;
    }
    expect(freed).toBe(true);
    expect(e.stats().emulatedMs).toBeGreaterThanOrEqual(MINUTE);
  });
});
