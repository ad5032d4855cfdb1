/**
 * Wire details a real client (Microsoft's azure-iothub SDK) relies on: twin reads by id, the
 * api-version every request must carry, SAS tokens whose `sr` is the HostName as the connection
 * string spells it, and authorization checked before the path is resolved.
 */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startIotHubEmulator, type FixtureInput, type IotHubEmulator } from '../../src/emulators/iothub/index.js';
import { createSasToken, type IotHubCredentials } from '../../src/providers/iothub/sas.js';

const API = 'api-version=2021-04-12';

const FLEET: FixtureInput = {
  hub: { hostName: 'demo-hub.azure-devices.net', sharedAccessKeyName: 'iothubowner', sharedAccessKey: Buffer.from('a-test-key-that-is-32-bytes-long').toString('base64') },
  twins: [
    { deviceId: 'd1', version: 3, connectionState: 'Connected', tags: { deviceName: 'One', modelId: 'm-thermo' } },
    { deviceId: 'edge one', capabilities: { iotEdge: true }, tags: { modelId: 'em-gw' } },
  ],
  moduleTwins: [
    { deviceId: 'edge one', moduleId: '$edgeAgent', version: 2, properties: { desired: { modules: { a: { status: 'running' } } } } },
    { deviceId: 'orphan', moduleId: 'm' },
  ],
};

function sas(c: IotHubCredentials, ttlSeconds = 3600): string {
  return createSasToken(c, Math.floor(Date.now() / 1000) + ttlSeconds);
}

/**
 * A token as azure-iot-common's SharedAccessSignature.create builds it: `sr` is the HostName exactly
 * as the connection string gives it (no lower-casing), and the signature covers that spelling.
 */
function sdkStyleSas(hostName: string, keyName: string, key: string, ttlSeconds = 3600): string {
  const se = Math.floor(Date.now() / 1000) + ttlSeconds;
  const sr = encodeURIComponent(hostName);
  const sig = createHmac('sha256', Buffer.from(key, 'base64')).update(`${sr}\n${se}`).digest('base64');
  return `SharedAccessSignature sr=${sr}&sig=${encodeURIComponent(sig)}&se=${se}&skn=${encodeURIComponent(keyName)}`;
}

interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

async function call(emu: IotHubEmulator, method: string, pathAndQuery: string, opts: { authorization?: string | null; body?: unknown } = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  const auth = opts.authorization === undefined ? sas(emu.credentials) : opts.authorization;
  if (auth !== null) headers['authorization'] = auth;
  if (opts.body !== undefined) headers['content-type'] = 'application/json; charset=utf-8';
  const res = await fetch(`${emu.url}${pathAndQuery}`, { method, headers, ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) };
}

function expectHubError(a: Answer, status: number, code: string): void {
  expect(a.status).toBe(status);
  expect(a.headers.get('iothub-errorcode')).toBe(code);
  expect(a.headers.get('content-type')).toBe('application/json; charset=utf-8');
  expect(a.body.Message).toMatch(new RegExp(`^ErrorCode:${code};`));
  expect(a.body.ExceptionMessage).toMatch(/Tracking ID:[0-9A-F]{32}-G:0-TimeStamp:/);
}

