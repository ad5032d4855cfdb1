/**
 * The AWS source of the fleet gauges: AwsIot over the real SDK clients, against the AWS emulator on
 * loopback. Each gauge is compared with the fixture counted here, independently; listings longer
 * than a page are read to their end (calls per operation = pages); fleet indexing off, connectivity
 * not indexed and an index being built withhold the connected-device gauge as unavailable and
 * nothing else; a failing listing withholds its own gauges only; throttling only slows a reading.
 * Waits (backoff, Retry-After) are on a virtual clock: no test sleeps.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { awsFleetSource } from '../../src/commands/fleet-aws.js';
import { resolveAwsConfig } from '../../src/config.js';
import { startAwsEmulator, type AwsEmulator, type AwsFixtureInput } from '../../src/emulators/aws/index.js';
import { AwsIot } from '../../src/providers/aws/client.js';
import { ApiCallCounter } from '../../src/providers/errors.js';
import type { Clock } from '../../src/providers/retry.js';
import type { FleetReadings } from '../../src/run/fleet-gauges.js';

const TYPES = [
  { name: 'sensor', tags: { iotEdge: 'false' } },
  { name: 'meter', tags: { IOTEDGE: 'FALSE' } },
  { name: 'gateway', tags: { iotEdge: 'true' } },
  { name: 'untagged', tags: {} },
  { name: 'weird', tags: { iotEdge: 'maybe' } },
];
const STANDARD = new Set(['sensor', 'meter']);
const EDGE = new Set(['gateway']);
/** Round robin over the types, and every sixth thing without one. */
const TYPE_OF = [...TYPES.map((t) => t.name), undefined];

interface Thing {
  name: string;
  type?: string;
  connected: boolean;
}

/**
 * More than one page of every listing the source reads: 600 things (ListThings pages 250), 450 of
 * them connected (SearchIndex pages 100), 180 HEALTHY core devices of 210 (ListCoreDevices pages
 * 100: 2 pages when AWS filters them, 3 if it did not), 130 latest deployments of 150
 * (ListDeployments pages 100).
 */
function bigFleet() {
  const things: Thing[] = Array.from({ length: 600 }, (_, i) => {
    const type = TYPE_OF[i % TYPE_OF.length];
    return { name: `thing-${String(i).padStart(4, '0')}`, ...(type !== undefined ? { type } : {}), connected: i % 4 !== 0 };
  });
  const coreDevices = Array.from({ length: 210 }, (_, i) => ({ thingName: `core-${String(i).padStart(4, '0')}`, status: i % 7 === 0 ? 'UNHEALTHY' : 'HEALTHY' }));
  const deployments = Array.from({ length: 150 }, (_, i) => ({
    id: `d-${String(i).padStart(4, '0')}`,
    target: `thinggroup/group-${i}`,
    isLatestForTarget: i < 130,
    status: i % 4 === 0 ? 'FAILED' : i % 4 === 1 ? 'COMPLETED' : 'ACTIVE',
  }));
  return { thingTypes: TYPES, things, coreDevices, deployments };
}

type Fleet = ReturnType<typeof bigFleet>;

/** The gauges of a fleet, counted from the fixture without the code under test. */
function expectedGauges(f: Fleet) {
  const standard = f.things.filter((t) => t.type !== undefined && STANDARD.has(t.type));
  return {
    iot_hub_portal_device_count: standard.length,
    iot_hub_portal_edge_device_count: f.things.filter((t) => t.type !== undefined && EDGE.has(t.type)).length,
    iot_hub_portal_connected_device_count: standard.filter((t) => t.connected).length,
    iot_hub_portal_connected_edge_device_count: f.coreDevices.filter((c) => c.status === 'HEALTHY').length,
    iot_hub_portal_failed_deployment_count: f.deployments.filter((d) => d.isLatestForTarget && d.status === 'FAILED').length,
  };
}

const pages = (n: number, size: number) => Math.max(1, Math.ceil(n / size));

