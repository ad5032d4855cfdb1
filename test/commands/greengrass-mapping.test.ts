/** The greengrass rules as pure functions of a listed deployment and its group (INVENTORIES.md, greengrass). */
import type { Deployment } from '@aws-sdk/client-greengrassv2';
import { describe, expect, it } from 'vitest';
import {
  edgeModelOf,
  edgeModelProblem,
  foreignModelReason,
  judgeDeployment,
  keptForEdgeDevices,
  screenDeployment,
  targetGroup,
} from '../../src/commands/greengrass-mapping.js';

const ARN = 'arn:aws:iot:eu-west-1:123456789012:';
const deployment = (over: Partial<Deployment> = {}): Deployment => ({
  deploymentId: 'd-1',
  deploymentName: 'edge-fleet',
  targetArn: `${ARN}thinggroup/gateway`,
  isLatestForTarget: true,
  deploymentStatus: 'ACTIVE',
  ...over,
});

describe('targetGroup', () => {
  it('names the group of a thing group ARN: its last / segment, in any partition', () => {
    expect(targetGroup(`${ARN}thinggroup/gateway`)).toEqual({ group: 'gateway' });
    expect(targetGroup('arn:aws-cn:iot:cn-north-1:123456789012:thinggroup/Fleet_1')).toEqual({ group: 'Fleet_1' });
    expect(targetGroup('arn:aws-us-gov:iot:us-gov-west-1:123456789012:thinggroup/a:b')).toEqual({ group: 'a:b' });
  });

  it('takes only a whole ARN: nothing before it, no line break inside it', () => {
    expect(targetGroup(`x${ARN}thinggroup/gateway`)).toMatchObject({ reason: expect.stringContaining('is not a thing group ARN') });
    expect(targetGroup(`${ARN}thinggroup/gateway\nother`)).toMatchObject({ reason: expect.stringContaining('is not a thing group ARN') });
    expect(targetGroup(`x${ARN}thing/edge-1`)).toMatchObject({ reason: expect.stringContaining('is not a thing group ARN') });
    expect(targetGroup('arn:aws-cn:iot:cn-north-1:123456789012:thing/edge-1')).toMatchObject({ reason: expect.stringContaining('targets a single thing') });
  });

  it('says why a target is no thing group: a single thing, another resource, no target, no name', () => {
    expect(targetGroup(`${ARN}thing/edge-1`)).toEqual({ reason: `targets a single thing (${ARN}thing/edge-1), not a thing group: not an edge device model` });
    expect(targetGroup('arn:aws:greengrass:eu-west-1:123456789012:coreDevices:x')).toEqual({
      reason: 'target arn:aws:greengrass:eu-west-1:123456789012:coreDevices:x is not a thing group ARN: not an edge device model',
    });
    expect(targetGroup('thinggroup/gateway')).toEqual({ reason: 'target thinggroup/gateway is not a thing group ARN: not an edge device model' });
    expect(targetGroup(undefined)).toEqual({ reason: 'the deployment has no target ARN: not an edge device model' });
    expect(targetGroup('')).toEqual({ reason: 'the deployment has no target ARN: not an edge device model' });
    expect(targetGroup(`${ARN}thinggroup/`)).toEqual({ reason: `target ${ARN}thinggroup/ names no thing group: not an edge device model` });
  });
});

describe('screenDeployment', () => {
  it('passes the latest deployment to a thing group on to its group, whatever its status', () => {
    for (const deploymentStatus of ['ACTIVE', 'COMPLETED', 'CANCELED', 'FAILED', 'INACTIVE'] as const) {
      expect(screenDeployment(deployment({ deploymentStatus }))).toEqual({ kind: 'group', id: 'd-1', group: 'gateway' });
    }
  });

  it('skips a deployment that is not the latest for its target, keyed by its id', () => {
    for (const isLatestForTarget of [false, undefined]) {
      expect(screenDeployment(deployment({ isLatestForTarget }))).toEqual({
        kind: 'entry',
        entry: { kind: 'skipped', key: 'd-1', reason: `not the latest deployment for its target ${ARN}thinggroup/gateway: not an edge device model` },
      });
    }
    expect(screenDeployment(deployment({ isLatestForTarget: false, targetArn: undefined }))).toMatchObject({
      entry: { reason: 'not the latest deployment for its target (none): not an edge device model' },
    });
  });

  it('skips a deployment to a single thing with the reason', () => {
    expect(screenDeployment(deployment({ targetArn: `${ARN}thing/edge-1` }))).toEqual({
      kind: 'entry',
      entry: { kind: 'skipped', key: 'd-1', reason: `targets a single thing (${ARN}thing/edge-1), not a thing group: not an edge device model` },
    });
  });

  it('skips a deployment without an id on its own (keyless: it can protect no model)', () => {
    expect(screenDeployment(deployment({ deploymentId: undefined }))).toEqual({
      kind: 'entry',
      entry: { kind: 'skipped', key: 'edge-fleet', keyless: true, reason: 'ListDeployments gave a deployment without an id' },
    });
    expect(screenDeployment(deployment({ deploymentId: '', deploymentName: undefined }))).toMatchObject({ entry: { key: '(no id)', keyless: true } });
  });
});

