/**
 * Greengrass V2 operations (service `greengrass`), shapes as `@aws-sdk/client-greengrassv2` reads
 * them; dates are epoch seconds.
 */
import { invalid, notFound } from './errors.js';
import { CORE_DEVICE_STATUSES, type AwsCoreDevice } from './fixture.js';
import { listingHash, pageOf } from './paging.js';
import { epochSeconds, invalidToken, maxResults, ok, optionalQuery, type OpReply, type OpRequest } from './request.js';

/** ListDeployments / ListCoreDevices: "Valid Range: Minimum value of 1. Maximum value of 100." */
export const GREENGRASS_MAX_RESULTS = 100;

function listDeployments(req: OpRequest): OpReply {
  const history = optionalQuery(req, 'historyFilter') ?? 'LATEST_ONLY';
  if (history !== 'ALL' && history !== 'LATEST_ONLY') {
    throw invalid('greengrass', `1 validation error detected: Value '${history}' at 'historyFilter' failed to satisfy constraint: Member must satisfy enum value set: [ALL, LATEST_ONLY]`);
  }
  const target = optionalQuery(req, 'targetArn');
  const parent = optionalQuery(req, 'parentTargetArn');
  const listing = listingHash(['ListDeployments', history, target, parent]);
  // No deployment of the emulator has a parent target (those come from thing-group deployments' sub-deployments).
  const deployments =
    parent !== undefined ? [] : req.state.deployments.filter((d) => (history === 'ALL' || d.isLatestForTarget) && (target === undefined || d.targetArn === target));
  const page = pageOf(deployments, (d) => d.id, listing, { nextToken: optionalQuery(req, 'nextToken'), maxResults: maxResults(req, GREENGRASS_MAX_RESULTS) }, req.repeatToken);
  if (!page) throw invalidToken(req);
  return ok({
    deployments: page.items.map((d) => ({
      targetArn: d.targetArn,
      revisionId: d.revisionId,
      deploymentId: d.id,
      ...(d.name !== undefined ? { deploymentName: d.name } : {}),
      creationTimestamp: epochSeconds(d.creationTimestamp),
      deploymentStatus: d.status,
      isLatestForTarget: d.isLatestForTarget,
    })),
    ...(page.nextToken !== undefined ? { nextToken: page.nextToken } : {}),
  });
}

function coreDeviceSummary(c: AwsCoreDevice) {
  return {
    coreDeviceThingName: c.thingName,
    status: c.status,
    lastStatusUpdateTimestamp: epochSeconds(c.lastStatusUpdate),
    platform: c.platform,
    architecture: c.architecture,
    runtime: c.runtime,
  };
}

/**
 * `thingGroupArn`: the core devices in that group. The emulator knows membership only of dynamic
 * groups whose query is `thingTypeName:<type>` (what the generator makes); any other group has none.
 */
function inGroup(req: OpRequest, groupArn: string): (c: AwsCoreDevice) => boolean {
  const prefix = `${req.state.arnPrefix}thinggroup/`;
  const group = groupArn.startsWith(prefix) ? req.state.thingGroup(groupArn.slice(prefix.length)) : undefined;
  const m = group?.queryString !== undefined ? /^thingTypeName:([A-Za-z0-9:_-]+)$/.exec(group.queryString.trim()) : null;
  if (!m) return () => false;
  return (c) => req.state.thing(c.thingName)?.type === m[1];
}

function listCoreDevices(req: OpRequest): OpReply {
  const status = optionalQuery(req, 'status');
  if (status !== undefined && !(CORE_DEVICE_STATUSES as readonly string[]).includes(status)) {
    throw invalid('greengrass', `1 validation error detected: Value '${status}' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [HEALTHY, UNHEALTHY]`);
  }
  const group = optionalQuery(req, 'thingGroupArn');
  const runtime = optionalQuery(req, 'runtime');
  const listing = listingHash(['ListCoreDevices', status, group, runtime]);
  const member = group === undefined ? undefined : inGroup(req, group);
  const all = req.state.coreDevices;
  const devices =
    status === undefined && member === undefined && runtime === undefined
      ? all
      : all.filter((c) => (status === undefined || c.status === status) && (runtime === undefined || c.runtime === runtime) && (member === undefined || member(c)));
  const page = pageOf(devices, (c) => c.thingName, listing, { nextToken: optionalQuery(req, 'nextToken'), maxResults: maxResults(req, GREENGRASS_MAX_RESULTS) }, req.repeatToken);
  if (!page) throw invalidToken(req);
  return ok({ coreDevices: page.items.map(coreDeviceSummary), ...(page.nextToken !== undefined ? { nextToken: page.nextToken } : {}) });
}

function getCoreDevice(req: OpRequest): OpReply {
  const c = req.state.coreDevice(req.name!);
  if (!c) throw notFound(`Core device ${req.name!} not found.`);
  return ok({ ...coreDeviceSummary(c), coreVersion: c.coreVersion, tags: {} });
}

export const GREENGRASS_HANDLERS = {
  ListDeployments: listDeployments,
  ListCoreDevices: listCoreDevices,
  GetCoreDevice: getCoreDevice,
} satisfies Record<string, (req: OpRequest) => OpReply>;
