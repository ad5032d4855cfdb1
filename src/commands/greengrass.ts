import type { Deployment } from '@aws-sdk/client-greengrassv2';
import type { AwsConfig } from '../config.js';
import type { AwsIot } from '../providers/aws/client.js';
import { mapConcurrent } from '../providers/concurrency.js';
import { ApiCallCounter, ProviderError } from '../providers/errors.js';
import type { CurrentRecord, RemoteEntry } from '../reconcile/index.js';
import type { Inventory, RemoteContext } from '../run/inventory.js';
import type { Logger } from '../run/log.js';
import { applyEdgeModelsPlan, EDGE_MODEL_FIELDS, edgeDeviceCountsByModel, foreignEdgeModels, loadOwnedEdgeModels } from '../store/edge-models.js';
import { awsClient, nameField } from './aws-source.js';
import { edgeModelProblem, foreignModelReason, judgeDeployment, keptForEdgeDevices, screenDeployment, type GroupFacts } from './greengrass-mapping.js';

/**
 * Greengrass V2 deployments -> `edge_device_models`: the latest deployment to each dynamic thing
 * group is an edge device model (id = external identifier = deploymentId). Only models greengrass
 * wrote (external_identifier = id) are its own: others are never touched, and a deployment whose id
 * one of them holds is skipped. Models of vanished deployments go, unless edge devices use them.
 */
export function greengrassInventory(aws: AwsConfig): Inventory {
  const calls = new ApiCallCounter();
  let client: AwsIot | null = null;
  const clientFor = (log: Logger) => (client ??= awsClient(aws, calls, log));
  let stored = new Map<string, CurrentRecord>();
  const deploymentNames = new Map<string, string>();
  return {
    command: 'greengrass',
    noun: 'edge device model',
    calls,
    versioned: false,
    nameOf: (key) => deploymentNames.get(key) ?? nameField(stored.get(key)),
    // No version column: the name is compared as a live field at a constant version.
    policy: { liveFields: EDGE_MODEL_FIELDS, secretFields: [] },
    async *remote(ctx: RemoteContext): AsyncIterable<RemoteEntry[]> {
      const iot = clientFor(ctx.log);
      const usage = await edgeDeviceCountsByModel(ctx.db);
      const foreign = await foreignEdgeModels(ctx.db);
      const listed = new Set<string>();
      for await (const page of iot.listLatestDeployments()) {
        for (const d of page) if (d.deploymentId && d.deploymentName) deploymentNames.set(d.deploymentId, d.deploymentName);
        const entries = await judgePage(iot, page, aws.concurrency);
        yield entries.map((entry) => {
          listed.add(entry.key);
          const owner = foreign.get(entry.key);
          // The id is held by a model greengrass does not own (an Azure one, the portal's): never written over.
          if (entry.kind === 'desired' && owner !== undefined) return { kind: 'skipped', key: entry.key, reason: foreignModelReason(owner) };
          return entry;
        });
      }
      // The listing is complete: models of vanished deployments go, unless edge devices still use them.
      const kept: RemoteEntry[] = [];
      for (const key of stored.keys()) {
        const devices = usage.get(key) ?? 0;
        if (!listed.has(key) && devices > 0) kept.push({ kind: 'skipped', key, reason: keptForEdgeDevices(devices) });
      }
      if (kept.length > 0) yield kept;
    },
    validate: edgeModelProblem,
    async loadCurrent(db) {
      stored = await loadOwnedEdgeModels(db);
      return stored;
    },
    apply: applyEdgeModelsPlan,
  };
}

/**
 * One page of deployments judged: DescribeThingGroup for each group a deployment to a thing group
 * targets, at most `concurrency` at once (the client asks once per group and pass, however many
 * deployments target it), then each deployment's verdict in listing order.
 */
async function judgePage(iot: AwsIot, page: readonly Deployment[], concurrency: number): Promise<RemoteEntry[]> {
  const screened = page.map((d) => ({ deployment: d, screen: screenDeployment(d) }));
  const groups = [...new Set(screened.flatMap(({ screen }) => (screen.kind === 'group' ? [screen.group] : [])))];
  const facts = await mapConcurrent(groups, concurrency, (group) => groupFacts(iot, group));
  const byGroup = new Map(groups.map((group, i) => [group, facts[i]!]));
  return screened.map(({ deployment, screen }) =>
    screen.kind === 'entry' ? screen.entry : judgeDeployment(deployment, screen.group, byGroup.get(screen.group)!),
  );
}

/**
 * What a group is. A failure of this one group is its deployments' own (the others go on), except
 * refused credentials or an unreachable AWS, which no other group would escape: those end the listing.
 */
async function groupFacts(iot: AwsIot, name: string): Promise<GroupFacts> {
  try {
    const group = await iot.describeThingGroup(name);
    if (group === null) return { kind: 'absent' };
    const query = group.queryString;
    return query !== undefined && query !== '' ? { kind: 'dynamic', queryString: query } : { kind: 'static' };
  } catch (error) {
    if (error instanceof ProviderError && (error.kind === 'auth' || error.kind === 'unreachable' || error.kind === 'timeout')) throw error;
    return { kind: 'error', error: error instanceof Error ? error.message : String(error) };
  }
}
