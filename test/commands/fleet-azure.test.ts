/**
 * The Azure source of `metrics push`, with the real IoT Hub client against the emulator over HTTP,
 * on a virtual clock (no real waiting). Every expected value is counted here from the fixture itself,
 * by plain predicates, never by the emulator's query engine or the filters under test.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { azureFleetSource, failedDeploymentCount } from '../../src/commands/fleet-azure.js';
import { generateFleet, startIotHubEmulator, type FaultSpec, type Fixture, type FixtureInput, type IotHubEmulator } from '../../src/emulators/iothub/index.js';
import { IotHubClient, type IotHubClientOptions } from '../../src/providers/iothub/client.js';
import { parseConfigurations } from '../../src/providers/iothub/configurations.js';
import type { FleetGauge, FleetReadings } from '../../src/run/fleet-gauges.js';
import { virtualClock } from '../support/virtual-clock.js';

const KEY = Buffer.from('a-test-key-that-is-32-bytes-long').toString('base64');
const GAUGES: FleetGauge[] = [
  'iot_hub_portal_device_count',
  'iot_hub_portal_connected_device_count',
  'iot_hub_portal_edge_device_count',
  'iot_hub_portal_connected_edge_device_count',
  'iot_hub_portal_failed_deployment_count',
];

/** A trap: a failure count on something that is not a deployment, which must never be summed. */
const TRAP = { targetedCount: 900, appliedCount: 900, reportedFailedCount: 1000 };

const SMALL: FixtureInput = {
  hub: { hostName: 'fleet-hub.azure-devices.net', sharedAccessKeyName: 'iothubowner', sharedAccessKey: KEY },
  twins: [
    { deviceId: 'd1', connectionState: 'Connected', tags: { modelId: 'm1' } },
    { deviceId: 'd2', connectionState: 'Disconnected', tags: { modelId: 'm1', deviceType: 'Sensor' } },
    { deviceId: 'd3', connectionState: 'Connected', tags: { modelId: 'm-lora' }, properties: { desired: { AppEUI: '00' } } },
    { deviceId: 'd4' },
    { deviceId: 'c1', connectionState: 'Connected', tags: { deviceType: 'LoRa Concentrator' } },
    { deviceId: 'c2', tags: { deviceType: 'LoRa Concentrator' } },
    { deviceId: 'e1', connectionState: 'Connected', capabilities: { iotEdge: true } },
    { deviceId: 'e2', connectionState: 'Connected', capabilities: { iotEdge: true } },
    { deviceId: 'e3', capabilities: { iotEdge: true } },
  ],
  configurations: [
    { id: 'edge-base', content: { modulesContent: { $edgeAgent: { 'properties.desired': {} } } }, systemMetrics: { results: { targetedCount: 3, reportedFailedCount: 2 } } },
    { id: 'edge-layer', content: { modulesContent: { $edgeAgent: { 'properties.desired.modules.x': {} } } }, systemMetrics: { results: { reportedFailedCount: 1 } } },
    // Created moments ago: the hub has not computed its metrics yet.
    { id: 'edge-new', content: { modulesContent: { $edgeAgent: { 'properties.desired': {} } } } },
    { id: 'firmware', content: { deviceContent: { 'properties.desired.firmware': { v: 2 } } }, systemMetrics: { results: TRAP } },
    { id: 'module-settings', content: { moduleContent: { 'properties.desired.x': 1 } }, systemMetrics: { results: TRAP } },
    { id: 'empty-deployment', content: { modulesContent: {} }, systemMetrics: { results: TRAP } },
  ],
};

/** The five gauges of a fixture, counted by hand. */
function expected(f: Fixture): Record<string, number> {
  const edge = f.twins.filter((t) => t.capabilities.iotEdge);
  const devices = f.twins.filter((t) => !t.capabilities.iotEdge && t.tags['deviceType'] !== 'LoRa Concentrator');
  const connected = (list: typeof f.twins) => list.filter((t) => t.connectionState === 'Connected').length;
  const deployments = f.configurations.filter((c) => Object.keys(c.content.modulesContent ?? {}).length > 0);
  return {
    iot_hub_portal_device_count: devices.length,
    iot_hub_portal_connected_device_count: connected(devices),
    iot_hub_portal_edge_device_count: edge.length,
    iot_hub_portal_connected_edge_device_count: connected(edge),
    iot_hub_portal_failed_deployment_count: deployments.reduce((sum, c) => sum + (c.systemMetrics.results['reportedFailedCount'] ?? 0), 0),
  };
}

