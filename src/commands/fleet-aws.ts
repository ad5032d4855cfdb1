import type { AwsIot } from '../providers/aws/client.js';
import type { EdgeVerdict } from '../providers/aws/edge.js';
import { FleetIndexUnavailable } from '../providers/aws/fleet-index.js';
import { measureEach, mergeReadings, type FleetReadings, type Measurement } from '../run/fleet-gauges.js';
import { readListedThing } from './things-mapping.js';

/** The fleet index's query for the things connected now. */
const CONNECTED_QUERY = 'connectivity.connected:true';

/**
 * The AWS source of `metrics push` (INVENTORIES.md, Portal metrics): the provider's five fleet
 * gauges from complete listings, every page of each. Four independent measurements, one after the
 * other (each spends its own API's quota), each withheld alone when it fails:
 *
 *   device / edge device count    ListThings; a thing counts by its type's edge verdict, as the
 *                                 `things` command places it (standard -> device, edge -> edge
 *                                 device); no type, or a type without a usable `iotEdge` tag: not counted
 *   connected device count        SearchIndex `connectivity.connected:true` on AWS_Things, things of
 *                                 standard types; needs fleet indexing with thing connectivity
 *                                 (else withheld as unavailable, with how to enable it)
 *   connected edge device count   ListCoreDevices, status HEALTHY
 *   failed deployment count       ListDeployments LATEST_ONLY, deploymentStatus FAILED
 *
 * The edge verdicts are the client's, read once per type and pass (DescribeThingType and
 * ListTagsForResource), whichever measurement asks first. A verdict that cannot be read fails the
 * measurement that needed it: a count that leaves out the things of one type is not pushed.
 */
export async function awsFleetSource(client: AwsIot): Promise<FleetReadings> {
  const things = await measureEach([
    {
      gauges: ['iot_hub_portal_device_count', 'iot_hub_portal_edge_device_count'],
      read: async () => {
        const counts = await countByKind(client, 'ListThings', await listedThingTypes(client));
        return { iot_hub_portal_device_count: counts.standard, iot_hub_portal_edge_device_count: counts.edge };
      },
    },
  ]);
  const connected = await measureUnlessUnavailable(
    {
      gauges: ['iot_hub_portal_connected_device_count'],
      read: async () => {
        const counts = await countByKind(client, `SearchIndex ${CONNECTED_QUERY}`, await connectedThingTypes(client));
        return { iot_hub_portal_connected_device_count: counts.standard };
      },
    },
    unavailableReason,
  );
  const greengrass = await measureEach([
    { gauges: ['iot_hub_portal_connected_edge_device_count'], read: async () => ({ iot_hub_portal_connected_edge_device_count: await healthyCoreDevices(client) }) },
    { gauges: ['iot_hub_portal_failed_deployment_count'], read: async () => ({ iot_hub_portal_failed_deployment_count: await failedLatestDeployments(client) }) },
  ]);
  return mergeReadings(things, connected, greengrass);
}

/** How to turn on what the connected-device gauge needs (AWS CLI; the console's Settings > Fleet indexing does the same). */
const ENABLE_CONNECTIVITY_INDEXING =
  'aws iot update-indexing-configuration --thing-indexing-configuration thingIndexingMode=REGISTRY,thingConnectivityIndexingMode=STATUS';

/**
 * Why the connected-device gauge cannot be measured in this account, when the fleet index said so;
 * null for any other failure (then the measurement failed this time).
 */
function unavailableReason(error: unknown): string | null {
  if (!(error instanceof FleetIndexUnavailable)) return null;
  const said = `(${error.message})`;
  if (error.code === 'IndexNotReadyException') {
    return `the AWS_Things fleet index is still being built ${said}; connected devices are counted once it is ACTIVE`;
  }
  if (error.code === 'InvalidQueryException') {
    return `fleet indexing does not index thing connectivity ${said}; enable it with: ${ENABLE_CONNECTIVITY_INDEXING}`;
  }
  return `fleet indexing is off in this account and region ${said}; enable it with thing connectivity: ${ENABLE_CONNECTIVITY_INDEXING}`;
}

