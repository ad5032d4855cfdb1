import type { Deployment } from '@aws-sdk/client-greengrassv2';
import type { DesiredRecord, RemoteEntry } from '../reconcile/index.js';
import { EDGE_MODEL_VERSION } from '../store/edge-models.js';
import { columnCheck, declaredColumn } from '../store/schema.js';

/**
 * What one listed deployment needs before it can be judged:
 * - `entry`: judged already (a skip: not the latest for its target, not a thing group's);
 * - `group`: it targets the thing group `group`, whose kind (dynamic or not) decides.
 */
export type DeploymentScreen =
  | { readonly kind: 'entry'; readonly entry: RemoteEntry }
  | { readonly kind: 'group'; readonly id: string; readonly group: string };

/** What DescribeThingGroup said of a group: no such group, a static one, a dynamic one, or a failure. */
export type GroupFacts =
  | { readonly kind: 'absent' }
  | { readonly kind: 'static' }
  | { readonly kind: 'dynamic'; readonly queryString: string }
  | { readonly kind: 'error'; readonly error: string };

/**
 * A thing group's ARN: `arn:<partition>:iot:<region>:<account>:thinggroup/<name>` (any AWS
 * partition, so aws-cn and aws-us-gov accounts work too). The name is the last `/` segment.
 */
const THING_GROUP_ARN = /^arn:aws[a-z-]*:iot:[^:]*:[^:]*:thinggroup\/(.*)$/;
const THING_ARN = /^arn:aws[a-z-]*:iot:[^:]*:[^:]*:thing\//;

/** The thing group a target ARN names, or why it names none. */
export function targetGroup(targetArn: string | undefined): { readonly group: string } | { readonly reason: string } {
  if (targetArn === undefined || targetArn === '') return { reason: 'the deployment has no target ARN: not an edge device model' };
  const group = THING_GROUP_ARN.exec(targetArn);
  if (group) {
    const name = targetArn.slice(targetArn.lastIndexOf('/') + 1);
    return name === '' ? { reason: `target ${targetArn} names no thing group: not an edge device model` } : { group: name };
  }
  if (THING_ARN.test(targetArn)) {
    return { reason: `targets a single thing (${targetArn}), not a thing group: not an edge device model` };
  }
  return { reason: `target ${targetArn} is not a thing group ARN: not an edge device model` };
}

/**
 * The first look at a deployment of the listing (INVENTORIES.md, greengrass): only the latest one
 * for its target (whatever its status), and only one whose target is a thing group; the group's
 * kind is read next. Skipped deployments keep their id as key, so a model made of one earlier is
 * not deleted while the deployment exists (the general rule of skipped records).
 */
export function screenDeployment(d: Deployment): DeploymentScreen {
  const id = d.deploymentId ?? '';
  if (id === '') {
    return { kind: 'entry', entry: { kind: 'skipped', key: d.deploymentName ?? '(no id)', keyless: true, reason: 'ListDeployments gave a deployment without an id' } };
  }
  if (d.isLatestForTarget !== true) {
    return { kind: 'entry', entry: { kind: 'skipped', key: id, reason: `not the latest deployment for its target ${d.targetArn ?? '(none)'}: not an edge device model` } };
  }
  const target = targetGroup(d.targetArn);
  if ('reason' in target) return { kind: 'entry', entry: { kind: 'skipped', key: id, reason: target.reason } };
  return { kind: 'group', id, group: target.group };
}

/** The verdict on a deployment to thing group `group`, from what DescribeThingGroup said of it. */
export function judgeDeployment(d: Deployment, group: string, facts: GroupFacts): RemoteEntry {
  const id = d.deploymentId ?? '';
  switch (facts.kind) {
    case 'dynamic':
      return { kind: 'desired', ...edgeModelOf(d) };
    case 'static':
      return { kind: 'skipped', key: id, reason: `targets thing group ${group}, a static group (no query string): only deployments to dynamic groups are edge device models` };
    case 'absent':
      return { kind: 'skipped', key: id, reason: `targets thing group ${group}, which does not exist: not an edge device model` };
    case 'error':
      return { kind: 'failed', key: id, error: facts.error };
  }
}

/**
 * The edge device model of a deployment to a dynamic group: id and external identifier =
 * deploymentId, name = deploymentName (the id when it has none). The description is not said
 * (undefined): it is the portal's own, null on create and never overwritten.
 */
export function edgeModelOf(d: Pick<Deployment, 'deploymentId' | 'deploymentName'>): DesiredRecord {
  const id = d.deploymentId ?? '';
  const name = d.deploymentName !== undefined && d.deploymentName !== '' ? d.deploymentName : id;
  return { key: id, version: EDGE_MODEL_VERSION, fields: { name } };
}

/** The reason a model that edge devices still use is kept, although its deployment is gone. */
export function keptForEdgeDevices(devices: number): string {
  return `no latest deployment to a dynamic thing group has this id, but the model is still used by ${devices} edge device${devices === 1 ? '' : 's'}: not deleted`;
}

/** The reason a deployment is not written over an edge device model that is not greengrass's. */
export function foreignModelReason(externalIdentifier: string | null): string {
  const whose = externalIdentifier === null ? 'no external identifier' : `external identifier ${JSON.stringify(externalIdentifier)}`;
  return `an edge device model with this id already exists and is not one greengrass wrote (${whose}): not overwritten`;
}

const ID = declaredColumn('edge_device_models', 'id').spec;
const NAME = declaredColumn('edge_device_models', 'name').spec;
const EXTERNAL_ID = declaredColumn('edge_device_models', 'external_identifier').spec;

/** Why an edge device model record cannot be stored (migrations/columns.cjs), or null. */
export function edgeModelProblem(record: DesiredRecord): string | null {
  const id = columnCheck(ID)(record.key) ?? columnCheck(EXTERNAL_ID)(record.key);
  if (id) return `deploymentId ${id}`;
  const name = columnCheck(NAME)(record.fields.name);
  return name ? `deploymentName ${name}` : null;
}