describe('IoT Hub emulator: the wire as azure-iothub uses it', () => {
  let emu: IotHubEmulator;
  beforeAll(async () => {
    emu = await startIotHubEmulator({ fixture: FLEET });
  });
  afterAll(async () => {
    await emu.close();
  });

  describe('GET /twins/{id} and /twins/{id}/modules/{moduleId}', () => {
    it('serves a device twin exactly as SELECT * returns it', async () => {
      const viaQuery = await call(emu, 'POST', `/devices/query?${API}`, { body: { query: "SELECT * FROM devices WHERE deviceId = 'd1'" } });
      const twin = await call(emu, 'GET', `/twins/d1?${API}`);
      expect(twin.status).toBe(200);
      expect(twin.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(twin.body).toEqual(viaQuery.body[0]);
      expect(twin.body).toMatchObject({ deviceId: 'd1', version: 3, connectionState: 'Connected', tags: { deviceName: 'One' } });
    });

    it('decodes percent-encoded ids, as the SDK sends them', async () => {
      const twin = await call(emu, 'GET', `/twins/${encodeURIComponent('edge one')}?${API}`);
      expect(twin.status).toBe(200);
      expect(twin.body).toMatchObject({ deviceId: 'edge one', capabilities: { iotEdge: true } });
    });

    it('serves a module twin exactly as SELECT * FROM devices.modules returns it', async () => {
      const viaQuery = await call(emu, 'POST', `/devices/query?${API}`, { body: { query: "SELECT * FROM devices.modules WHERE moduleId = '$edgeAgent'" } });
      const path = `/twins/${encodeURIComponent('edge one')}/modules/${encodeURIComponent('$edgeAgent')}?${API}`;
      const twin = await call(emu, 'GET', path);
      expect(twin.status).toBe(200);
      expect(twin.body).toEqual(viaQuery.body[0]);
      expect(twin.body).toMatchObject({ deviceId: 'edge one', moduleId: '$edgeAgent', version: 2, properties: { desired: { modules: { a: { status: 'running' } } } } });
      // A module twin may exist without its device in `twins`.
      expect((await call(emu, 'GET', `/twins/orphan/modules/m?${API}`)).body).toMatchObject({ deviceId: 'orphan', moduleId: 'm' });
    });

    it('answers an unknown device with 404 DeviceNotFound and an unknown module with 404 ModuleNotFound', async () => {
      const device = await call(emu, 'GET', `/twins/nope?${API}`);
      expectHubError(device, 404, 'DeviceNotFound');
      expect(device.body.ExceptionMessage).toContain('nope');
      expectHubError(await call(emu, 'GET', `/twins/nope/modules/$edgeAgent?${API}`), 404, 'DeviceNotFound');
      const mod = await call(emu, 'GET', `/twins/${encodeURIComponent('edge one')}/modules/nope?${API}`);
      expectHubError(mod, 404, 'ModuleNotFound');
      expectHubError(await call(emu, 'GET', `/twins/orphan/modules/other?${API}`), 404, 'ModuleNotFound');
    });

    it('answers a malformed id with 400 and another method with 405', async () => {
      expectHubError(await call(emu, 'GET', `/twins/%E0%A4%A?${API}`), 400, 'BadRequest');
      const put = await call(emu, 'DELETE', `/twins/d1?${API}`);
      expect(put.status).toBe(405);
    });

    it('counts twin reads per operation in the stats', async () => {
      emu.resetStats();
      await call(emu, 'GET', `/twins/d1?${API}`);
      await call(emu, 'GET', `/twins/nope?${API}`);
      await call(emu, 'GET', `/twins/orphan/modules/m?${API}`);
      expect(emu.stats()).toMatchObject({ total: 3, operations: { getTwin: 2, getModuleTwin: 1 } });
    });
  });

  describe('api-version', () => {
    it('is required on every hub route: 400 InvalidProtocolVersion without it', async () => {
      for (const [method, path] of [
        ['POST', '/devices/query'],
        ['GET', '/twins/d1'],
        ['GET', '/twins/d1/modules/m'],
      ] as const) {
        const a = await call(emu, method, path, method === 'POST' ? { body: { query: 'SELECT * FROM devices' } } : {});
        expectHubError(a, 400, 'InvalidProtocolVersion');
        // The real hub's Message for this case, word for word.
        expect(a.body.Message).toBe('ErrorCode:InvalidProtocolVersion;BadRequest');
        expect(a.body.ExceptionMessage).toMatch(/api-version/);
      }
    });

    it('rejects an unknown version and an empty one, accepts the versions Microsoft SDKs send', async () => {
      const q = { body: { query: 'SELECT * FROM devices' } };
      for (const v of ['1999-01-01', '', '2021-04-12x', 'latest']) {
        const a = await call(emu, 'POST', `/devices/query?api-version=${v}`, q);
        expectHubError(a, 400, 'InvalidProtocolVersion');
        expect(a.body.ExceptionMessage).toContain(`'${v}'`);
      }
      for (const v of ['2021-04-12', '2020-09-30', '2020-03-13', '2019-10-01', '2019-03-30', '2018-08-30-preview']) {
        expect((await call(emu, 'POST', `/devices/query?api-version=${v}`, q)).status).toBe(200);
      }
      expect((await call(emu, 'POST', `/devices/query?foo=1&api-version=2021-04-12`, q)).status).toBe(200);
    });
  });

  describe('SAS tokens', () => {
    it('verifies a token whose sr is the HostName in capitals (host names are case-insensitive)', async () => {
      const { hostName, sharedAccessKeyName, sharedAccessKey } = emu.credentials;
      for (const spelling of [hostName.toUpperCase(), 'Demo-Hub.Azure-Devices.net', hostName]) {
        const authorization = sdkStyleSas(spelling, sharedAccessKeyName, sharedAccessKey);
        const q = await call(emu, 'POST', `/devices/query?${API}`, { authorization, body: { query: 'SELECT deviceId FROM devices' } });
        expect(q.status).toBe(200);
      }
    });

    it('still refuses a capitalised sr signed with the wrong key, or another hub', async () => {
      const { hostName, sharedAccessKeyName } = emu.credentials;
      const wrongKey = Buffer.from('another-key-another-key-another!').toString('base64');
      const q = { body: { query: 'SELECT deviceId FROM devices' } };
      expectHubError(await call(emu, 'POST', `/devices/query?${API}`, { ...q, authorization: sdkStyleSas(hostName.toUpperCase(), sharedAccessKeyName, wrongKey) }), 401, 'IotHubUnauthorizedAccess');
      const other = sdkStyleSas('OTHER-HUB.azure-devices.net', sharedAccessKeyName, emu.credentials.sharedAccessKey);
      expectHubError(await call(emu, 'POST', `/devices/query?${API}`, { ...q, authorization: other }), 401, 'IotHubUnauthorizedAccess');
    });

    it('accepts a fixture whose HostName is in capitals with a token signed over the lower-case name', async () => {
      const upper = await startIotHubEmulator({ fixture: { ...FLEET, hub: { ...FLEET.hub, hostName: 'DEMO-HUB.AZURE-DEVICES.NET' } } });
      try {
        const authorization = sas({ ...upper.credentials, hostName: 'demo-hub.azure-devices.net' });
        expect((await call(upper, 'POST', `/devices/query?${API}`, { authorization, body: { query: 'SELECT deviceId FROM devices' } })).status).toBe(200);
      } finally {
        await upper.close();
      }
    });
  });

  describe('authorization before routing', () => {
    it('answers 401 before 404: an unknown path with a bad or missing token is unauthorized', async () => {
      const wrong = sas({ ...emu.credentials, sharedAccessKey: Buffer.from('another-key-another-key-another!').toString('base64') });
      for (const authorization of [wrong, null]) {
        for (const path of [`/nowhere?${API}`, `/devices/d1?${API}`, `/twins/nope?${API}`, '/nowhere']) {
          expectHubError(await call(emu, 'GET', path, { authorization }), 401, 'IotHubUnauthorizedAccess');
        }
        // and before 405 and before the api-version check
        expectHubError(await call(emu, 'GET', `/devices/query?${API}`, { authorization }), 401, 'IotHubUnauthorizedAccess');
        expectHubError(await call(emu, 'POST', '/devices/query', { authorization, body: { query: 'SELECT * FROM devices' } }), 401, 'IotHubUnauthorizedAccess');
      }
    });

    it('answers 404 for an unknown path once the token is good', async () => {
      expectHubError(await call(emu, 'GET', `/nowhere?${API}`), 404, 'NotFound');
      expectHubError(await call(emu, 'GET', `/devices/d1?${API}`), 404, 'NotFound');
    });

    it('leaves the emulator routes open: stats need no token', async () => {
      const res = await fetch(`${emu.url}/__emulator/stats`);
      expect(res.status).toBe(200);
      await res.json();
    });
  });
});
