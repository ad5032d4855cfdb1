/**
 * The AWS emulator's fleet index (SearchIndex on AWS_Things) through the real SDK v3 client: the
 * documents as the SDK parses them, paging and its limits, the errors AWS gives when fleet indexing
 * or thing connectivity indexing is off or the index is not ready, faults, the fixture's fields, and
 * the connectivity and statuses the generator gives a fleet.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { IndexNotReadyException, InvalidQueryException, InvalidRequestException, ResourceNotFoundException, SearchIndexCommand, type ThingDocument } from '@aws-sdk/client-iot';
import { ListDeploymentsCommand } from '@aws-sdk/client-greengrassv2';
import { generateAwsFleet, normalizeAwsFixture, parseAwsGenerateSpec, startAwsEmulator, type AwsEmulator, type AwsFixtureInput } from '../../src/emulators/aws/index.js';
import { FixtureError } from '../../src/emulators/iothub/index.js';
import { awsClients, type AwsClients } from '../support/aws.js';

type SdkError = Error & { $metadata: { httpStatusCode?: number } };

async function errorOf(p: Promise<unknown>): Promise<SdkError> {
  try {
    await p;
  } catch (err) {
    return err as SdkError;
  }
  throw new Error('expected the call to fail');
}

const FLEET = {
  thingTypes: [{ name: 'sensor', tags: { iotEdge: 'false' } }, { name: 'gateway', tags: { iotEdge: 'true' } }],
  things: [
    { name: 'thing-1', id: 'id-1', type: 'sensor', attributes: { site: 'Lyon' }, connected: true },
    { name: 'thing-2', id: 'id-2', type: 'sensor', attributes: { site: 'Paris' } },
    { name: 'edge-1', id: 'id-e1', type: 'gateway', connected: true },
    { name: 'loose', id: 'id-l', connected: true },
  ],
};

let emu: AwsEmulator | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

async function start(fixture: AwsFixtureInput): Promise<AwsClients> {
  emu = await startAwsEmulator({ fixture });
  return awsClients(emu.env());
}

const search = (c: AwsClients, queryString: string, more: { nextToken?: string; maxResults?: number; indexName?: string } = {}) =>
  c.iot.send(new SearchIndexCommand({ indexName: 'AWS_Things', queryString, ...more }));

const names = (things: ThingDocument[] | undefined) => (things ?? []).map((t) => t.thingName);

describe('SearchIndex', () => {
  it('answers ThingDocuments with connectivity (timestamp in epoch ms) for the connected things, in name order', async () => {
    const c = await start(FLEET);
    const out = await search(c, 'connectivity.connected:true');
    expect(out.nextToken).toBeUndefined();
    expect(out.things).toEqual([
      { thingName: 'edge-1', thingId: 'id-e1', thingTypeName: 'gateway', attributes: {}, connectivity: { connected: true, timestamp: Date.UTC(2026, 0, 1) } },
      { thingName: 'loose', thingId: 'id-l', attributes: {}, connectivity: { connected: true, timestamp: Date.UTC(2026, 0, 1) } },
      { thingName: 'thing-1', thingId: 'id-1', thingTypeName: 'sensor', attributes: { site: 'Lyon' }, connectivity: { connected: true, timestamp: Date.UTC(2026, 0, 1) } },
    ]);
    // A thing that never connected: connected false and no timestamp.
    const off = await search(c, 'connectivity.connected:false');
    expect(off.things).toEqual([{ thingName: 'thing-2', thingId: 'id-2', thingTypeName: 'sensor', attributes: { site: 'Paris' }, connectivity: { connected: false } }]);
    expect(emu!.stats().requests).toEqual({ SearchIndex: 2 });
  });

  it('joins terms with AND over names (with *), ids, types and attributes', async () => {
    const c = await start(FLEET);
    expect(names((await search(c, 'thingTypeName:sensor AND connectivity.connected:true')).things)).toEqual(['thing-1']);
    expect(names((await search(c, 'thingName:thing-*')).things)).toEqual(['thing-1', 'thing-2']);
    expect(names((await search(c, 'attributes.site:Paris')).things)).toEqual(['thing-2']);
    expect(names((await search(c, 'thingId:id-e1')).things)).toEqual(['edge-1']);
    expect(names((await search(c, 'thingTypeName:meter')).things)).toEqual([]);
  });

  it('pages with a nextToken until the last page, at most 100 a page, and refuses more or a foreign token', async () => {
    const things = Array.from({ length: 250 }, (_, i) => ({ name: `t-${String(i).padStart(3, '0')}`, type: 'sensor', connected: i % 2 === 0 }));
    const c = await start({ things });
    const seen: string[] = [];
    const sizes: number[] = [];
    let nextToken: string | undefined;
    do {
      const out = await search(c, 'connectivity.connected:true', { maxResults: 100, ...(nextToken ? { nextToken } : {}) });
      sizes.push(out.things!.length);
      seen.push(...names(out.things).map(String));
      nextToken = out.nextToken;
    } while (nextToken);
    expect(sizes).toEqual([100, 25]);
    expect(seen).toEqual(things.filter((t) => t.connected).map((t) => t.name));
    // Without maxResults: the most a page holds.
    expect((await search(c, 'thingName:*')).things).toHaveLength(100);

    const over = await errorOf(search(c, 'thingName:*', { maxResults: 101 }));
    expect(over).toBeInstanceOf(InvalidRequestException);
    expect(over.message).toContain('maxResults');
    const first = await search(c, 'thingName:*', { maxResults: 10 });
    const foreign = await errorOf(search(c, 'connectivity.connected:true', { nextToken: first.nextToken! }));
    expect(foreign).toBeInstanceOf(InvalidRequestException);
    expect(foreign.message).toBe('The pagination token is invalid.');
  });

  it('thing indexing off: ResourceNotFoundException (404), whatever the query', async () => {
    const c = await start({ ...FLEET, fleetIndexing: { thingIndexingMode: 'OFF' } });
    const err = await errorOf(search(c, 'thingName:*'));
    expect(err).toBeInstanceOf(ResourceNotFoundException);
    expect(err.$metadata.httpStatusCode).toBe(404);
    expect(err.message).toBe('Index AWS_Things does not exist.');
    // The emulator indexes things only: another index does not exist either.
    await emu!.close();
    const on = await start(FLEET);
    expect(await errorOf(search(on, 'thingGroupName:*', { indexName: 'AWS_ThingGroups' }))).toBeInstanceOf(ResourceNotFoundException);
  });

  it('connectivity indexing off: a connectivity query is an InvalidQueryException (400), others answer without connectivity', async () => {
    const c = await start({ ...FLEET, fleetIndexing: { thingIndexingMode: 'REGISTRY', thingConnectivityIndexingMode: 'OFF' } });
    const err = await errorOf(search(c, 'connectivity.connected:true'));
    expect(err).toBeInstanceOf(InvalidQueryException);
    expect(err.$metadata.httpStatusCode).toBe(400);
    expect(err.message).toContain('thingConnectivityIndexingMode');
    const out = await search(c, 'thingName:thing-1');
    expect(out.things).toEqual([{ thingName: 'thing-1', thingId: 'id-1', thingTypeName: 'sensor', attributes: { site: 'Lyon' } }]);
  });

  it('an index being built: IndexNotReadyException (400)', async () => {
    const c = await start({ ...FLEET, fleetIndexing: { indexStatus: 'BUILDING' } });
    const err = await errorOf(search(c, 'connectivity.connected:true'));
    expect(err).toBeInstanceOf(IndexNotReadyException);
    expect(err.$metadata.httpStatusCode).toBe(400);
  });

  it('refuses what it cannot parse or does not index with InvalidQueryException', async () => {
    const c = await start(FLEET);
    for (const q of ['connected', 'thingName:', 'connectivity.connected:maybe', 'shadow.reported.temp:10', 'thingName:a OR thingName:b']) {
      expect(await errorOf(search(c, q)), q).toBeInstanceOf(InvalidQueryException);
    }
  });

  it('takes page faults on the token of the body, and throttles, counted under SearchIndex', async () => {
    const things = Array.from({ length: 150 }, (_, i) => ({ name: `t-${String(i).padStart(3, '0')}`, connected: true }));
    const c = await start({
      things,
      faults: [
        { operation: 'SearchIndex', kind: 'throttle', times: 1 },
        { operation: 'SearchIndex', kind: 'page', page: 2, times: 1 },
      ],
    });
    expect((await errorOf(search(c, 'connectivity.connected:true'))).name).toBe('ThrottlingException');
    const first = await search(c, 'connectivity.connected:true');
    expect(first.things).toHaveLength(100);
    const failed = await errorOf(search(c, 'connectivity.connected:true', { nextToken: first.nextToken! }));
    expect(failed.$metadata.httpStatusCode).toBe(500);
    expect(failed.message).toContain('page 2 of SearchIndex');
    expect((await search(c, 'connectivity.connected:true', { nextToken: first.nextToken! })).things).toHaveLength(50);
    expect(emu!.stats()).toMatchObject({ requests: { SearchIndex: 4 }, faults: { SearchIndex: 2 } });
  });
});

describe('fixture: connectivity and fleet indexing', () => {
  it('defaults: not connected; thing indexing REGISTRY with connectivity STATUS, ACTIVE; OFF alone turns connectivity off too', () => {
    const f = normalizeAwsFixture({ things: [{ name: 'a' }] });
    expect(f.things[0]!.connected).toBe(false);
    expect(f.fleetIndexing).toEqual({ thingIndexingMode: 'REGISTRY', thingConnectivityIndexingMode: 'STATUS', indexStatus: 'ACTIVE' });
    expect(normalizeAwsFixture({ fleetIndexing: { thingIndexingMode: 'OFF' } }).fleetIndexing).toEqual({ thingIndexingMode: 'OFF', thingConnectivityIndexingMode: 'OFF', indexStatus: 'ACTIVE' });
  });

  it('names the bad field', () => {
    const bad: [unknown, string][] = [
      [{ things: [{ name: 'a', connected: 'yes' }] }, 'aws.things[0].connected must be true or false'],
      [{ fleetIndexing: { thingIndexingMode: 'ON' } }, 'aws.fleetIndexing.thingIndexingMode must be one of "OFF", "REGISTRY", "REGISTRY_AND_SHADOW"'],
      [{ fleetIndexing: { thingIndexingMode: 'OFF', thingConnectivityIndexingMode: 'STATUS' } }, 'aws.fleetIndexing.thingConnectivityIndexingMode STATUS needs thing indexing'],
      [{ fleetIndexing: { indexStatus: 'REBUILDING' } }, 'aws.fleetIndexing.indexStatus must be one of "ACTIVE", "BUILDING"'],
      [{ fleetIndexing: { mode: 'OFF' } }, 'aws.fleetIndexing.mode is not a field here'],
      [{ fleetIndexing: 'OFF' }, 'aws.fleetIndexing must be an object'],
    ];
    for (const [input, message] of bad) {
      expect(() => normalizeAwsFixture(input), JSON.stringify(input)).toThrow(FixtureError);
      expect(() => normalizeAwsFixture(input), JSON.stringify(input)).toThrow(message);
    }
  });
});

describe('generated fleets for the gauges', () => {
  it('connects 75% of the standard things and the edge things whose core is HEALTHY; every second group failed its latest deployment', async () => {
    const spec = parseAwsGenerateSpec('things=2000,thingTypes=20,edge=200,deployments=8');
    const f = normalizeAwsFixture(generateAwsFleet(spec));
    const standard = f.things.filter((t) => t.name.startsWith('thing-'));
    const share = standard.filter((t) => t.connected).length / standard.length;
    expect(share).toBeGreaterThan(0.7);
    expect(share).toBeLessThan(0.8);
    const healthy = new Set(f.coreDevices.filter((c) => c.status === 'HEALTHY').map((c) => c.thingName));
    expect(healthy.size).toBeLessThan(200);
    for (const t of f.things.filter((x) => x.name.startsWith('core-'))) expect(t.connected, t.name).toBe(healthy.has(t.name));
    expect(f.deployments.filter((d) => d.isLatestForTarget).map((d) => [d.name, d.status])).toEqual([
      ['edge-type-01', 'ACTIVE'],
      ['edge-type-02', 'FAILED'],
    ]);

    // Served: the index and the deployments listing say the same.
    const c = await start(generateAwsFleet(spec));
    let connected = 0;
    let nextToken: string | undefined;
    do {
      const out = await search(c, 'connectivity.connected:true', nextToken ? { nextToken } : {});
      connected += out.things!.length;
      nextToken = out.nextToken;
    } while (nextToken);
    expect(connected).toBe(f.things.filter((t) => t.connected).length);
    const latest = await c.greengrass.send(new ListDeploymentsCommand({ historyFilter: 'LATEST_ONLY' }));
    expect(latest.deployments!.filter((d) => d.deploymentStatus === 'FAILED').map((d) => d.deploymentName)).toEqual(['edge-type-02']);
  });

  it('leaves the rest of a generated fleet as it was before connectivity was drawn', () => {
    // Connectivity has its own random sequence: versions, sites and core statuses are the ones the
    // generator gave this spec before (pinned from that version), so earlier benchmarks still compare.
    const f = normalizeAwsFixture(generateAwsFleet(parseAwsGenerateSpec('things=20,thingTypes=4,edge=5')));
    expect(f.things.map((t) => t.version).join('')).toBe('45451121324322115355');
    expect(f.things.slice(0, 5).map((t) => t.attributes['site'])).toEqual(['site-01', 'site-20', 'site-15', 'site-10', 'site-09']);
    expect(f.coreDevices.map((c) => c.status)).toEqual(['HEALTHY', 'UNHEALTHY', 'HEALTHY', 'UNHEALTHY', 'HEALTHY']);
  });
});
