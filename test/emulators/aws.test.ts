/**
 * The AWS emulator driven by the real SDK v3 clients over HTTP: every operation's output as the SDK
 * parses it, paging, the error classes, the SigV4 checks, deletions and fixture reloads.
 */
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DeleteDynamicThingGroupCommand,
  DeleteThingTypeCommand,
  DeprecateThingTypeCommand,
  DescribeEndpointCommand,
  DescribeThingCommand,
  DescribeThingGroupCommand,
  DescribeThingTypeCommand,
  InvalidRequestException,
  ListTagsForResourceCommand,
  ListThingsCommand,
  ListThingTypesCommand,
  paginateListThings,
  ResourceNotFoundException,
} from '@aws-sdk/client-iot';
import { GetThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import { GetCoreDeviceCommand, ListCoreDevicesCommand, ListDeploymentsCommand } from '@aws-sdk/client-greengrassv2';
import { normalizeAwsFixture, startAwsEmulator, type AwsEmulator } from '../../src/emulators/aws/index.js';
import { FixtureError } from '../../src/emulators/iothub/index.js';
import { awsClients, startTestAws, type AwsClients, type TestAws } from '../support/aws.js';

const ARN = 'arn:aws:iot:eu-west-1:123456789012:';

const FLEET = {
  thingTypes: [
    { name: 'sensor', id: 'tt-sensor', description: 'Temperature sensor', tags: { iotEdge: 'false', team: 'a' }, creationDate: '2026-01-02T03:04:05.678Z' },
    { name: 'gateway', tags: { IotEdge: 'true' } },
    { name: 'legacy', deprecated: true, deprecationDate: '2026-11-23T10:00:00Z' },
  ],
  things: [
    { name: 'thing-1', id: 'id-1', type: 'sensor', version: 3, attributes: { site: 'Lyon' }, shadow: true },
    { name: 'thing-2', type: 'sensor' },
    { name: 'edge-1', type: 'gateway', version: 2 },
  ],
  thingGroups: [{ name: 'gateway', queryString: 'thingTypeName:gateway' }, { name: 'static-group' }, { name: 'legacy', queryString: 'thingTypeName:legacy' }],
  coreDevices: [
    { thingName: 'edge-1', status: 'HEALTHY', lastStatusUpdateTimestamp: '2026-11-20T00:00:00Z' },
    { thingName: 'edge-2', status: 'UNHEALTHY' },
  ],
  deployments: [
    { id: 'd-1', name: 'edge-fleet', target: 'thinggroup/gateway', isLatestForTarget: true, status: 'ACTIVE', creationTimestamp: '2026-11-01T00:00:00Z' },
    { id: 'd-0', target: 'thinggroup/gateway', isLatestForTarget: false, status: 'INACTIVE' },
    { id: 'd-2', target: 'thing/edge-1' },
  ],
};

/** Headers of the shape SigV4 gives (the emulator checks the shape and key id, not the signature). */
function signed(service: string, keyId = 'AKIAEMULATOR00000000'): Record<string, string> {
  return {
    authorization: `AWS4-HMAC-SHA256 Credential=${keyId}/20261123/eu-west-1/${service}/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}`,
    'x-amz-date': '20261123T100000Z',
  };
}

async function errorOf(p: Promise<unknown>): Promise<Error & { $metadata: { httpStatusCode?: number }; $response?: { headers: Record<string, string> } }> {
  try {
    await p;
  } catch (err) {
    return err as never;
  }
  throw new Error('expected the call to fail');
}

describe('AWS emulator with the SDK', () => {
  let aws: TestAws;
  let c: AwsClients;
  beforeEach(async () => {
    aws = await startTestAws(FLEET);
    c = awsClients(aws.env());
  });
  afterEach(async () => {
    await aws.close();
  });

  it('prints the SDK environment with one endpoint for the three services', () => {
    expect(aws.env()).toEqual({
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'AKIAEMULATOR00000000',
      AWS_SECRET_ACCESS_KEY: expect.any(String),
      AWS_ENDPOINT_URL_IOT: aws.emulator.url,
      AWS_ENDPOINT_URL_IOT_DATA_PLANE: aws.emulator.url,
      AWS_ENDPOINT_URL_GREENGRASSV2: aws.emulator.url,
    });
    expect(aws.emulator.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('lists and describes things', async () => {
    const list = await c.iot.send(new ListThingsCommand({}));
    expect(list.nextToken).toBeUndefined();
    expect(list.things).toEqual([
      { thingName: 'edge-1', thingTypeName: 'gateway', thingArn: `${ARN}thing/edge-1`, attributes: {}, version: 2 },
      { thingName: 'thing-1', thingTypeName: 'sensor', thingArn: `${ARN}thing/thing-1`, attributes: { site: 'Lyon' }, version: 3 },
      { thingName: 'thing-2', thingTypeName: 'sensor', thingArn: `${ARN}thing/thing-2`, attributes: {}, version: 1 },
    ]);
    const byType = await c.iot.send(new ListThingsCommand({ thingTypeName: 'gateway' }));
    expect(byType.things!.map((t) => t.thingName)).toEqual(['edge-1']);
    const byAttr = await c.iot.send(new ListThingsCommand({ attributeName: 'site', attributeValue: 'Ly', usePrefixAttributeValue: true }));
    expect(byAttr.things!.map((t) => t.thingName)).toEqual(['thing-1']);

    const d = await c.iot.send(new DescribeThingCommand({ thingName: 'thing-1' }));
    expect({ ...d, $metadata: undefined }).toEqual({
      $metadata: undefined,
      defaultClientId: 'thing-1',
      thingName: 'thing-1',
      thingId: 'id-1',
      thingArn: `${ARN}thing/thing-1`,
      thingTypeName: 'sensor',
      attributes: { site: 'Lyon' },
      version: 3,
    });
    // A derived id is stable and UUID-shaped.
    const d2 = await c.iot.send(new DescribeThingCommand({ thingName: 'thing-2' }));
    expect(d2.thingId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(normalizeAwsFixture(FLEET).things[1]!.id).toBe(d2.thingId);
  });

  it('lists and describes thing types with dates in epoch seconds, which the SDK reads as Dates', async () => {
    const list = await c.iot.send(new ListThingTypesCommand({}));
    expect(list.thingTypes!.map((t) => t.thingTypeName)).toEqual(['gateway', 'legacy', 'sensor']);
    const sensor = list.thingTypes![2]!;
    expect(sensor).toEqual({
      thingTypeName: 'sensor',
      thingTypeArn: `${ARN}thingtype/sensor`,
      thingTypeProperties: { thingTypeDescription: 'Temperature sensor' },
      thingTypeMetadata: { deprecated: false, creationDate: new Date('2026-01-02T03:04:05.678Z') },
    });
    const legacy = await c.iot.send(new DescribeThingTypeCommand({ thingTypeName: 'legacy' }));
    expect(legacy.thingTypeId).toMatch(/^[0-9a-f]{32}$/);
    expect(legacy.thingTypeMetadata).toEqual({ deprecated: true, deprecationDate: new Date('2026-11-23T10:00:00Z'), creationDate: new Date('2026-01-01T00:00:00Z') });
    const sensorType = await c.iot.send(new DescribeThingTypeCommand({ thingTypeName: 'sensor' }));
    expect(sensorType.thingTypeId).toBe('tt-sensor');
    const filtered = await c.iot.send(new ListThingTypesCommand({ thingTypeName: 'legacy' }));
    expect(filtered.thingTypes!.map((t) => t.thingTypeName)).toEqual(['legacy']);

    // On the wire: numbers of seconds, as restJson1 encodes timestamps by default.
    const raw = await fetch(`${aws.emulator.url}/thing-types/sensor`, { headers: signed('iot') });
    expect(raw.status).toBe(200);
    expect(raw.headers.get('content-type')).toBe('application/json');
    expect(((await raw.json()) as Record<string, any>)['thingTypeMetadata']).toEqual({ deprecated: false, creationDate: 1767323045.678 });
  });

  it('lists tags of a thing type by ARN', async () => {
    const tags = await c.iot.send(new ListTagsForResourceCommand({ resourceArn: `${ARN}thingtype/sensor` }));
    expect(tags.tags).toEqual([
      { Key: 'iotEdge', Value: 'false' },
      { Key: 'team', Value: 'a' },
    ]);
    expect(tags.nextToken).toBeUndefined();
    expect((await c.iot.send(new ListTagsForResourceCommand({ resourceArn: `${ARN}thingtype/legacy` }))).tags).toEqual([]);
    const err = await errorOf(c.iot.send(new ListTagsForResourceCommand({ resourceArn: `${ARN}thingtype/nope` })));
    expect(err).toBeInstanceOf(ResourceNotFoundException);
  });

  it('describes dynamic and static thing groups', async () => {
    const g = await c.iot.send(new DescribeThingGroupCommand({ thingGroupName: 'gateway' }));
    expect(g).toMatchObject({
      thingGroupName: 'gateway',
      thingGroupArn: `${ARN}thinggroup/gateway`,
      version: 1,
      indexName: 'AWS_Things',
      queryString: 'thingTypeName:gateway',
      status: 'ACTIVE',
      thingGroupMetadata: { creationDate: new Date('2026-01-01T00:00:00Z') },
    });
    const s = await c.iot.send(new DescribeThingGroupCommand({ thingGroupName: 'static-group' }));
    expect(s.queryString).toBeUndefined();
    const err = await errorOf(c.iot.send(new DescribeThingGroupCommand({ thingGroupName: 'nope' })));
    expect(err.name).toBe('ResourceNotFoundException');
    expect(err.$metadata.httpStatusCode).toBe(404);
  });

  it('answers DescribeEndpoint with its own address', async () => {
    const e = await c.iot.send(new DescribeEndpointCommand({ endpointType: 'iot:Data-ATS' }));
    expect(e.endpointAddress).toBe(`127.0.0.1:${aws.emulator.port}`);
    const err = await errorOf(c.iot.send(new DescribeEndpointCommand({ endpointType: 'iot:Nope' })));
    expect(err.name).toBe('InvalidRequestException');
  });

  it('answers GetThingShadow with the classic shadow, or ResourceNotFoundException', async () => {
    const s = await c.data.send(new GetThingShadowCommand({ thingName: 'thing-1' }));
    const doc = JSON.parse(Buffer.from(s.payload!).toString('utf8')) as Record<string, unknown>;
    expect(doc).toMatchObject({ state: { reported: {} }, version: 3 });
    for (const input of [{ thingName: 'thing-2' }, { thingName: 'nope' }, { thingName: 'thing-1', shadowName: 'named' }]) {
      const err = await errorOf(c.data.send(new GetThingShadowCommand(input)));
      expect(err.name, JSON.stringify(input)).toBe('ResourceNotFoundException');
      expect(err.$metadata.httpStatusCode).toBe(404);
    }
  });

  it('lists Greengrass deployments (latest only by default) and core devices', async () => {
    const latest = await c.greengrass.send(new ListDeploymentsCommand({ historyFilter: 'LATEST_ONLY' }));
    expect(latest.deployments).toEqual([
      {
        targetArn: `${ARN}thinggroup/gateway`,
        revisionId: '1',
        deploymentId: 'd-1',
        deploymentName: 'edge-fleet',
        creationTimestamp: new Date('2026-11-01T00:00:00Z'),
        deploymentStatus: 'ACTIVE',
        isLatestForTarget: true,
      },
      expect.objectContaining({ deploymentId: 'd-2', targetArn: `${ARN}thing/edge-1`, isLatestForTarget: true }),
    ]);
    expect((await c.greengrass.send(new ListDeploymentsCommand({}))).deployments!.map((d) => d.deploymentId)).toEqual(['d-1', 'd-2']);
    const all = await c.greengrass.send(new ListDeploymentsCommand({ historyFilter: 'ALL', targetArn: `${ARN}thinggroup/gateway` }));
    expect(all.deployments!.map((d) => d.deploymentId)).toEqual(['d-0', 'd-1']);

    const healthy = await c.greengrass.send(new ListCoreDevicesCommand({ status: 'HEALTHY' }));
    expect(healthy.coreDevices).toEqual([
      {
        coreDeviceThingName: 'edge-1',
        status: 'HEALTHY',
        lastStatusUpdateTimestamp: new Date('2026-11-20T00:00:00Z'),
        platform: 'linux',
        architecture: 'amd64',
        runtime: 'aws_nucleus_classic',
      },
    ]);
    expect((await c.greengrass.send(new ListCoreDevicesCommand({}))).coreDevices!.map((d) => d.coreDeviceThingName)).toEqual(['edge-1', 'edge-2']);
    const inGroup = await c.greengrass.send(new ListCoreDevicesCommand({ thingGroupArn: `${ARN}thinggroup/gateway` }));
    expect(inGroup.coreDevices!.map((d) => d.coreDeviceThingName)).toEqual(['edge-1']);
    const one = await c.greengrass.send(new GetCoreDeviceCommand({ coreDeviceThingName: 'edge-2' }));
    expect(one).toMatchObject({ coreDeviceThingName: 'edge-2', status: 'UNHEALTHY', coreVersion: expect.any(String) });
    const err = await errorOf(c.greengrass.send(new GetCoreDeviceCommand({ coreDeviceThingName: 'nope' })));
    expect(err.name).toBe('ResourceNotFoundException');
    const bad = await errorOf(c.greengrass.send(new ListCoreDevicesCommand({ status: 'SICK' as never })));
    expect(bad.name).toBe('ValidationException');
  });
});

describe('paging', () => {
  let aws: TestAws;
  let c: AwsClients;
  const names = Array.from({ length: 23 }, (_, i) => `t-${String(i).padStart(3, '0')}`);
  beforeEach(async () => {
    aws = await startTestAws({
      things: names.map((name) => ({ name, type: 'x' })),
      thingTypes: names.slice(0, 7).map((name) => ({ name })),
      coreDevices: names.map((thingName) => ({ thingName })),
      deployments: names.map((id) => ({ id, target: `thinggroup/${id}` })),
    });
    c = awsClients(aws.env());
  });
  afterEach(async () => {
    await aws.close();
  });

  it('walks ListThings in pages of maxResults with an opaque token, the last page without one', async () => {
    const pages: string[][] = [];
    let token: string | undefined;
    do {
      const page = await c.iot.send(new ListThingsCommand({ maxResults: 10, nextToken: token }));
      pages.push(page.things!.map((t) => t.thingName!));
      token = page.nextToken;
      if (token !== undefined) expect(token).not.toMatch(/t-0/); // opaque, not a name
    } while (token !== undefined);
    expect(pages.map((p) => p.length)).toEqual([10, 10, 3]);
    expect(pages.flat()).toEqual(names);
    // The SDK's own paginator agrees.
    const seen: string[] = [];
    for await (const page of paginateListThings({ client: c.iot, pageSize: 4 }, {})) seen.push(...page.things!.map((t) => t.thingName!));
    expect(seen).toEqual(names);
    expect(aws.emulator.stats().requests['ListThings']).toBe(3 + 6);
  });

  it('pages the other listings too', async () => {
    const types1 = await c.iot.send(new ListThingTypesCommand({ maxResults: 5 }));
    const types2 = await c.iot.send(new ListThingTypesCommand({ maxResults: 5, nextToken: types1.nextToken }));
    expect([...types1.thingTypes!, ...types2.thingTypes!].map((t) => t.thingTypeName)).toEqual(names.slice(0, 7));
    expect(types2.nextToken).toBeUndefined();
    const core1 = await c.greengrass.send(new ListCoreDevicesCommand({ maxResults: 20 }));
    const core2 = await c.greengrass.send(new ListCoreDevicesCommand({ maxResults: 20, nextToken: core1.nextToken }));
    expect(core2.coreDevices!.map((d) => d.coreDeviceThingName)).toEqual(names.slice(20));
    const dep1 = await c.greengrass.send(new ListDeploymentsCommand({ maxResults: 22 }));
    const dep2 = await c.greengrass.send(new ListDeploymentsCommand({ maxResults: 22, nextToken: dep1.nextToken }));
    expect(dep2.deployments!.map((d) => d.deploymentId)).toEqual(['t-022']);
  });

  it('refuses maxResults past the service maximum and a token from another listing', async () => {
    expect((await c.iot.send(new ListThingsCommand({ maxResults: 250 }))).things).toHaveLength(23);
    const over = await errorOf(c.iot.send(new ListThingsCommand({ maxResults: 251 })));
    expect(over.name).toBe('InvalidRequestException');
    expect(over.$metadata.httpStatusCode).toBe(400);
    expect(over.message).toContain('less than or equal to 250');
    const ggOver = await errorOf(c.greengrass.send(new ListCoreDevicesCommand({ maxResults: 101 })));
    expect(ggOver.name).toBe('ValidationException');
    const first = await c.iot.send(new ListThingsCommand({ maxResults: 5 }));
    const other = await errorOf(c.iot.send(new ListThingsCommand({ maxResults: 5, thingTypeName: 'x', nextToken: first.nextToken })));
    expect(other.name).toBe('InvalidRequestException');
    const garbage = await errorOf(c.iot.send(new ListThingTypesCommand({ nextToken: 'not-a-token' })));
    expect(garbage.name).toBe('InvalidRequestException');
  });
});

describe('authentication', () => {
  let emu: AwsEmulator;
  beforeEach(async () => {
    emu = await startAwsEmulator({ fixture: { accessKeyId: 'AKIAGOODKEY000000000', secretAccessKey: 'very-secret-value', things: [{ name: 'a' }] } });
  });
  afterEach(async () => {
    await emu.close();
  });

  it('refuses another access key id with AccessDeniedException, never echoing a key', async () => {
    const c = awsClients(emu.env(), { accessKeyId: 'AKIAOTHERKEY00000000' });
    for (const call of [c.iot.send(new ListThingsCommand({})), c.data.send(new GetThingShadowCommand({ thingName: 'a' })), c.greengrass.send(new ListCoreDevicesCommand({}))]) {
      const err = await errorOf(call);
      expect(err.name).toBe('AccessDeniedException');
      expect(err.$metadata.httpStatusCode).toBe(403);
      expect(err.message).not.toContain('very-secret-value');
      expect(err.message).not.toContain('AKIA');
    }
    // The good key passes.
    expect((await awsClients(emu.env()).iot.send(new ListThingsCommand({}))).things).toHaveLength(1);
  });

  it('refuses unsigned and malformed requests as AWS does, and a scope for another region or service', async () => {
    const get = (headers: Record<string, string>) => fetch(`${emu.url}/things`, { headers });
    const unsigned = await get({});
    expect(unsigned.status).toBe(403);
    expect(unsigned.headers.get('x-amzn-errortype')).toBe('MissingAuthenticationTokenException');
    expect(await unsigned.json()).toEqual({ message: 'Missing Authentication Token' });
    const sig = 'a'.repeat(64);
    const good = `AWS4-HMAC-SHA256 Credential=AKIAGOODKEY000000000/20261123/eu-west-1/iot/aws4_request, SignedHeaders=host;x-amz-date, Signature=${sig}`;
    const date = { 'x-amz-date': '20261123T100000Z' };
    expect((await get({ authorization: good, ...date })).status).toBe(200);
    const cases: [Record<string, string>, number, string][] = [
      [{ authorization: 'Basic dXNlcjpwYXNz', ...date }, 400, 'IncompleteSignatureException'],
      [{ authorization: good.replace(/, Signature=.*/, ''), ...date }, 400, 'IncompleteSignatureException'],
      [{ authorization: good.replace(sig, 'xyz'), ...date }, 400, 'IncompleteSignatureException'],
      [{ authorization: good.replace('/aws4_request', ''), ...date }, 400, 'IncompleteSignatureException'],
      [{ authorization: good }, 400, 'IncompleteSignatureException'],
      [{ authorization: good.replace('eu-west-1', 'us-east-1'), ...date }, 403, 'InvalidSignatureException'],
      [{ authorization: good.replace('/iot/', '/greengrass/'), ...date }, 403, 'InvalidSignatureException'],
    ];
    for (const [headers, status, code] of cases) {
      const res = await get(headers);
      expect(res.status, headers['authorization']).toBe(status);
      expect(res.headers.get('x-amzn-errortype'), headers['authorization']).toBe(code);
    }
    // Authentication comes before the route: an unknown path is 403 unsigned, 404 signed.
    expect((await fetch(`${emu.url}/nope`)).status).toBe(403);
    const unknown = await fetch(`${emu.url}/nope`, { headers: { authorization: good, ...date } });
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('x-amzn-errortype')).toBe('UnknownOperationException');
    expect(emu.stats().requests['ListThings']).toBe(1 + 1 + cases.length);
  });
});

describe('deletions', () => {
  let aws: TestAws;
  let c: AwsClients;
  let now: number;
  beforeEach(async () => {
    now = Date.parse('2026-11-23T10:00:00Z');
    aws = await startTestAws(FLEET, { now: () => now });
    c = awsClients(aws.env());
  });
  afterEach(async () => {
    await aws.close();
  });

  it('refuses DeleteThingType until the type has been deprecated for 5 minutes by the emulator clock', async () => {
    // No thing has the type here: AWS would refuse the deletion for them too (the next test).
    aws.write({ ...FLEET, things: FLEET.things.filter((t) => t.type !== 'sensor') });
    const notDeprecated = await errorOf(c.iot.send(new DeleteThingTypeCommand({ thingTypeName: 'sensor' })));
    expect(notDeprecated.name).toBe('InvalidRequestException');
    expect(notDeprecated.message).toContain('must be deprecated');
    await c.iot.send(new DeprecateThingTypeCommand({ thingTypeName: 'sensor' }));
    expect((await c.iot.send(new DescribeThingTypeCommand({ thingTypeName: 'sensor' }))).thingTypeMetadata).toMatchObject({
      deprecated: true,
      deprecationDate: new Date(now),
    });
    now += 5 * 60_000 - 1;
    // Deprecating again does not restart the 5 minutes.
    await c.iot.send(new DeprecateThingTypeCommand({ thingTypeName: 'sensor', undoDeprecate: false }));
    const early = await errorOf(c.iot.send(new DeleteThingTypeCommand({ thingTypeName: 'sensor' })));
    expect(early.name).toBe('InvalidRequestException');
    expect(early.message).toContain('5 minutes');
    now += 1;
    await c.iot.send(new DeleteThingTypeCommand({ thingTypeName: 'sensor' }));
    const gone = await errorOf(c.iot.send(new DescribeThingTypeCommand({ thingTypeName: 'sensor' })));
    expect(gone.name).toBe('ResourceNotFoundException');
    expect((await c.iot.send(new ListThingTypesCommand({}))).thingTypes!.map((t) => t.thingTypeName)).toEqual(['gateway', 'legacy']);
    expect(aws.emulator.state().thingTypes).toEqual(['gateway', 'legacy']);
    expect(aws.emulator.stats().state.thingTypes).toBe(2);
    const again = await errorOf(c.iot.send(new DeleteThingTypeCommand({ thingTypeName: 'sensor' })));
    expect(again.name).toBe('ResourceNotFoundException');
  });

  it('refuses DeleteThingType while things still have the type, after the other checks, and deletes it once none has', async () => {
    // Absent is said first (404), then not deprecated, then the 5 minutes, then the things.
    const absent = await errorOf(c.iot.send(new DeleteThingTypeCommand({ thingTypeName: 'nope' })));
    expect(absent.name).toBe('ResourceNotFoundException');
    const notDeprecated = await errorOf(c.iot.send(new DeleteThingTypeCommand({ thingTypeName: 'sensor' })));
    expect(notDeprecated.message).toContain('must be deprecated');
    await c.iot.send(new DeprecateThingTypeCommand({ thingTypeName: 'sensor' }));
    const early = await errorOf(c.iot.send(new DeleteThingTypeCommand({ thingTypeName: 'sensor' })));
    expect(early.message).toContain('5 minutes');
    now += 5 * 60_000;
    const used = await errorOf(c.iot.send(new DeleteThingTypeCommand({ thingTypeName: 'sensor' })));
    expect(used).toBeInstanceOf(InvalidRequestException);
    expect(used.$metadata.httpStatusCode).toBe(400);
    expect(used.message).toBe('Can not delete thing type sensor because there are things associated with it.');
    // Nothing changed: the type, still deprecated, and its things are all there.
    expect(aws.emulator.state().thingTypes).toEqual(['gateway', 'legacy', 'sensor']);
    expect(aws.emulator.state().deprecatedThingTypes).toEqual(['legacy', 'sensor']);
    expect((await c.iot.send(new ListThingsCommand({ thingTypeName: 'sensor' }))).things!.map((t) => t.thingName)).toEqual(['thing-1', 'thing-2']);
    // Every refusal is a counted request.
    expect(aws.emulator.stats().requests.DeleteThingType).toBe(4);

    // The things retyped (the fixture rewritten: the type deprecated long ago, no thing of it left): deleted.
    aws.write({
      ...FLEET,
      thingTypes: FLEET.thingTypes.map((t) => (t.name === 'sensor' ? { ...t, deprecated: true, deprecationDate: '2026-11-23T09:00:00Z' } : t)),
      things: FLEET.things.map((t) => (t.type === 'sensor' ? { ...t, type: undefined } : t)),
    });
    await c.iot.send(new DeleteThingTypeCommand({ thingTypeName: 'sensor' }));
    expect(aws.emulator.state().thingTypes).toEqual(['gateway', 'legacy']);
  });

  it('undoes a deprecation', async () => {
    await c.iot.send(new DeprecateThingTypeCommand({ thingTypeName: 'legacy', undoDeprecate: true }));
    const t = await c.iot.send(new DescribeThingTypeCommand({ thingTypeName: 'legacy' }));
    expect(t.thingTypeMetadata).toEqual({ deprecated: false, creationDate: new Date('2026-01-01T00:00:00Z') });
    expect(aws.emulator.state().deprecatedThingTypes).toEqual([]);
  });

  it('deletes a dynamic thing group, keeps a static one, and succeeds for an absent one as the service model says', async () => {
    await c.iot.send(new DeleteDynamicThingGroupCommand({ thingGroupName: 'legacy' }));
    expect((await errorOf(c.iot.send(new DescribeThingGroupCommand({ thingGroupName: 'legacy' })))).name).toBe('ResourceNotFoundException');
    expect(aws.emulator.state().thingGroups).toEqual(['gateway', 'static-group']);
    await c.iot.send(new DeleteDynamicThingGroupCommand({ thingGroupName: 'legacy' }));
    const s = await errorOf(c.iot.send(new DeleteDynamicThingGroupCommand({ thingGroupName: 'static-group' })));
    expect(s.name).toBe('InvalidRequestException');
    const v = await errorOf(c.iot.send(new DeleteDynamicThingGroupCommand({ thingGroupName: 'gateway', expectedVersion: 7 })));
    expect(v.name).toBe('VersionConflictException');
    expect(aws.emulator.state().thingGroups).toEqual(['gateway', 'static-group']);
  });

  it('forgets the deletions when the fixture file changes', async () => {
    await c.iot.send(new DeleteDynamicThingGroupCommand({ thingGroupName: 'legacy' }));
    expect(aws.emulator.state().thingGroups).toHaveLength(2);
    aws.write({ ...FLEET, things: [{ name: 'only' }] });
    expect((await c.iot.send(new ListThingsCommand({}))).things!.map((t) => t.thingName)).toEqual(['only']);
    expect(aws.emulator.state().thingGroups).toEqual(['gateway', 'legacy', 'static-group']);
  });
});

describe('fixture', () => {
  it('names the bad field', () => {
    const bad: [unknown, string][] = [
      [{ things: [{ name: '' }] }, 'aws.things[0].name must be a non-empty string'],
      [{ things: [{ name: 'a' }, { name: 'a' }] }, 'aws.things[1].name "a" duplicates aws.things[0]'],
      [{ things: [{ name: 'a', attributes: { n: 1 } }] }, 'aws.things[0].attributes.n must be a string'],
      [{ things: [{ name: 'a', version: 0 }] }, 'aws.things[0].version must be a positive integer'],
      [{ thingTypes: [{ name: 't', deprecationDate: 'yesterday' }] }, 'aws.thingTypes[0].deprecationDate must be an ISO 8601 date'],
      [{ thingTypes: [{ name: 't', tag: {} }] }, 'aws.thingTypes[0].tag is not a field here'],
      [{ coreDevices: [{ thingName: 'e', status: 'OK' }] }, 'aws.coreDevices[0].status must be one of "HEALTHY", "UNHEALTHY"'],
      [{ deployments: [{ id: 'd', target: 'group/x' }] }, 'aws.deployments[0].target must be "thinggroup/<name>"'],
      [{ faults: [{ operation: 'ListThing', kind: 'throttle' }] }, 'aws.faults[0].operation must be one of'],
      [{ faults: [{ operation: 'DescribeThing', kind: 'page', page: 2 }] }, 'aws.faults[0].operation must be a listing'],
      [{ faults: [{ operation: 'ListThings', kind: 'error' }] }, 'aws.faults[0].status is required'],
      [{ quota: { ListThings: 'fast' } }, 'aws.quota.ListThings: "fast" is not a rate'],
      [{ quota: { Lister: '1/s' } }, 'aws.quota.Lister: unknown AWS operation "Lister"'],
      [{ region: 'Paris' }, 'aws.region must be a region name'],
      [{ thingz: [] }, 'aws.thingz is not a field here'],
    ];
    for (const [input, message] of bad) {
      expect(() => normalizeAwsFixture(input), JSON.stringify(input)).toThrow(FixtureError);
      expect(() => normalizeAwsFixture(input), JSON.stringify(input)).toThrow(message);
    }
  });

  it('dates a deprecated type without a date at load time, and reads a deployment ARN as given', () => {
    const f = normalizeAwsFixture({ thingTypes: [{ name: 't', deprecated: true }], deployments: [{ id: 'd', target: 'arn:aws:iot:us-east-1:111122223333:thinggroup/g' }] }, 1234);
    expect(f.thingTypes[0]!.deprecationDate).toBe(1234);
    expect(f.deployments[0]!.targetArn).toBe('arn:aws:iot:us-east-1:111122223333:thinggroup/g');
  });

  it('keeps serving the previous fleet when the file turns bad, and reports the file once', async () => {
    const aws = await startTestAws({ things: [{ name: 'a' }] });
    try {
      const c = awsClients(aws.env());
      const writes: string[] = [];
      const original = process.stderr.write.bind(process.stderr);
      process.stderr.write = ((chunk: string) => (writes.push(String(chunk)), true)) as typeof process.stderr.write;
      try {
        aws.write({ things: [{ name: 5 }] });
        expect((await c.iot.send(new ListThingsCommand({}))).things!.map((t) => t.thingName)).toEqual(['a']);
        await c.iot.send(new ListThingsCommand({}));
      } finally {
        process.stderr.write = original;
      }
      expect(writes).toHaveLength(1);
      expect(writes[0]).toContain('aws emulator: fixture reload failed, keeping the previous fleet');
      expect(writes[0]).toContain('aws.things[0].name must be a non-empty string');
      aws.write({ things: [{ name: 'b' }] });
      expect((await c.iot.send(new ListThingsCommand({}))).things!.map((t) => t.thingName)).toEqual(['b']);
    } finally {
      await aws.close();
    }
  });

  it('starts an empty AWS from a fleet without an aws section', async () => {
    const emu = await startAwsEmulator({ fixture: { twins: [{ deviceId: 'd' }] } });
    try {
      expect((await awsClients(emu.env()).iot.send(new ListThingsCommand({}))).things).toEqual([]);
    } finally {
      await emu.close();
    }
  });
});

describe('examples/fleet.json', () => {
  it('has an aws section the emulator serves', async () => {
    const emu = await startAwsEmulator({ fixturePath: fileURLToPath(new URL('../../examples/fleet.json', import.meta.url)) });
    try {
      const c = awsClients(emu.env());
      expect((await c.iot.send(new ListThingsCommand({}))).things).toHaveLength(9);
      const types = (await c.iot.send(new ListThingTypesCommand({}))).thingTypes!;
      expect(types.filter((t) => t.thingTypeMetadata?.deprecated).map((t) => t.thingTypeName)).toEqual(['retired-probe']);
      expect((await c.greengrass.send(new ListDeploymentsCommand({}))).deployments!.map((d) => d.deploymentId)).toEqual(['d-gw-2', 'd-one-gw', 'd-static']);
      expect((await c.iot.send(new DescribeThingGroupCommand({ thingGroupName: 'edge-gateway' }))).queryString).toBe('thingTypeName:edge-gateway');
    } finally {
      await emu.close();
    }
  });
});

describe('stats over HTTP', () => {
  it('counts per SDK operation and resets on DELETE', async () => {
    const emu = await startAwsEmulator({ fixture: FLEET });
    try {
      const c = awsClients(emu.env());
      await c.iot.send(new ListThingsCommand({}));
      await c.iot.send(new DescribeThingCommand({ thingName: 'thing-1' }));
      await errorOf(c.iot.send(new DescribeThingCommand({ thingName: 'nope' })));
      await c.greengrass.send(new ListCoreDevicesCommand({}));
      const stats = (await (await fetch(`${emu.url}/__emulator/stats`)).json()) as Record<string, any>;
      expect(stats).toMatchObject({
        total: 4,
        requests: { ListThings: 1, DescribeThing: 2, ListCoreDevices: 1 },
        throttled: 0,
        state: { thingTypes: 3, things: 3, thingGroups: 3, coreDevices: 2, deployments: 3 },
      });
      const reset = (await (await fetch(`${emu.url}/__emulator/stats`, { method: 'DELETE' })).json()) as Record<string, any>;
      expect(reset).toMatchObject({ total: 0, requests: {} });
      expect(emu.stats().total).toBe(0);
    } finally {
      await emu.close();
    }
  });
});
