import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  DEFAULT_HOST_NAME,
  FixtureError,
  generateFleet,
  loadFixture,
  normalizeFixture,
  parseFixture,
  parseGenerateSpec,
  startIotHubEmulator,
  type FixtureInput,
  type IotHubEmulator,
} from '../../src/emulators/iothub/index.js';
import { createSasToken, parseConnectionString, type IotHubCredentials } from '../../src/providers/iothub/sas.js';

const PORTAL_DEVICES_QUERY =
  "SELECT * FROM devices WHERE capabilities.iotEdge = false AND (NOT IS_DEFINED(tags.deviceType) OR tags.deviceType != 'LoRa Concentrator')";

function sas(c: IotHubCredentials, ttlSeconds = 3600): string {
  return createSasToken(c, Math.floor(Date.now() / 1000) + ttlSeconds);
}

interface QueryOptions {
  pageSize?: number | string;
  continuation?: string;
  authorization?: string | null;
  signal?: AbortSignal;
  body?: string;
}

interface QueryResponse {
  status: number;
  headers: Headers;
  body: unknown;
}

async function query(emu: IotHubEmulator, q: string, opts: QueryOptions = {}): Promise<QueryResponse> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const auth = opts.authorization === undefined ? sas(emu.credentials) : opts.authorization;
  if (auth !== null) headers['authorization'] = auth;
  if (opts.pageSize !== undefined) headers['x-ms-max-item-count'] = String(opts.pageSize);
  if (opts.continuation !== undefined) headers['x-ms-continuation'] = opts.continuation;
  const res = await fetch(`${emu.url}/devices/query?api-version=2021-04-12`, {
    method: 'POST',
    headers,
    body: opts.body ?? JSON.stringify({ query: q }),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) };
}

async function queryAll(emu: IotHubEmulator, q: string, pageSize = 100): Promise<{ pages: unknown[][]; items: Record<string, unknown>[] }> {
  const pages: unknown[][] = [];
  let continuation: string | undefined;
  do {
    const r = await query(emu, q, { pageSize, ...(continuation ? { continuation } : {}) });
    expect(r.status).toBe(200);
    pages.push(r.body as unknown[]);
    continuation = r.headers.get('x-ms-continuation') ?? undefined;
  } while (continuation);
  return { pages, items: pages.flat() as Record<string, unknown>[] };
}

/** Polls a condition of the emulator's own state; bounded, so a broken condition fails the test. */
async function waitUntil(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(condition()).toBe(true);
}

function plainTwins(n: number, prefix = 'd'): FixtureInput['twins'] {
  return Array.from({ length: n }, (_, i) => ({ deviceId: `${prefix}${String(i + 1).padStart(4, '0')}`, tags: { modelId: 'm1' } }));
}

const SMALL: FixtureInput = {
  hub: { hostName: 'demo-hub.azure-devices.net', sharedAccessKeyName: 'iothubowner', sharedAccessKey: Buffer.from('a-test-key-that-is-32-bytes-long').toString('base64') },
  deviceModels: [{ id: 'm-thermo', name: 'Thermometer' }],
  edgeDeviceModels: [{ id: 'em-gw', name: 'Edge gateway' }],
  twins: [
    { deviceId: 'd1', version: 3, connectionState: 'Connected', tags: { deviceName: 'One', modelId: 'm-thermo' } },
    { deviceId: 'd2', tags: { deviceName: 'Two', modelId: 'm-thermo', deviceType: 'Sensor' } },
    { deviceId: 'e1', capabilities: { iotEdge: true }, tags: { modelId: 'em-gw' } },
    { deviceId: 'e2', capabilities: { iotEdge: true }, tags: { modelId: 'em-gw' } },
    { deviceId: 'e3', capabilities: { iotEdge: true }, tags: { modelId: 'em-gw' } },
    { deviceId: 'c1', tags: { deviceType: 'LoRa Concentrator', loraRegion: 'EU863', deviceName: 'Conc' } },
  ],
  moduleTwins: [
    { deviceId: 'e1', moduleId: '$edgeAgent', version: 2, properties: { desired: { modules: { a: { status: 'running' } } }, reported: {} } },
    { deviceId: 'e1', moduleId: '$edgeHub', properties: { reported: { clients: { x: {} } } } },
    { deviceId: 'e1', moduleId: 'LoRaWanNetworkSrvModule' },
    { deviceId: 'e2', moduleId: '$edgeAgent' },
    { deviceId: 'e2', moduleId: '$edgeHub' },
    { deviceId: 'e3', moduleId: '$edgeAgent' },
    { deviceId: 'e3', moduleId: 'LoRaWanNetworkSrvModule' },
  ],
};

