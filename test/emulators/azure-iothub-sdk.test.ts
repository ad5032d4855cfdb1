/**
 * The emulator driven by Microsoft's own service SDK, azure-iothub (a dev dependency, pinned): the
 * SDK builds the requests, signs the tokens and translates the errors, so these tests catch wire
 * differences that a client written against the emulator would share with it.
 *
 * azure-iothub always speaks HTTPS to `<HostName>:443` (azure-iot-http-base calls `https.request`
 * with the connection string's HostName and no port). The one seam it offers is the agent: Registry
 * sets its own `https.Agent` on its REST client with `setOptions({http: {agent}})`, and these tests
 * set another in its place, one whose connections go to the emulator's loopback port in plain TCP.
 * Everything above the socket (paths, query strings, headers, SAS, bodies, error parsing) is the
 * SDK's own code.
 */
import { type Agent as HttpAgent } from 'node:http';
import { Agent } from 'node:https';
import { connect, type Socket } from 'node:net';
import iothub from 'azure-iothub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startIotHubEmulator, type FixtureInput, type IotHubEmulator } from '../../src/emulators/iothub/index.js';
import { formatConnectionString } from '../../src/providers/iothub/sas.js';

const { Registry } = iothub;
type Registry = InstanceType<typeof Registry>;

/** An https.Agent in name only: its sockets are plain TCP to the emulator. */
class LoopbackAgent extends Agent {
  constructor(private readonly port: number) {
    super({ keepAlive: false });
  }
  override createConnection(): Socket {
    return connect(this.port, '127.0.0.1');
  }
}

/** `Registry.fromConnectionString`, with its agent swapped for one that reaches the emulator. */
function registryFor(emu: IotHubEmulator, connectionString: string): Registry {
  const registry = Registry.fromConnectionString(connectionString);
  // The field Registry's constructor configures the same way (see the file comment).
  const rest = (registry as unknown as { _restApiClient: { setOptions(options: { http: { agent: HttpAgent } }): void } })._restApiClient;
  rest.setOptions({ http: { agent: new LoopbackAgent(emu.port) } });
  return registry;
}

const HOST = 'demo-hub.azure-devices.net';
const FLEET: FixtureInput = {
  hub: { hostName: HOST, sharedAccessKeyName: 'iothubowner', sharedAccessKey: Buffer.from('a-test-key-that-is-32-bytes-long').toString('base64') },
  twins: [
    { deviceId: 'd1', version: 3, tags: { deviceName: 'One', modelId: 'm-thermo' }, properties: { reported: { temp: 21 } } },
    { deviceId: 'd2' },
    { deviceId: 'd3' },
    { deviceId: 'edge one', capabilities: { iotEdge: true } },
  ],
  moduleTwins: [{ deviceId: 'edge one', moduleId: '$edgeAgent', version: 2, properties: { desired: { schemaVersion: '1.1' } } }],
  configurations: [
    {
      id: 'edge-base',
      content: { modulesContent: { $edgeAgent: { 'properties.desired': { modules: {} } } } },
      systemMetrics: { results: { targetedCount: 1, appliedCount: 1, reportedSuccessfulCount: 0, reportedFailedCount: 1 }, queries: {} },
    },
    { id: 'firmware', content: { deviceContent: { 'properties.desired.firmware': { version: '2' } } } },
  ],
};