describe('azureFleetSource', () => {
  let emulator: IotHubEmulator | undefined;
  afterEach(async () => {
    await emulator?.close();
    emulator = undefined;
  });

  async function measure(fixture: FixtureInput | Fixture, options: Partial<IotHubClientOptions> = {}) {
    emulator = await startIotHubEmulator({ fixture });
    const clock = virtualClock();
    const client = new IotHubClient({ credentials: emulator.credentials, endpoint: emulator.url, pageSize: 10, clock, ...options });
    const readings: FleetReadings = await azureFleetSource(client);
    return { readings, client, clock, emulator, fixture: emulator.fixture() };
  }

  it('measures each gauge as the fixture has it, in five requests', async () => {
    const { readings, client, emulator, fixture } = await measure(SMALL);
    expect(readings.withheld).toEqual([]);
    expect(readings.values).toEqual(expected(fixture));
    // Spelled out once, so that the hand count above is itself checked.
    expect(readings.values).toEqual({
      iot_hub_portal_device_count: 4,
      iot_hub_portal_connected_device_count: 2,
      iot_hub_portal_edge_device_count: 3,
      iot_hub_portal_connected_edge_device_count: 2,
      iot_hub_portal_failed_deployment_count: 3,
    });
    expect(client.calls.toJSON()).toEqual({ getConfigurations: 1, 'query:devices': 4 });
    expect(emulator.stats().operations).toEqual({ getConfigurations: 1, 'query:devices': 4 });
  });

  it('sums failures over deployments only: device, module and empty configurations are not counted', async () => {
    const { readings, fixture } = await measure(SMALL);
    const all = parseConfigurations(fixture.configurations);
    const everything = all.reduce((sum, c) => sum + (c.systemMetrics.results['reportedFailedCount'] ?? 0), 0);
    // Counting the traps would have shown: they hold 3,000 of the 3,003 failures.
    expect(everything).toBe(3003);
    expect(readings.values.iot_hub_portal_failed_deployment_count).toBe(3);
    expect(failedDeploymentCount(all.filter((c) => c.id !== 'edge-base'))).toBe(1);
    expect(() => failedDeploymentCount(parseConfigurations([{ id: 'odd', content: { modulesContent: { a: {} } }, systemMetrics: { results: { reportedFailedCount: 1.5 } } }]))).toThrow(
      /deployment odd reports reportedFailedCount 1.5, which is not a count of devices/,
    );
  });

  it('counts a fleet of many pages in one request per count', async () => {
    const fleet = generateFleet({ devices: 2_000, lora: 200, edge: 300, concentrators: 150, gateways: 30 });
    const { readings, client, emulator, fixture } = await measure(fleet, { pageSize: 100 });
    const want = expected(fixture);
    expect(readings.withheld).toEqual([]);
    expect(readings.values).toEqual(want);
    expect(want.iot_hub_portal_device_count).toBe(2_000);
    expect(want.iot_hub_portal_edge_device_count).toBe(300);
    // The generator's device configuration is there, and left out.
    expect(fixture.configurations.some((c) => c.content.deviceContent !== undefined)).toBe(true);
    expect(want.iot_hub_portal_failed_deployment_count).toBeGreaterThan(0);
    // Listing them would have taken 20 pages of devices and 3 of edge devices; each count took one request.
    expect(client.calls.toJSON()).toEqual({ getConfigurations: 1, 'query:devices': 4 });
    expect(emulator.stats().operations).toEqual({ getConfigurations: 1, 'query:devices': 4 });
  });

  it('goes down when devices leave', async () => {
    const { readings, client, emulator } = await measure(SMALL);
    emulator.mutate((f) => {
      f.twins = f.twins.filter((t) => t.deviceId !== 'd1' && t.deviceId !== 'e1');
    });
    const after = await azureFleetSource(client);
    expect(after.values.iot_hub_portal_device_count).toBe(readings.values.iot_hub_portal_device_count! - 1);
    expect(after.values.iot_hub_portal_connected_device_count).toBe(readings.values.iot_hub_portal_connected_device_count! - 1);
    expect(after.values.iot_hub_portal_edge_device_count).toBe(readings.values.iot_hub_portal_edge_device_count! - 1);
    expect(after.values.iot_hub_portal_connected_edge_device_count).toBe(readings.values.iot_hub_portal_connected_edge_device_count! - 1);
  });

  it('a query that fails withholds its own gauge only, with a reason free of secrets', { timeout: 5000 }, async () => {
    // Only the connected devices' count has this text.
    const fault: FaultSpec = { operation: 'query:devices', match: "'LoRa Concentrator')) AND connectionState = 'Connected'", status: 500 };
    const { readings, fixture, emulator } = await measure({ ...SMALL, faults: [fault] }, { retry: { maxRetries: 2, baseDelayMs: 100 } });
    const { iot_hub_portal_connected_device_count: _withheld, ...others } = expected(fixture);
    expect(readings.values).toEqual(others);
    expect(readings.withheld).toEqual([
      {
        gauges: ['iot_hub_portal_connected_device_count'],
        kind: 'failed',
        reason: 'IoT Hub fleet-hub.azure-devices.net: page 1 of query:devices gave up after 3 attempts: failed with HTTP 500',
      },
    ]);
    expect(emulator.stats().operations).toEqual({ getConfigurations: 1, 'query:devices': 6 });
  });

  it('a configurations list that fails withholds the failed deployments only', { timeout: 5000 }, async () => {
    const { readings, fixture } = await measure({ ...SMALL, faults: [{ operation: 'getConfigurations', status: 503 }] }, { retry: { maxRetries: 1, baseDelayMs: 100 } });
    const { iot_hub_portal_failed_deployment_count: _withheld, ...others } = expected(fixture);
    expect(readings.values).toEqual(others);
    expect(readings.withheld).toEqual([
      {
        gauges: ['iot_hub_portal_failed_deployment_count'],
        kind: 'failed',
        reason: 'IoT Hub fleet-hub.azure-devices.net: getConfigurations gave up after 2 attempts: failed with HTTP 503',
      },
    ]);
  });

  it("honours a 429's Retry-After on a count and on the configurations, and still measures everything", { timeout: 5000 }, async () => {
    const { readings, clock, client, emulator, fixture } = await measure({
      ...SMALL,
      faults: [
        { operation: 'query:devices', match: 'capabilities.iotEdge = true', status: 429, retryAfterSeconds: 12, times: 1 },
        { operation: 'getConfigurations', status: 429, retryAfterMs: 2500, times: 1 },
      ],
    });
    expect(readings.withheld).toEqual([]);
    expect(readings.values).toEqual(expected(fixture));
    expect(clock.sleeps.filter((ms) => ms === 12_000)).toHaveLength(1);
    expect(clock.sleeps.filter((ms) => ms === 2_500)).toHaveLength(1);
    expect(client.calls.quota.throttled).toBe(2);
    expect(emulator.stats().operations).toEqual({ getConfigurations: 2, 'query:devices': 5 });
  });

  it('a refused key withholds every gauge, saying so without the key', async () => {
    const key = Buffer.from('another-key-another-key-another!').toString('base64');
    const { readings } = await measure(SMALL, { credentials: { hostName: 'fleet-hub.azure-devices.net', sharedAccessKeyName: 'iothubowner', sharedAccessKey: key } });
    expect(readings.values).toEqual({});
    expect(readings.withheld.flatMap((w) => w.gauges)).toEqual(GAUGES);
    for (const w of readings.withheld) {
      expect(w.kind).toBe('failed');
      expect(w.reason).toMatch(/refused the credentials \(HTTP 401\): check IOTHUB_CONNECTION_STRING \(key name iothubowner\)/);
      expect(w.reason).not.toContain(key);
      expect(w.reason).not.toContain(KEY);
    }
  });

  it('a hub that cannot be reached withholds every gauge, never reports a zero', { timeout: 5000 }, async () => {
    const gone = await startIotHubEmulator({ fixture: SMALL });
    const url = gone.url;
    await gone.close();
    const client = new IotHubClient({ credentials: gone.credentials, endpoint: url, clock: virtualClock(), retry: { maxRetries: 0, baseDelayMs: 1 } });
    const readings = await azureFleetSource(client);
    expect(readings.values).toEqual({});
    expect(readings.withheld.map((w) => w.gauges[0])).toEqual(GAUGES);
    for (const w of readings.withheld) expect(w.reason).toMatch(/gave up after 1 attempt: unreachable at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)$/);
  });
});