describe('IoT Hub emulator over HTTP', () => {
  let emu: IotHubEmulator;
  beforeAll(async () => {
    emu = await startIotHubEmulator({ fixture: SMALL });
  });
  afterAll(async () => {
    await emu.close();
  });

  it('listens on a random loopback port and exposes its environment', () => {
    expect(emu.url).toBe(`http://127.0.0.1:${emu.port}`);
    expect(emu.port).toBeGreaterThan(0);
    expect(emu.env()).toEqual({ IOTHUB_CONNECTION_STRING: emu.connectionString, IOTHUB_ENDPOINT: emu.url });
    expect(parseConnectionString(emu.connectionString)).toEqual(SMALL.hub);
  });

  it('accepts a valid SAS token and answers with the IoT Hub headers', async () => {
    const r = await query(emu, 'SELECT * FROM devices');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(r.headers.get('x-ms-item-type')).toBe('Twin');
    expect(r.headers.get('x-ms-continuation')).toBeNull();
    expect((r.body as { deviceId: string }[]).map((t) => t.deviceId)).toEqual(['d1', 'd2', 'e1', 'e2', 'e3', 'c1']);
  });

  it('fills twin defaults as the real hub returns them', async () => {
    const r = await query(emu, "SELECT * FROM devices WHERE deviceId = 'd2'");
    const [t] = r.body as Record<string, unknown>[];
    expect(t).toMatchObject({
      deviceId: 'd2',
      status: 'enabled',
      connectionState: 'Disconnected',
      version: 1,
      statusUpdateTime: '0001-01-01T00:00:00Z',
      lastActivityTime: '0001-01-01T00:00:00Z',
      authenticationType: 'sas',
      cloudToDeviceMessageCount: 0,
      capabilities: { iotEdge: false },
      properties: { desired: { $version: 1 }, reported: { $version: 1 } },
    });
    expect(typeof t!['etag']).toBe('string');
    expect(typeof t!['deviceEtag']).toBe('string');
    const m = await query(emu, "SELECT * FROM devices.modules WHERE deviceId = 'e2' AND moduleId = '$edgeHub'");
    expect(m.body).toEqual([expect.objectContaining({ deviceId: 'e2', moduleId: '$edgeHub', status: 'enabled', connectionState: 'Disconnected', version: 1 })]);
  });

  it('rejects a token signed with the wrong key, an expired token and a missing one with 401 (never echoing the key)', async () => {
    const wrong = sas({ ...emu.credentials, sharedAccessKey: Buffer.from('another-key-another-key-another!').toString('base64') });
    for (const authorization of [wrong, sas(emu.credentials, -10), null, 'Bearer abc', sas({ ...emu.credentials, hostName: 'other.azure-devices.net' })]) {
      const r = await query(emu, 'SELECT * FROM devices', { authorization });
      expect(r.status).toBe(401);
      expect(r.headers.get('iothub-errorcode')).toBe('IotHubUnauthorizedAccess');
      const body = r.body as { Message: string; ExceptionMessage: string };
      expect(body.Message).toBe('ErrorCode:IotHubUnauthorizedAccess;Unauthorized');
      expect(typeof body.ExceptionMessage).toBe('string');
      expect(JSON.stringify(body)).not.toContain(emu.credentials.sharedAccessKey);
    }
    const expired = await query(emu, 'SELECT * FROM devices', { authorization: sas(emu.credentials, -10) });
    expect((expired.body as { ExceptionMessage: string }).ExceptionMessage).toContain('expired');
  });

  it("runs the portal's devices query: no edge devices, no concentrators", async () => {
    const { items } = await queryAll(emu, PORTAL_DEVICES_QUERY);
    expect(items.map((t) => t['deviceId'])).toEqual(['d1', 'd2']);
  });

  it('answers a COUNT query with a single Raw row', async () => {
    const r = await query(emu, 'SELECT COUNT() AS numberOfDevices FROM devices WHERE capabilities.iotEdge = true');
    expect(r.status).toBe(200);
    expect(r.headers.get('x-ms-item-type')).toBe('Raw');
    expect(r.body).toEqual([{ numberOfDevices: 3 }]);
    expect(r.headers.get('x-ms-continuation')).toBeNull();
  });

  it('projects deviceId from the LoRaWAN network server module twins', async () => {
    const r = await query(emu, "SELECT deviceId FROM devices.modules WHERE moduleId = 'LoRaWanNetworkSrvModule'");
    expect(r.status).toBe(200);
    expect(r.headers.get('x-ms-item-type')).toBe('Raw');
    expect(r.body).toEqual([{ deviceId: 'e1' }, { deviceId: 'e3' }]);
  });

  it('fetches $edgeAgent and $edgeHub of several edge devices in one module query', async () => {
    const r = await query(emu, "SELECT * FROM devices.modules WHERE moduleId IN ['$edgeAgent','$edgeHub'] AND deviceId IN ['e1','e2']");
    expect(r.status).toBe(200);
    expect(r.headers.get('x-ms-item-type')).toBe('Twin');
    const rows = r.body as { deviceId: string; moduleId: string; properties: { desired: Record<string, unknown> } }[];
    expect(rows.map((m) => `${m.deviceId}/${m.moduleId}`)).toEqual(['e1/$edgeAgent', 'e1/$edgeHub', 'e2/$edgeAgent', 'e2/$edgeHub']);
    expect(rows[0]!.properties.desired['modules']).toEqual({ a: { status: 'running' } });
  });

  it('answers 400 with an IoT Hub error body for an unparseable query or body', async () => {
    const r = await query(emu, 'SELECT * FROM devices WHERE tags.a ===');
    expect(r.status).toBe(400);
    expect(r.headers.get('iothub-errorcode')).toBe('BadRequest');
    const body = r.body as { Message: string; ExceptionMessage: string };
    expect(body.Message).toMatch(/^ErrorCode:BadRequest;/);
    expect(body.Message).toContain('Syntax error');
    expect(typeof body.ExceptionMessage).toBe('string');
    const bad = await query(emu, '', { body: '{"notQuery": 1}' });
    expect(bad.status).toBe(400);
    expect((bad.body as { Message: string }).Message).toMatch(/^ErrorCode:BadRequest;/);
    const notJson = await query(emu, '', { body: 'SELECT * FROM devices' });
    expect(notJson.status).toBe(400);
  });

  it('answers 404 for an unknown path and 405 for a wrong method', async () => {
    const r = await fetch(`${emu.url}/devices/d1?api-version=2021-04-12`, { headers: { authorization: sas(emu.credentials) } });
    expect(r.status).toBe(404);
    await r.text();
    const g = await fetch(`${emu.url}/devices/query?api-version=2021-04-12`, { headers: { authorization: sas(emu.credentials) } });
    expect(g.status).toBe(405);
    expect(g.headers.get('allow')).toBe('POST');
    await g.text();
  });
});