/** The calls a complete reading of `f` makes: every page of each listing, and one verdict (2 calls) per type. */
function expectedCalls(f: Fleet) {
  return {
    ListThings: pages(f.things.length, 250),
    SearchIndex: pages(f.things.filter((t) => t.connected).length, 100),
    ListCoreDevices: pages(f.coreDevices.filter((c) => c.status === 'HEALTHY').length, 100),
    ListDeployments: pages(f.deployments.filter((d) => d.isLatestForTarget).length, 100),
    DescribeThingType: TYPES.length,
    ListTagsForResource: TYPES.length,
  };
}

/** Waits take no real time; they are recorded. */
function virtualClock(): Clock & { sleeps: number[] } {
  let skipped = 0;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => Date.now() + skipped,
    async sleep(ms) {
      sleeps.push(ms);
      skipped += ms;
    },
    timeout() {
      return { signal: new AbortController().signal, clear: () => undefined };
    },
  };
}

const SAVED = { ...process.env };

describe('awsFleetSource against the emulated AWS', () => {
  let emu: AwsEmulator | undefined;
  const debugs: string[] = [];
  const warnings: string[] = [];

  beforeEach(() => {
    debugs.length = 0;
    warnings.length = 0;
    // The developer's AWS settings must not leak in; the SDK's Node-version warning stays off (client.ts).
    for (const name of Object.keys(process.env)) if (name.startsWith('AWS_') && name !== 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED') delete process.env[name];
    Object.assign(process.env, { AWS_EC2_METADATA_DISABLED: 'true', HOME: '/nonexistent-home-for-aws-tests' });
  });
  afterEach(async () => {
    await emu?.close();
    emu = undefined;
    for (const name of Object.keys(process.env)) if (!(name in SAVED)) delete process.env[name];
    Object.assign(process.env, SAVED);
  });

  /** The emulator serving `fixture`, and a pass's client of it (its SDK clients read the emulator's env). */
  async function serve(fixture: AwsFixtureInput) {
    emu = await startAwsEmulator({ fixture });
    Object.assign(process.env, emu.env());
    const calls = new ApiCallCounter();
    const clock = virtualClock();
    const client = new AwsIot(resolveAwsConfig({}, process.env), calls, { debug: (m) => debugs.push(m), warn: (m) => warnings.push(m) }, { clock, random: () => 1 });
    return { client, calls, clock };
  }

  it('measures each gauge as the fleet has it, reading every page of every listing once', async () => {
    const fleet = bigFleet();
    const { client, calls } = await serve(fleet);
    const readings = await awsFleetSource(client);
    const expected = expectedGauges(fleet);
    // Five different values: a gauge read from another listing, or another gauge's count, cannot pass.
    expect(new Set(Object.values(expected)).size).toBe(5);
    expect(readings).toEqual({ values: expected, withheld: [] });
    expect(calls.toJSON()).toEqual(expectedCalls(fleet));
    expect(emu!.stats().requests).toEqual(expectedCalls(fleet));
    expect(warnings).toEqual([]);
    // What is left out is said, once per listing, at debug level.
    const untyped = fleet.things.filter((t) => t.type === undefined).length;
    expect(debugs).toEqual([
      expect.stringMatching(new RegExp(`^fleet gauges: ListThings: things not counted: ${untyped} without a thing type; 100 of type untagged \\(no iotEdge tag .*\\); 100 of type weird \\(tag iotEdge is "maybe", not true or false\\)$`)),
      expect.stringMatching(/^fleet gauges: SearchIndex connectivity\.connected:true: things not counted: \d+ without a thing type; \d+ of type untagged .*; \d+ of type weird /),
    ]);
  });

  it('counts a gauge down when things leave, and measures an empty account as zeros (measured, not withheld)', async () => {
    const fleet = bigFleet();
    fleet.things = fleet.things.slice(0, 60);
    fleet.coreDevices = fleet.coreDevices.slice(0, 5);
    fleet.deployments = fleet.deployments.slice(0, 9);
    const small = await serve(fleet);
    expect((await awsFleetSource(small.client)).values).toEqual(expectedGauges(fleet));
    await emu!.close();

    const empty = await serve({});
    const readings = await awsFleetSource(empty.client);
    expect(readings).toEqual({
      values: {
        iot_hub_portal_device_count: 0,
        iot_hub_portal_edge_device_count: 0,
        iot_hub_portal_connected_device_count: 0,
        iot_hub_portal_connected_edge_device_count: 0,
        iot_hub_portal_failed_deployment_count: 0,
      },
      withheld: [],
    });
    expect(empty.calls.toJSON()).toEqual({ ListThings: 1, SearchIndex: 1, ListCoreDevices: 1, ListDeployments: 1 });
  });

  const others = (f: Fleet) => {
    const { iot_hub_portal_connected_device_count: _connected, ...rest } = expectedGauges(f);
    return rest;
  };

  it('fleet indexing off: the connected-device gauge is unavailable, saying how to enable it; the others are measured', async () => {
    const fleet = { ...bigFleet(), fleetIndexing: { thingIndexingMode: 'OFF' } };
    const { client, calls } = await serve(fleet);
    const readings = await awsFleetSource(client);
    expect(readings.values).toEqual(others(fleet));
    expect(readings.withheld).toEqual([{ gauges: ['iot_hub_portal_connected_device_count'], kind: 'unavailable', reason: expect.any(String) }]);
    const reason = readings.withheld[0]!.reason;
    expect(reason).toContain('fleet indexing is off');
    expect(reason).toContain('ResourceNotFoundException (HTTP 404)');
    expect(reason).toContain('aws iot update-indexing-configuration --thing-indexing-configuration thingIndexingMode=REGISTRY,thingConnectivityIndexingMode=STATUS');
    // A fact about the account, not a failure: asked once, never retried.
    expect(calls.toJSON()).toMatchObject({ SearchIndex: 1 });
    expect(warnings).toEqual([]);
  });

  it('thing connectivity not indexed, or the index still being built: unavailable too, each with its reason', async () => {
    const noConnectivity = { ...bigFleet(), fleetIndexing: { thingIndexingMode: 'REGISTRY', thingConnectivityIndexingMode: 'OFF' } };
    const a = await serve(noConnectivity);
    const withoutConnectivity = await awsFleetSource(a.client);
    expect(withoutConnectivity.values).toEqual(others(noConnectivity));
    expect(withoutConnectivity.withheld).toEqual([
      { gauges: ['iot_hub_portal_connected_device_count'], kind: 'unavailable', reason: expect.stringContaining('fleet indexing does not index thing connectivity') },
    ]);
    expect(withoutConnectivity.withheld[0]!.reason).toContain('InvalidQueryException (HTTP 400)');
    await emu!.close();

    const building = { ...bigFleet(), fleetIndexing: { indexStatus: 'BUILDING' } };
    const b = await serve(building);
    const readings = await awsFleetSource(b.client);
    expect(readings.values).toEqual(others(building));
    expect(readings.withheld).toEqual([{ gauges: ['iot_hub_portal_connected_device_count'], kind: 'unavailable', reason: expect.stringContaining('still being built') }]);
    expect(b.calls.toJSON()).toMatchObject({ SearchIndex: 1 });
  });

  it('any other fleet index failure is a failure of this run (failed, after retries), not an unavailable gauge', async () => {
    const fleet = { ...bigFleet(), faults: [{ operation: 'SearchIndex', kind: 'error', status: 503 }] };
    const { client, calls } = await serve(fleet);
    const readings = await awsFleetSource(client);
    expect(readings.values).toEqual(others(fleet));
    expect(readings.withheld).toEqual([
      {
        gauges: ['iot_hub_portal_connected_device_count'],
        kind: 'failed',
        reason: 'AWS SearchIndex (index AWS_Things, query connectivity.connected:true) failed after 6 attempts: ServiceUnavailableException (HTTP 503): Internal error (injected fault: SearchIndex)',
      },
    ]);
    expect(calls.toJSON()).toMatchObject({ SearchIndex: 6 });
  });

  it('a failure on ListDeployments withholds only the failed-deployment gauge, as failed, after its retries', async () => {
    const fleet = { ...bigFleet(), faults: [{ operation: 'ListDeployments', kind: 'error', status: 500 }] };
    const { client, calls } = await serve(fleet);
    const readings = await awsFleetSource(client);
    const { iot_hub_portal_failed_deployment_count: _failed, ...measured } = expectedGauges(fleet);
    expect(readings.values).toEqual(measured);
    expect(readings.withheld).toEqual([
      {
        gauges: ['iot_hub_portal_failed_deployment_count'],
        kind: 'failed',
        reason: 'AWS ListDeployments failed after 6 attempts: InternalServerException (HTTP 500): Internal error (injected fault: ListDeployments)',
      },
    ]);
    expect(calls.toJSON()).toMatchObject({ ListDeployments: 6 });
  });

  it('a second page that fails withholds its gauges: a count of the first page alone is never given', async () => {
    const fleet = { ...bigFleet(), faults: [{ operation: 'ListCoreDevices', kind: 'page', page: 2, status: 400 }] };
    const { client } = await serve(fleet);
    const readings = await awsFleetSource(client);
    expect(readings.values).not.toHaveProperty('iot_hub_portal_connected_edge_device_count');
    expect(readings.withheld).toEqual([{ gauges: ['iot_hub_portal_connected_edge_device_count'], kind: 'failed', reason: expect.stringContaining('AWS ListCoreDevices failed') }]);
    expect(Object.keys(readings.values)).toHaveLength(4);
  });

  it('throttled calls that then succeed still measure every gauge', async () => {
    const fleet = {
      ...bigFleet(),
      faults: ['ListThings', 'SearchIndex', 'ListCoreDevices', 'ListDeployments', 'DescribeThingType'].map((operation) => ({ operation, kind: 'throttle', times: 1 })),
    };
    const { client, calls, clock } = await serve(fleet);
    const readings = await awsFleetSource(client);
    expect(readings).toEqual({ values: expectedGauges(fleet), withheld: [] });
    const once = Object.fromEntries(Object.entries(expectedCalls(fleet)).map(([op, n]) => [op, op === 'ListTagsForResource' ? n : n + 1]));
    expect(calls.toJSON()).toEqual(once);
    expect(calls.quota.throttled).toBe(5);
    // Each waited before its retry: IoT's throttles carry no Retry-After (the first backoff, 250 ms),
    // Greengrass V2's ask for 1 s. (The pacer's own waits after a throttle come on top.)
    expect(clock.sleeps).toEqual(expect.arrayContaining([250, 1000]));
  });

  it('a type whose edge verdict cannot be read fails the counts that need it; the Greengrass gauges are measured', async () => {
    const fleet = { ...bigFleet(), faults: [{ operation: 'DescribeThingType', kind: 'error', status: 400, times: 1 }] };
    const { client } = await serve(fleet);
    const readings = await awsFleetSource(client);
    expect(readings.values).toEqual({
      iot_hub_portal_connected_edge_device_count: expectedGauges(fleet).iot_hub_portal_connected_edge_device_count,
      iot_hub_portal_failed_deployment_count: expectedGauges(fleet).iot_hub_portal_failed_deployment_count,
    });
    // The first type asked is the first listed thing's; its failure is kept for the pass (one call).
    const reason = 'the edge verdict of thing type sensor could not be read: AWS DescribeThingType (thing type sensor) failed: InvalidRequestException (HTTP 400): Request failed (injected fault: DescribeThingType)';
    expect(readings.withheld).toEqual<FleetReadings['withheld']>([
      { gauges: ['iot_hub_portal_device_count', 'iot_hub_portal_edge_device_count'], kind: 'failed', reason },
      { gauges: ['iot_hub_portal_connected_device_count'], kind: 'failed', reason },
    ]);
  });

  it('a fleet index whose next token never advances ends that reading as failed instead of looping', async () => {
    const fleet = { ...bigFleet(), faults: [{ operation: 'SearchIndex', kind: 'repeat-token' }] };
    const { client, calls } = await serve(fleet);
    const readings = await awsFleetSource(client);
    expect(readings.withheld).toEqual([{ gauges: ['iot_hub_portal_connected_device_count'], kind: 'failed', reason: expect.stringContaining('next token already used') }]);
    expect(calls.toJSON()).toMatchObject({ SearchIndex: 2 });
    expect(Object.keys(readings.values)).toHaveLength(4);
  });
});
