/**
 * The emulated `GET /configurations` over HTTP: the fixture section as the hub serves it, `top`,
 * the same SAS auth, api-version check, faults, quota and counting as the query route, and a
 * generated fleet whose deployment metrics agree with its twins.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  generateFleet,
  isDeployment,
  normalizeFixture,
  parseGenerateSpec,
  startIotHubEmulator,
  type FixtureInput,
  type IotHubEmulator,
} from '../../src/emulators/iothub/index.js';
import { createSasToken, type IotHubCredentials } from '../../src/providers/iothub/sas.js';

function sas(c: IotHubCredentials, ttlSeconds = 3600): string {
  return createSasToken(c, Math.floor(Date.now() / 1000) + ttlSeconds);
}

interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

async function getConfigurations(emu: IotHubEmulator, search = 'api-version=2021-04-12', opts: { authorization?: string | null; method?: string; path?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  const auth = opts.authorization === undefined ? sas(emu.credentials) : opts.authorization;
  if (auth !== null) headers['authorization'] = auth;
  const res = await fetch(`${emu.url}${opts.path ?? '/configurations'}?${search}`, { method: opts.method ?? 'GET', headers });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) };
}

const KEY = Buffer.from('a-test-key-that-is-32-bytes-long').toString('base64');
const FLEET: FixtureInput = {
  hub: { hostName: 'demo-hub.azure-devices.net', sharedAccessKeyName: 'iothubowner', sharedAccessKey: KEY },
  configurations: [
    {
      id: 'edge-base',
      content: { modulesContent: { $edgeAgent: { 'properties.desired': { modules: {} } } } },
      targetCondition: "tags.modelId = 'em-gw'",
      priority: 10,
      systemMetrics: { results: { targetedCount: 3, appliedCount: 3, reportedSuccessfulCount: 1, reportedFailedCount: 2 }, queries: { targetedCount: 'SELECT deviceId FROM devices' } },
      somethingNew: { kept: true },
    },
    { id: 'firmware', content: { deviceContent: { 'properties.desired.firmware': { version: '2' } } } },
    { id: 'layer', content: { modulesContent: { $edgeAgent: { 'properties.desired.modules.x': {} } } }, priority: 20 },
  ],
};

describe('GET /configurations', () => {
  let emu: IotHubEmulator | undefined;
  afterEach(async () => {
    await emu?.close();
    emu = undefined;
  });
  const start = async (fixture: FixtureInput = FLEET) => (emu = await startIotHubEmulator({ fixture }));

  it('serves the fixture section in order, filled as the hub returns it, not paged', async () => {
    const e = await start();
    const r = await getConfigurations(e);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(r.headers.get('x-ms-continuation')).toBeNull();
    expect(r.body.map((c: { id: string }) => c.id)).toEqual(['edge-base', 'firmware', 'layer']);
    expect(Object.keys(r.body[0])).toEqual([
      'id',
      'schemaVersion',
      'labels',
      'content',
      'contentType',
      'targetCondition',
      'createdTimeUtc',
      'lastUpdatedTimeUtc',
      'priority',
      'systemMetrics',
      'metrics',
      'etag',
      'somethingNew',
    ]);
    expect(r.body[1]).toEqual({
      id: 'firmware',
      schemaVersion: '1.0',
      labels: {},
      content: { deviceContent: { 'properties.desired.firmware': { version: '2' } } },
      contentType: 'assignment',
      targetCondition: '',
      createdTimeUtc: '0001-01-01T00:00:00Z',
      lastUpdatedTimeUtc: '0001-01-01T00:00:00Z',
      priority: 0,
      systemMetrics: { results: {}, queries: {} },
      metrics: { results: {}, queries: {} },
      etag: 'MQ==',
    });
    expect(r.body[0].systemMetrics.results.reportedFailedCount).toBe(2);
    // The .NET SDK's spelling of the path.
    expect((await getConfigurations(e, 'top=5&api-version=2021-04-12', { path: '/configurations/' })).body).toHaveLength(3);
  });

  it('honours top: the first n; 0 or none is every one; anything but a whole number is a 400', async () => {
    const e = await start();
    const ids = async (search: string) => (await getConfigurations(e, search)).body.map((c: { id: string }) => c.id);
    expect(await ids('top=1&api-version=2021-04-12')).toEqual(['edge-base']);
    expect(await ids('top=2&api-version=2021-04-12')).toEqual(['edge-base', 'firmware']);
    expect(await ids('top=1000&api-version=2021-04-12')).toHaveLength(3);
    expect(await ids('top=0&api-version=2021-04-12')).toHaveLength(3);
    expect(await ids('api-version=2021-04-12')).toHaveLength(3);
    for (const top of ['-1', 'ten', '1.5']) {
      const r = await getConfigurations(e, `top=${top}&api-version=2021-04-12`);
      expect(r.status).toBe(400);
      expect(r.headers.get('iothub-errorcode')).toBe('BadRequest');
      expect(r.body.Message).toMatch(/^ErrorCode:BadRequest;The top parameter must be a whole non-negative number/);
    }
  });

  it('refuses a missing, expired or wrongly signed SAS token with 401, never echoing the key', async () => {
    const e = await start();
    const wrong = sas({ ...e.credentials, sharedAccessKey: Buffer.from('another-key-another-key-another!').toString('base64') });
    for (const authorization of [null, wrong, sas(e.credentials, -10), 'Bearer abc', sas({ ...e.credentials, hostName: 'other.azure-devices.net' })]) {
      const r = await getConfigurations(e, 'api-version=2021-04-12', { authorization });
      expect(r.status).toBe(401);
      expect(r.headers.get('iothub-errorcode')).toBe('IotHubUnauthorizedAccess');
      expect(r.body.Message).toBe('ErrorCode:IotHubUnauthorizedAccess;Unauthorized');
      expect(JSON.stringify(r.body)).not.toContain(KEY);
    }
    // Auth first, as the hub checks it: no token and no api-version is still a 401.
    expect((await getConfigurations(e, '', { authorization: null })).status).toBe(401);
  });

  it('refuses a missing or unknown api-version like the hub: 400 InvalidProtocolVersion', async () => {
    const e = await start();
    for (const search of ['', 'top=5', 'api-version=2099-01-01']) {
      const r = await getConfigurations(e, search);
      expect(r.status).toBe(400);
      expect(r.headers.get('iothub-errorcode')).toBe('InvalidProtocolVersion');
      expect(r.body.Message).toBe('ErrorCode:InvalidProtocolVersion;BadRequest');
    }
  });

  it('answers 405 to a method other than GET', async () => {
    const e = await start();
    const r = await getConfigurations(e, 'api-version=2021-04-12', { method: 'POST' });
    expect(r.status).toBe(405);
    expect(r.headers.get('allow')).toBe('GET');
  });

  it('plays the faults named for getConfigurations, never those that match a query text, and counts every request', async () => {
    const e = await start({
      ...FLEET,
      faults: [
        { match: 'FROM devices', status: 500 },
        { operation: 'getConfigurations', status: 503, retryAfterSeconds: 3, times: 1 },
      ],
    });
    const failed = await getConfigurations(e);
    expect(failed.status).toBe(503);
    expect(failed.headers.get('retry-after')).toBe('3');
    expect(failed.headers.get('iothub-errorcode')).toBe('ServiceUnavailable');
    expect((await getConfigurations(e)).status).toBe(200);
    await getConfigurations(e, 'api-version=2021-04-12', { authorization: null });
    expect(e.stats()).toMatchObject({ total: 3, operations: { getConfigurations: 3 } });
  });

  it('hangs on a hang fault until the client gives up', async () => {
    const e = await start({ ...FLEET, faults: [{ operation: 'getConfigurations', hang: true, times: 1 }] });
    const res = await fetch(`${e.url}/configurations?api-version=2021-04-12`, { headers: { authorization: sas(e.credentials) }, signal: AbortSignal.timeout(300) }).catch(
      (error: unknown) => error as Error,
    );
    expect((res as Error).name).toBe('TimeoutError');
    expect((await getConfigurations(e)).status).toBe(200);
  });

  it('throttles under its own quota class, apart from the queries', async () => {
    const e = await startIotHubEmulator({ fixture: FLEET, quota: { configurations: '1/h', queries: '1/h' } });
    emu = e;
    expect((await getConfigurations(e)).status).toBe(200);
    const r = await getConfigurations(e);
    expect(r.status).toBe(429);
    expect(r.headers.get('retry-after')).toBeNull();
    expect(r.body.Message).toBe('ErrorCode:ThrottlingException;The request has been throttled. Operation type: Configurations');
    const query = await fetch(`${e.url}/devices/query?api-version=2021-04-12`, {
      method: 'POST',
      headers: { authorization: sas(e.credentials), 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'SELECT COUNT() AS n FROM devices' }),
    });
    expect(query.status).toBe(200);
    expect(e.stats()).toMatchObject({ throttled: 1, throttledOperations: { getConfigurations: 1 }, quota: { configurations: { used: 1 }, queries: { used: 1 } } });
  });
});

describe('the configurations fixture section', () => {
  it('is refused when malformed, naming the configuration and the field', () => {
    const bad: Array<[unknown, RegExp]> = [
      [[{}], /configurations\[0\]\.id must be a non-empty string/],
      [[{ id: 'a' }, { id: 'a' }], /configurations\[1\]\.id "a" duplicates configurations\[0\]/],
      [[{ id: 'a', content: { modulesContent: 'x' } }], /configurations\[0\]\.content\.modulesContent must be an object/],
      [[{ id: 'a', systemMetrics: { results: { reportedFailedCount: -1 } } }], /configurations\[0\]\.systemMetrics\.results\.reportedFailedCount must be a whole non-negative number/],
      [[{ id: 'a', metrics: { queries: { x: 1 } } }], /configurations\[0\]\.metrics\.queries\.x must be a string/],
      [[{ id: 'a', labels: { x: 1 } }], /configurations\[0\]\.labels\.x must be a string/],
      [[{ id: 'a', priority: -1 }], /configurations\[0\]\.priority must be >= 0/],
      [{ id: 'a' }, /configurations must be an array/],
    ];
    for (const [configurations, message] of bad) expect(() => normalizeFixture({ configurations })).toThrow(message);
  });

  it('refuses more deployments or more other configurations than a hub holds (100 each)', () => {
    const deployment = (i: number) => ({ id: `d${i}`, content: { modulesContent: { $edgeAgent: {} } } });
    const device = (i: number) => ({ id: `c${i}`, content: { deviceContent: { 'properties.desired.x': i } } });
    const hundred = Array.from({ length: 100 }, (_, i) => i);
    expect(normalizeFixture({ configurations: [...hundred.map(deployment), ...hundred.map(device)] }).configurations).toHaveLength(200);
    expect(() => normalizeFixture({ configurations: [...hundred.map(deployment), deployment(100)] })).toThrow(/holds 101 IoT Edge deployments; a hub holds at most 100/);
    expect(() => normalizeFixture({ configurations: [...hundred.map(device), device(100)] })).toThrow(/holds 101 device configurations; a hub holds at most 100/);
  });
});

describe('generated configurations', () => {
  it('deployments whose metrics agree with the edge twins, and one device configuration with device content only', () => {
    const f = generateFleet(parseGenerateSpec('devices=200,edge=120,modules=3'));
    expect(f.configurations.map((c) => c.id)).toEqual(['edge-gateway-base', 'vision-box-base', 'monitoring-layer', 'smart-plug-firmware']);
    const deployments = f.configurations.filter(isDeployment);
    expect(deployments).toHaveLength(3);
    // A device fails when its $edgeAgent reports a module failed: counted here from the twins.
    const failing = new Set(
      f.moduleTwins
        .filter((m) => m.moduleId === '$edgeAgent' && Object.values(m.properties.reported['modules'] as object).some((x: { runtimeStatus: string }) => x.runtimeStatus === 'failed'))
        .map((m) => m.deviceId),
    );
    const edge = f.twins.filter((t) => t.capabilities.iotEdge);
    const byModel = (model: string | null) => edge.filter((t) => model === null || t.tags['modelId'] === model);
    for (const [id, model] of [['edge-gateway-base', 'em-gateway'], ['vision-box-base', 'em-vision'], ['monitoring-layer', null]] as const) {
      const c = f.configurations.find((x) => x.id === id)!;
      const targeted = byModel(model);
      const failed = targeted.filter((t) => failing.has(t.deviceId)).length;
      expect(c.systemMetrics.results).toEqual({ targetedCount: targeted.length, appliedCount: targeted.length, reportedSuccessfulCount: targeted.length - failed, reportedFailedCount: failed });
      expect(failed).toBeGreaterThan(0);
    }
    const device = f.configurations.find((c) => c.id === 'smart-plug-firmware')!;
    expect(Object.keys(device.content)).toEqual(['deviceContent']);
    expect(device.systemMetrics.results['targetedCount']).toBe(f.twins.filter((t) => t.tags['modelId'] === 'm-smart-plug').length);
    // Already normalized.
    expect(normalizeFixture(f)).toEqual(f);
    expect(generateFleet(parseGenerateSpec('devices=5')).configurations.map((c) => c.id)).toEqual(['smart-plug-firmware']);
    expect(generateFleet(parseGenerateSpec('concentrators=5')).configurations).toEqual([]);
  });
});