describe('paging', () => {
  let emu: IotHubEmulator;
  beforeAll(async () => {
    emu = await startIotHubEmulator({ fixture: { twins: plainTwins(250) } });
  });
  afterAll(async () => {
    await emu.close();
  });

  it('pages 250 twins at 100 a page: 3 pages, every id exactly once, continuation on all but the last', async () => {
    const tokens: (string | null)[] = [];
    const pages: string[][] = [];
    let continuation: string | undefined;
    do {
      const r = await query(emu, 'SELECT * FROM devices', { pageSize: 100, ...(continuation ? { continuation } : {}) });
      expect(r.status).toBe(200);
      pages.push((r.body as { deviceId: string }[]).map((t) => t.deviceId));
      continuation = r.headers.get('x-ms-continuation') ?? undefined;
      tokens.push(continuation ?? null);
    } while (continuation);
    expect(pages.map((p) => p.length)).toEqual([100, 100, 50]);
    expect(tokens.map((t) => t !== null)).toEqual([true, true, false]);
    const all = pages.flat();
    expect(new Set(all).size).toBe(250);
    expect(all.sort()).toEqual(plainTwins(250)!.map((t) => t['deviceId']));
  });

  it('defaults the page size to 100 and clamps it to 1..1000', async () => {
    expect(((await query(emu, 'SELECT * FROM devices')).body as unknown[]).length).toBe(100);
    expect(((await query(emu, 'SELECT * FROM devices', { pageSize: 0 })).body as unknown[]).length).toBe(1);
    expect(((await query(emu, 'SELECT * FROM devices', { pageSize: 5000 })).body as unknown[]).length).toBe(250);
    expect(((await query(emu, 'SELECT * FROM devices', { pageSize: 'lots' })).body as unknown[]).length).toBe(100);
  });

  it('rejects a garbled continuation token and one issued for another query with 400', async () => {
    const first = await query(emu, 'SELECT * FROM devices', { pageSize: 10 });
    const token = first.headers.get('x-ms-continuation')!;
    expect(token).toBeTruthy();
    for (const [q, continuation] of [
      ['SELECT * FROM devices', 'not-a-token!'],
      ['SELECT * FROM devices', Buffer.from('{"o":-1}').toString('base64url')],
      ['SELECT deviceId FROM devices', token],
    ] as const) {
      const r = await query(emu, q, { continuation });
      expect(r.status).toBe(400);
      expect((r.body as { Message: string }).Message).toMatch(/^ErrorCode:BadRequest;Invalid continuation token/);
    }
  });

  it('resumes at the same offset after the fleet changes (tokens do not depend on the generation)', async () => {
    const first = await query(emu, 'SELECT deviceId FROM devices', { pageSize: 200 });
    const token = first.headers.get('x-ms-continuation')!;
    emu.mutate((f) => {
      f.twins.push({ deviceId: 'z-late' } as (typeof f.twins)[number]);
    });
    const rest = await query(emu, 'SELECT deviceId FROM devices', { pageSize: 200, continuation: token });
    expect(rest.status).toBe(200);
    expect((rest.body as { deviceId: string }[]).length).toBe(51);
    expect((rest.body as { deviceId: string }[]).at(-1)).toEqual({ deviceId: 'z-late' });
    // mutate normalized the partial twin
    expect(emu.fixture().twins.at(-1)).toMatchObject({ deviceId: 'z-late', status: 'enabled', version: 1 });
  });
});