describe('the emulator under azure-iothub', () => {
  let emu: IotHubEmulator;
  let registry: Registry;
  beforeAll(async () => {
    emu = await startIotHubEmulator({ fixture: FLEET });
    registry = registryFor(emu, emu.connectionString);
  });
  afterAll(async () => {
    await emu.close();
  });

  it('Registry.getTwin returns the device twin', async () => {
    const { responseBody: twin, httpResponse } = await registry.getTwin('d1');
    expect(httpResponse.statusCode).toBe(200);
    expect(twin.deviceId).toBe('d1');
    expect(twin.tags).toEqual({ deviceName: 'One', modelId: 'm-thermo' });
    expect(twin.properties.reported['temp']).toBe(21);
    expect((twin as unknown as { version: number }).version).toBe(3);
  });

  it('Registry.getTwin percent-encodes an id with a space, and the emulator decodes it', async () => {
    const { responseBody: twin } = await registry.getTwin('edge one');
    expect(twin.deviceId).toBe('edge one');
  });

  it('Registry.getModuleTwin returns the module twin ($ in the id)', async () => {
    const { responseBody: twin } = await registry.getModuleTwin('edge one', '$edgeAgent');
    expect(twin.moduleId).toBe('$edgeAgent');
    expect(twin.properties.desired['schemaVersion']).toBe('1.1');
  });

  it('an unknown device is the SDK\'s DeviceNotFoundError: it parses the emulator\'s error body', async () => {
    const err = (await registry.getTwin('nope').catch((e: unknown) => e)) as Error & { response?: { statusCode: number } };
    expect(err.constructor.name).toBe('DeviceNotFoundError');
    expect(err.message).toBe('Device nope is not registered');
    expect(err.response?.statusCode).toBe(404);
  });

  it('verifies the SDK\'s token for a HostName written in capitals', async () => {
    const upper = registryFor(emu, formatConnectionString({ ...emu.credentials, hostName: HOST.toUpperCase() }));
    expect((await upper.createQuery("SELECT * FROM devices WHERE deviceId = 'd1'").nextAsTwin()).result.map((t) => t.deviceId)).toEqual(['d1']);
    const { responseBody: twin } = await upper.getTwin('d1');
    expect(twin.deviceId).toBe('d1');
  });

  it('a wrong key is the SDK\'s UnauthorizedError', async () => {
    const wrong = registryFor(emu, formatConnectionString({ ...emu.credentials, sharedAccessKey: Buffer.from('another-key-another-key-another!').toString('base64') }));
    const err = (await wrong.getTwin('d1').catch((e: unknown) => e)) as Error;
    expect(err.constructor.name).toBe('UnauthorizedError');
  });

  it('Registry.getConfigurations lists the configurations as the SDK types them', async () => {
    const { responseBody: list, httpResponse } = await registry.getConfigurations();
    expect(httpResponse.statusCode).toBe(200);
    expect(list.map((c) => c.id)).toEqual(['edge-base', 'firmware']);
    expect(list[0]!.content!.modulesContent).toHaveProperty('$edgeAgent');
    expect(list[0]!.systemMetrics?.results?.['reportedFailedCount']).toBe(1);
    expect(list[1]!.content!.deviceContent).toHaveProperty(['properties.desired.firmware']);
  });

  it('pages a query with the SDK\'s continuation handling', async () => {
    const query = registry.createQuery('SELECT * FROM devices', 2);
    const ids: string[] = [];
    for (let page = 0; page < 5 && (page === 0 || query.hasMoreResults); page++) {
      const { result } = await query.nextAsTwin();
      ids.push(...result.map((t) => t.deviceId));
    }
    expect(query.hasMoreResults).toBe(false);
    expect(ids).toEqual(['d1', 'd2', 'd3', 'edge one']);
  });
});

describe('the quota under azure-iothub', () => {
  it('a throttled query is the SDK\'s ThrottlingError', async () => {
    const emu = await startIotHubEmulator({ fixture: FLEET, quota: { queries: '1/h' } });
    try {
      const registry = registryFor(emu, emu.connectionString);
      expect((await registry.createQuery('SELECT * FROM devices').nextAsTwin()).result.length).toBe(4);
      const err = (await registry.createQuery('SELECT * FROM devices').nextAsTwin().catch((e: unknown) => e)) as Error;
      expect(err.constructor.name).toBe('ThrottlingError');
      expect(err.message).toBe('The request has been throttled. Operation type: Query');
      expect(emu.stats()).toMatchObject({ throttled: 1, throttledOperations: { 'query:devices': 1 } });
    } finally {
      await emu.close();
    }
  });
});