/**
 * measureEach of one measurement, except that a failure `unavailable` recognises withholds its
 * gauges as unavailable (this account cannot give them; not a failure of the run) rather than failed.
 * fleet-gauges.ts's measureEach knows only failures; this keeps its contract as it is.
 */
async function measureUnlessUnavailable(measurement: Measurement, unavailable: (error: unknown) => string | null): Promise<FleetReadings> {
  let reason: string | null = null;
  const readings = await measureEach([
    {
      gauges: measurement.gauges,
      read: () =>
        measurement.read().catch((error: unknown) => {
          reason = unavailable(error);
          throw error;
        }),
    },
  ]);
  if (reason === null) return readings;
  return { values: {}, withheld: [{ gauges: measurement.gauges, reason, kind: 'unavailable' }] };
}

/**
 * Things by name -> their type (null: none). By name, so a thing listed twice (a listing that
 * shifts while it is paged) counts once. Things the `things` command could not read (no name, no
 * version) are left out as it leaves them out.
 */
async function listedThingTypes(client: AwsIot): Promise<Map<string, string | null>> {
  const types = new Map<string, string | null>();
  for await (const page of client.listThings()) {
    for (const raw of page) {
      const thing = readListedThing(raw);
      if ('kind' in thing) continue;
      types.set(thing.name, thing.typeName);
    }
  }
  return types;
}

/** The connected things of the fleet index by name -> their type (null: none). */
async function connectedThingTypes(client: AwsIot): Promise<Map<string, string | null>> {
  const types = new Map<string, string | null>();
  for await (const page of client.searchThings(CONNECTED_QUERY)) {
    for (const doc of page) {
      // The query asked for connected things; a document that says otherwise is not counted as one.
      if (!doc.thingName || doc.connectivity?.connected === false) continue;
      types.set(doc.thingName, doc.thingTypeName ? doc.thingTypeName : null);
    }
  }
  return types;
}

interface KindCounts {
  readonly standard: number;
  readonly edge: number;
}

/**
 * How many of the things are of a standard type and of an edge type, by each type's edge verdict
 * (asked once per type). Things without a type, or of a type whose `iotEdge` tag says neither,
 * are left out, in one debug line. A verdict that cannot be read throws: the count would be wrong.
 */
async function countByKind(client: AwsIot, listing: string, types: ReadonlyMap<string, string | null>): Promise<KindCounts> {
  const perType = new Map<string | null, number>();
  for (const type of types.values()) perType.set(type, (perType.get(type) ?? 0) + 1);
  let standard = 0;
  let edge = 0;
  let untyped = 0;
  const unknown: string[] = [];
  for (const [type, n] of perType) {
    if (type === null) {
      untyped += n;
      continue;
    }
    let verdict: EdgeVerdict;
    try {
      verdict = await client.thingTypeEdge(type);
    } catch (error) {
      throw new Error(`the edge verdict of thing type ${type} could not be read: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (verdict.kind === 'standard') standard += n;
    else if (verdict.kind === 'edge') edge += n;
    else unknown.push(`${n} of type ${type} (${verdict.reason})`);
  }
  if (untyped > 0 || unknown.length > 0) {
    const parts = [...(untyped > 0 ? [`${untyped} without a thing type`] : []), ...unknown];
    client.log.debug(`fleet gauges: ${listing}: things not counted: ${parts.join('; ')}`);
  }
  return { standard, edge };
}

/** Core devices AWS reports HEALTHY, over every page of ListCoreDevices (status HEALTHY). */
async function healthyCoreDevices(client: AwsIot): Promise<number> {
  const names = new Set<string>();
  for await (const page of client.listCoreDevices('HEALTHY')) {
    // The filter is AWS's; a core device it lets through saying another status is not counted.
    for (const core of page) if (core.coreDeviceThingName && (core.status ?? 'HEALTHY') === 'HEALTHY') names.add(core.coreDeviceThingName);
  }
  return names.size;
}

/** Latest deployments (one per target) whose status is FAILED, over every page of ListDeployments. */
async function failedLatestDeployments(client: AwsIot): Promise<number> {
  const ids = new Set<string>();
  for await (const page of client.listLatestDeployments()) {
    for (const d of page) if (d.deploymentId && d.deploymentStatus === 'FAILED') ids.add(d.deploymentId);
  }
  return ids.size;
}