describe('faults', () => {
  let emu: IotHubEmulator | undefined;
  afterEach(async () => {
    await emu?.close();
    emu = undefined;
  });

  it('throttles with 429 + Retry-After for `times` requests, then answers normally', async () => {
    emu = await startIotHubEmulator({
      fixture: { twins: plainTwins(5), faults: [{ operation: 'query:devices', status: 429, retryAfterMs: 1500, times: 2 }] },
    });
    for (let i = 0; i < 2; i++) {
      const r = await query(emu, 'SELECT * FROM devices');
      expect(r.status).toBe(429);
      expect(r.headers.get('retry-after')).toBe('2');
      expect(r.headers.get('x-ms-retry-after-ms')).toBe('1500');
      expect((r.body as { Message: string }).Message).toMatch(/^ErrorCode:ThrottlingException;/);
    }
    const ok = await query(emu, 'SELECT * FROM devices');
    expect(ok.status).toBe(200);
    expect((ok.body as unknown[]).length).toBe(5);
    // module queries were never targeted
    expect((await query(emu, 'SELECT * FROM devices.modules')).status).toBe(200);
  });

  it('sets Retry-After from retryAfterSeconds on a 503', async () => {
    emu = await startIotHubEmulator({ fixture: { twins: plainTwins(1), faults: [{ status: 503, retryAfterSeconds: 1, times: 1 }] } });
    const r = await query(emu, 'SELECT * FROM devices.modules');
    expect(r.status).toBe(503);
    expect(r.headers.get('retry-after')).toBe('1');
    expect(r.headers.get('x-ms-retry-after-ms')).toBe('1000');
  });

  it('fails page 2 only with a 500', async () => {
    emu = await startIotHubEmulator({ fixture: { twins: plainTwins(250), faults: [{ operation: 'query:devices', page: 2, status: 500 }] } });
    const p1 = await query(emu, 'SELECT * FROM devices', { pageSize: 100 });
    expect(p1.status).toBe(200);
    const token2 = p1.headers.get('x-ms-continuation')!;
    for (let i = 0; i < 2; i++) {
      const p2 = await query(emu, 'SELECT * FROM devices', { pageSize: 100, continuation: token2 });
      expect(p2.status).toBe(500);
      expect((p2.body as { Message: string }).Message).toMatch(/^ErrorCode:ServerError;/);
      expect(p2.headers.get('retry-after')).toBeNull();
    }
    // page 3 (offset 200) is fine; build its token by paging with a bigger page size
    const big = await query(emu, 'SELECT * FROM devices', { pageSize: 200 });
    const p3 = await query(emu, 'SELECT * FROM devices', { pageSize: 100, continuation: big.headers.get('x-ms-continuation')! });
    expect(p3.status).toBe(200);
    expect((p3.body as unknown[]).length).toBe(50);
  });

  it('applies a page fault `times` then lets the retry through; `match` narrows to a query text', async () => {
    emu = await startIotHubEmulator({
      fixture: { twins: plainTwins(250), faults: [{ match: 'capabilities.iotEdge', page: 2, status: 500, times: 1 }] },
    });
    const { items } = await queryAll(emu, 'SELECT * FROM devices'); // not matched
    expect(items.length).toBe(250);
    const q = 'SELECT * FROM devices WHERE capabilities.iotEdge = false';
    const p1 = await query(emu, q);
    const token = p1.headers.get('x-ms-continuation')!;
    expect((await query(emu, q, { continuation: token })).status).toBe(500);
    expect((await query(emu, q, { continuation: token })).status).toBe(200);
  });

  it('delays a response (a client timeout fires), then answers normally once spent', async () => {
    emu = await startIotHubEmulator({ fixture: { twins: plainTwins(3), faults: [{ delayMs: 400, times: 1 }] } });
    const started = Date.now();
    await expect(query(emu, 'SELECT * FROM devices', { signal: AbortSignal.timeout(100) })).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(400);
    const r = await query(emu, 'SELECT * FROM devices');
    expect(r.status).toBe(200);
    expect((r.body as unknown[]).length).toBe(3);
  });

  it('delays and then answers normally when the client waits', async () => {
    emu = await startIotHubEmulator({ fixture: { twins: plainTwins(3), faults: [{ delayMs: 200 }] } });
    const started = Date.now();
    const r = await query(emu, 'SELECT * FROM devices');
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(r.status).toBe(200);
    expect((r.body as unknown[]).length).toBe(3);
  });

  it('hangs on a `hang` fault: never answers that page, while the others and the spent fault answer', async () => {
    emu = await startIotHubEmulator({ fixture: { twins: plainTwins(250), faults: [{ operation: 'query:devices', page: 2, hang: true, times: 1 }] } });
    const p1 = await query(emu, 'SELECT * FROM devices', { pageSize: 100 });
    const token = p1.headers.get('x-ms-continuation')!;
    const hung = query(emu, 'SELECT * FROM devices', { pageSize: 100, continuation: token, signal: AbortSignal.timeout(300) });
    await expect(hung).rejects.toThrow(/timeout|aborted/i);
    const p2 = await query(emu, 'SELECT * FROM devices', { pageSize: 100, continuation: token });
    expect(p2.status).toBe(200);
    expect((p2.body as unknown[]).length).toBe(100);
    expect(emu.stats().operations).toEqual({ 'query:devices': 3 });
  });

  it('close() does not wait for a request that hangs', async () => {
    emu = await startIotHubEmulator({ fixture: { twins: plainTwins(3), faults: [{ hang: true }] } });
    const pending = query(emu, 'SELECT * FROM devices').catch((err: unknown) => err);
    await waitUntil(() => emu!.stats().total === 1);
    const started = Date.now();
    await emu.close();
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await pending).toBeInstanceOf(Error);
  });

  it('close() does not wait for a pending delayed response', async () => {
    emu = await startIotHubEmulator({ fixture: { twins: plainTwins(3), faults: [{ delayMs: 30_000 }] } });
    const pending = query(emu, 'SELECT * FROM devices').catch((err: unknown) => err);
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    await emu.close();
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await pending).toBeInstanceOf(Error);
  });
});