describe('judgeDeployment', () => {
  it('makes a deployment to a dynamic group an edge device model', () => {
    expect(judgeDeployment(deployment(), 'gateway', { kind: 'dynamic', queryString: 'thingTypeName:gateway' })).toEqual({
      kind: 'desired',
      key: 'd-1',
      version: 1,
      fields: { name: 'edge-fleet' },
    });
  });

  it('skips a deployment to a static group or to a group that does not exist', () => {
    expect(judgeDeployment(deployment(), 'gateway', { kind: 'static' })).toEqual({
      kind: 'skipped',
      key: 'd-1',
      reason: 'targets thing group gateway, a static group (no query string): only deployments to dynamic groups are edge device models',
    });
    expect(judgeDeployment(deployment(), 'gateway', { kind: 'absent' })).toEqual({
      kind: 'skipped',
      key: 'd-1',
      reason: 'targets thing group gateway, which does not exist: not an edge device model',
    });
  });

  it('fails a deployment whose group could not be read, keyed by its id (so its model is kept)', () => {
    expect(judgeDeployment(deployment(), 'gateway', { kind: 'error', error: 'AWS DescribeThingGroup (thing group gateway) failed' })).toEqual({
      kind: 'failed',
      key: 'd-1',
      error: 'AWS DescribeThingGroup (thing group gateway) failed',
    });
  });
});

describe('edgeModelOf', () => {
  it('names the model after the deployment, or its id when it has no name; leaves the description to the portal', () => {
    expect(edgeModelOf({ deploymentId: 'd-1', deploymentName: 'edge-fleet' })).toEqual({ key: 'd-1', version: 1, fields: { name: 'edge-fleet' } });
    expect(edgeModelOf({ deploymentId: 'd-2' })).toEqual({ key: 'd-2', version: 1, fields: { name: 'd-2' } });
    expect(edgeModelOf({ deploymentId: 'd-3', deploymentName: '' })).toEqual({ key: 'd-3', version: 1, fields: { name: 'd-3' } });
    expect('description' in edgeModelOf({ deploymentId: 'd-1' }).fields).toBe(false);
  });
});

describe('edgeModelProblem', () => {
  const record = (key: string, name: unknown) => ({ key, version: 1, fields: { name: name as string } });
  it('accepts what the columns hold: ids and names of 255 characters', () => {
    expect(edgeModelProblem(record('d'.repeat(255), 'n'.repeat(255)))).toBeNull();
    expect(edgeModelProblem(record('d-1', '\u{1F600}'.repeat(255)))).toBeNull();
  });

  it('says which value does not fit, never quoting it', () => {
    expect(edgeModelProblem(record('d'.repeat(256), 'n'))).toBe('deploymentId is 256 characters long; at most 255 fit');
    expect(edgeModelProblem(record('d-1', 'n'.repeat(256)))).toBe('deploymentName is 256 characters long; at most 255 fit');
    expect(edgeModelProblem(record('d-1', 'a\u0000b'))).toBe('deploymentName contains a NUL character');
    expect(edgeModelProblem(record('d-\u00001', 'n'))).toBe('deploymentId contains a NUL character');
  });
});

describe('reasons', () => {
  it('say why a model is kept or a deployment not written', () => {
    expect(keptForEdgeDevices(1)).toBe('no latest deployment to a dynamic thing group has this id, but the model is still used by 1 edge device: not deleted');
    expect(keptForEdgeDevices(3)).toContain('still used by 3 edge devices');
    expect(foreignModelReason(null)).toBe('an edge device model with this id already exists and is not one greengrass wrote (no external identifier): not overwritten');
    expect(foreignModelReason('azure-1')).toContain('(external identifier "azure-1")');
  });
});