describe('stats', () => {
  it('counts every query request per operation, failed and faulted ones included, and resets', async () => {
    const emu = await startIotHubEmulator({ fixture: { twins: plainTwins(3), faults: [{ operation: 'query:devices.modules', status: 503, times: 1 }] } });
    try {
      await query(emu, 'SELECT * FROM devices');
      await query(emu, 'SELECT * FROM devices', { authorization: null }); // 401
      await query(emu, 'SELECT * FROM devices WHERE'); // 400
      await query(emu, 'SELECT * FROM devices.modules'); // 503 (fault)
      await query(emu, 'SELECT * FROM devices.modules');
      // Without a quota nothing is throttled; emulated time runs at the real pace.
      const counted = { total: 5, operations: { 'query:devices': 3, 'query:devices.modules': 2 }, throttled: 0, throttledOperations: {}, quota: {}, timeScale: 1 };
      const times = { emulatedMs: expect.any(Number), firstRequestMs: expect.any(Number), lastRequestMs: expect.any(Number) };
      expect(emu.stats()).toEqual({ ...counted, ...times });
      expect(emu.stats().lastRequestMs!).toBeGreaterThanOrEqual(emu.stats().firstRequestMs!);
      const res = await fetch(`${emu.url}/__emulator/stats`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ ...counted, ...times });
      const zero = { total: 0, operations: {}, throttled: 0, throttledOperations: {}, firstRequestMs: null, lastRequestMs: null };
      const del = await fetch(`${emu.url}/__emulator/stats`, { method: 'DELETE' });
      expect(del.status).toBe(200);
      expect(await del.json()).toMatchObject(zero);
      expect(emu.stats()).toMatchObject(zero);
      await query(emu, 'SELECT * FROM devices');
      expect(emu.stats().total).toBe(1);
      emu.resetStats();
      expect(emu.stats()).toMatchObject(zero);
    } finally {
      await emu.close();
    }
  });
});

describe('fixture file', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'iothub-emu-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('is re-read when it changes; a broken rewrite keeps the previous fleet and logs one line', async () => {
    const path = join(dir, 'fleet.json');
    writeFileSync(path, JSON.stringify({ twins: [{ deviceId: 'first' }], faults: [{ status: 500, times: 1 }] }));
    const emu = await startIotHubEmulator({ fixturePath: path });
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect((await query(emu, 'SELECT * FROM devices')).status).toBe(500); // fault spent
      const ids = async () => ((await query(emu, 'SELECT deviceId FROM devices')).body as { deviceId: string }[]).map((t) => t.deviceId);
      expect(await ids()).toEqual(['first']);

      // Different size, so mtime+size differ even within the same millisecond.
      writeFileSync(path, JSON.stringify({ twins: [{ deviceId: 'first' }, { deviceId: 'second' }], faults: [{ status: 500, times: 1 }] }));
      expect((await query(emu, 'SELECT * FROM devices')).status).toBe(500); // reload reset the counter
      expect(await ids()).toEqual(['first', 'second']);
      expect(emu.fixture().twins.map((t) => t.deviceId)).toEqual(['first', 'second']);

      writeFileSync(path, '{"twins": [ {"deviceId": 42} ');
      expect(await ids()).toEqual(['first', 'second']);
      expect(await ids()).toEqual(['first', 'second']);
      const lines = stderr.mock.calls.map((c) => String(c[0]));
      expect(lines.length).toBe(1);
      expect(lines[0]).toMatch(/fixture reload failed, keeping the previous fleet: .*fleet\.json: not valid JSON/);

      writeFileSync(path, JSON.stringify({ twins: [{ deviceId: 'third' }] }));
      expect(await ids()).toEqual(['third']);
    } finally {
      stderr.mockRestore();
      await emu.close();
    }
  });

  it('loads with loadFixture and rejects a missing or malformed file', async () => {
    const good = join(dir, 'good.json');
    writeFileSync(good, JSON.stringify({ twins: [{ deviceId: 'a' }] }));
    expect(loadFixture(good).twins[0]!.deviceId).toBe('a');
    expect(() => loadFixture(join(dir, 'missing.json'))).toThrow(/cannot read fixture: ENOENT/);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ twins: { deviceId: 'a' } }));
    expect(() => loadFixture(bad)).toThrow(/bad\.json: twins must be an array/);
    await expect(startIotHubEmulator({ fixturePath: bad })).rejects.toThrow(FixtureError);
  });

  it('never quotes the fixture text (which may hold the key) in a JSON error', () => {
    const secret = 'U0VDUkVULUtFWS1TRUNSRVQtS0VZLVNFQ1JFVC1LRVk=';
    try {
      parseFixture(`{"hub": {"sharedAccessKey": ${secret}}}`, 'fleet.json');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(FixtureError);
      expect((err as Error).message).toMatch(/^fleet\.json: not valid JSON/);
      expect((err as Error).message).not.toContain(secret);
    }
  });
});

describe('fixture validation', () => {
  it.each([
    [[], /fixture must be a JSON object/],
    [{ twins: 'x' }, /^twins must be an array/],
    [{ twins: [{ deviceId: 'a' }, { id: 'b' }] }, /^twins\[1\]\.deviceId must be a non-empty string/],
    [{ twins: [{ deviceId: 'a' }, { deviceId: 'a' }] }, /^twins\[1\]\.deviceId "a" duplicates twins\[0\]/],
    [{ twins: [{ deviceId: 'a', status: 'on' }] }, /^twins\[0\]\.status must be one of "enabled", "disabled"/],
    [{ twins: [{ deviceId: 'a', version: 0 }] }, /^twins\[0\]\.version must be >= 1/],
    [{ twins: [{ deviceId: 'a', tags: [] }] }, /^twins\[0\]\.tags must be an object/],
    [{ twins: [{ deviceId: 'a', capabilities: { iotEdge: 'yes' } }] }, /^twins\[0\]\.capabilities\.iotEdge must be a boolean/],
    [{ twins: [{ deviceId: 'a', properties: { desired: 1 } }] }, /^twins\[0\]\.properties\.desired must be an object/],
    [{ moduleTwins: [{ deviceId: 'e1' }] }, /^moduleTwins\[0\]\.moduleId must be a non-empty string/],
    [{ moduleTwins: [{ deviceId: 'e1', moduleId: 'm' }, { deviceId: 'e1', moduleId: 'm' }] }, /^moduleTwins\[1\] "e1\/m" duplicates moduleTwins\[0\]/],
    [{ deviceModels: [{ id: 'm' }] }, /^deviceModels\[0\]\.name must be a non-empty string/],
    [{ hub: { sharedAccessKey: 'not base64!' } }, /^hub\.sharedAccessKey must be base64/],
    [{ faults: [{ operation: 'query:devices' }] }, /^faults\[0\] needs a status or a delayMs/],
    [{ faults: [{ status: 200 }] }, /^faults\[0\]\.status must be >= 400/],
    [{ faults: [{ status: 500, operation: 'query:things' }] }, /^faults\[0\]\.operation must be one of/],
    [{ faults: [{ status: 500, page: 0 }] }, /^faults\[0\]\.page must be >= 1/],
    [{ faults: [{ status: 500, retry: 1 }] }, /^faults\[0\]\.retry is not a fault field/],
    [{ faults: [{ hang: 'yes' }] }, /^faults\[0\]\.hang must be a boolean/],
    [{ faults: [{ hang: false }] }, /^faults\[0\] needs a status or a delayMs \(or hang: true\)/],
    [{ faults: [{ hang: true, status: 503 }] }, /^faults\[0\] hangs: it cannot also have a status or a delayMs/],
  ])('rejects %j', (input, message) => {
    expect(() => normalizeFixture(input)).toThrow(FixtureError);
    expect(() => normalizeFixture(input)).toThrow(message);
  });

  it('defaults the hub and every section; unknown top-level keys are ignored', () => {
    const f = normalizeFixture({ aws: { things: [] } });
    expect(f.hub.hostName).toBe(DEFAULT_HOST_NAME);
    expect(f.hub.sharedAccessKeyName).toBe('iothubowner');
    expect(Buffer.from(f.hub.sharedAccessKey, 'base64').length).toBe(32);
    expect(f).toMatchObject({ deviceModels: [], edgeDeviceModels: [], twins: [], moduleTwins: [], faults: [] });
    expect(normalizeFixture({ deviceModels: [{ id: 'm', name: 'M' }] }).deviceModels[0]!.supportLoRaFeatures).toBe(false);
  });

  it('does not modify its input', () => {
    const input = { twins: [{ deviceId: 'a', tags: { x: 1 } }] };
    const copy = structuredClone(input);
    normalizeFixture(input);
    expect(input).toEqual(copy);
  });
});

describe('generator', () => {
  it('parses a spec and rejects unknown keys, non-integers and impossible subsets', () => {
    expect(parseGenerateSpec('devices=100000,lora=10000,edge=20000,modules=8,concentrators=5000,gateways=5000')).toEqual({
      devices: 100000,
      lora: 10000,
      edge: 20000,
      modules: 8,
      concentrators: 5000,
      gateways: 5000,
    });
    expect(parseGenerateSpec(' devices = 5 ')).toEqual({ devices: 5, lora: 0, edge: 0, modules: 3, concentrators: 0, gateways: 0 });
    expect(() => parseGenerateSpec('devices=10,phones=3')).toThrow(/unknown key "phones"/);
    expect(() => parseGenerateSpec('devices=1.5')).toThrow(/devices must be a non-negative integer, got "1.5"/);
    expect(() => parseGenerateSpec('devices=-1')).toThrow(/non-negative integer/);
    expect(() => parseGenerateSpec('devices')).toThrow(/not key=value/);
    expect(() => parseGenerateSpec('devices=1,devices=2')).toThrow(/given twice/);
    expect(() => parseGenerateSpec('devices=10,lora=11')).toThrow(/lora=11 exceeds devices=10/);
    expect(() => parseGenerateSpec('edge=2,gateways=3')).toThrow(/gateways=3 exceeds edge=2/);
    expect(() => generateFleet({ devices: 1.5 })).toThrow(/non-negative integer/);
  });

  it('generates the requested fleet, deterministically', () => {
    const spec = parseGenerateSpec('devices=300,lora=40,edge=30,modules=4,concentrators=20,gateways=7');
    const a = generateFleet(spec, 7);
    const b = generateFleet(spec, 7);
    const c = generateFleet(spec, 8);
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(JSON.stringify(a)).not.toBe(JSON.stringify(c));
    expect(a.twins.map((t) => t.deviceId)).toEqual(c.twins.map((t) => t.deviceId));

    expect(a.twins.length).toBe(350);
    expect(new Set(a.twins.map((t) => t.deviceId)).size).toBe(350);
    expect(a.twins[0]!.deviceId).toBe('dev-000001');
    expect(a.deviceModels.length).toBe(6);
    expect(a.deviceModels.filter((m) => m.supportLoRaFeatures).length).toBe(2);
    expect(a.edgeDeviceModels.length).toBe(2);

    const devices = a.twins.filter((t) => t.deviceId.startsWith('dev-'));
    expect(devices.length).toBe(300);
    for (const t of devices) {
      expect(Object.keys(t.tags).sort()).toEqual(['building', 'deviceName', 'floor', 'layerId', 'modelId', 'site']);
      expect(t.version).toBeGreaterThanOrEqual(1);
      expect(t.version).toBeLessThanOrEqual(5);
      expect(t.lastActivityTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(new Date(t.lastActivityTime).toISOString()).toBe(t.lastActivityTime);
      expect(t.capabilities.iotEdge).toBe(false);
    }
    expect(new Set(devices.map((t) => t.connectionState))).toEqual(new Set(['Connected', 'Disconnected']));
    const loraModels = new Set(a.deviceModels.filter((m) => m.supportLoRaFeatures).map((m) => m.id));
    const lora = devices.filter((t) => loraModels.has(t.tags['modelId'] as string));
    expect(lora.length).toBe(40);
    for (const t of lora) {
      expect(t.properties.desired).toMatchObject({ ClassType: 'A', Deduplication: 'Drop' });
      expect(t.properties.desired['AppKey']).toMatch(/^[0-9A-F]{32}$/);
      for (const k of ['AppEUI', 'SensorDecoder', 'RX2DataRate', 'KeepAliveTimeout']) expect(t.properties.desired).toHaveProperty(k);
      for (const k of ['DevAddr', 'GatewayID', 'DataRate', 'TxPower']) expect(t.properties.reported).toHaveProperty(k);
    }

    const edge = a.twins.filter((t) => t.capabilities.iotEdge);
    expect(edge.length).toBe(30);
    expect(edge[0]!.deviceId).toBe('edge-000001');
    const agents = a.moduleTwins.filter((m) => m.moduleId === '$edgeAgent');
    const hubs = a.moduleTwins.filter((m) => m.moduleId === '$edgeHub');
    const gateways = a.moduleTwins.filter((m) => m.moduleId === 'LoRaWanNetworkSrvModule');
    expect([agents.length, hubs.length, gateways.length]).toEqual([30, 30, 7]);
    const plainAgent = agents.find((m) => !gateways.some((g) => g.deviceId === m.deviceId))!;
    const modules = plainAgent.properties.desired['modules'] as Record<string, unknown>;
    expect(Object.keys(modules).length).toBe(4);
    for (const m of Object.values(modules)) expect(m).toMatchObject({ status: 'running', version: '1.0', settings: { image: expect.any(String) } });
    for (const h of hubs) expect(Object.keys(h.properties.reported['clients'] as object).length).toBeGreaterThan(0);

    const conc = a.twins.filter((t) => t.tags['deviceType'] === 'LoRa Concentrator');
    expect(conc.length).toBe(20);
    expect(conc[0]!.deviceId).toBe('conc-000001');
    for (const t of conc) {
      expect(['EU863', 'US902']).toContain(t.tags['loraRegion']);
      expect(typeof t.tags['deviceName']).toBe('string');
      expect(t.properties.desired['clientThumbprint']).toEqual([expect.stringMatching(/^[0-9A-F]{40}$/)]);
    }
    // A generated fleet is already normalized.
    expect(normalizeFixture(a)).toEqual(a);
  });

  it('serves a generated fleet: the portal queries see the right counts', async () => {
    const emu = await startIotHubEmulator({ fixture: generateFleet(parseGenerateSpec('devices=500,lora=50,edge=40,modules=2,concentrators=30,gateways=10')) });
    try {
      expect((await queryAll(emu, PORTAL_DEVICES_QUERY)).items.length).toBe(500);
      expect((await query(emu, "SELECT COUNT() AS n FROM devices WHERE tags.deviceType = 'LoRa Concentrator'")).body).toEqual([{ n: 30 }]);
      expect((await queryAll(emu, "SELECT deviceId FROM devices.modules WHERE moduleId = 'LoRaWanNetworkSrvModule'")).items.length).toBe(10);
      const { items } = await queryAll(emu, "SELECT * FROM devices.modules WHERE moduleId IN ['$edgeAgent','$edgeHub']", 1000);
      expect(items.length).toBe(80);
    } finally {
      await emu.close();
    }
  });
});

describe('options', () => {
  it('refuses both fixture and fixturePath, and a fixture that does not validate', async () => {
    await expect(startIotHubEmulator({ fixture: {}, fixturePath: '/nonexistent.json' })).rejects.toThrow(/either fixturePath or fixture/);
    await expect(startIotHubEmulator({ fixture: { twins: [{}] } as FixtureInput })).rejects.toThrow(/twins\[0\]\.deviceId/);
  });

  it('starts with an empty default fleet', async () => {
    const emu = await startIotHubEmulator({});
    try {
      expect(emu.credentials.hostName).toBe(DEFAULT_HOST_NAME);
      const r = await query(emu, 'SELECT * FROM devices');
      expect(r.status).toBe(200);
      expect(r.body).toEqual([]);
    } finally {
      await emu.close();
      await emu.close(); // idempotent
    }
  });
});

describe('port option', () => {
  it('listens on the given port and fails cleanly when it is taken', async () => {
    const a = await startIotHubEmulator({});
    try {
      const b = await startIotHubEmulator({ port: a.port });
      await b.close();
      expect.unreachable();
    } catch (err) {
      expect((err as NodeJS.ErrnoException).code).toBe('EADDRINUSE');
    } finally {
      await a.close();
    }
  });
});
