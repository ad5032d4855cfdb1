/** The AWS fleet generator, its spec, how `emulate` splits a mixed spec, and the models it seeds. */
import { afterEach, describe, expect, it } from 'vitest';
import { ListTagsForResourceCommand, paginateListThings } from '@aws-sdk/client-iot';
import { GetThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import { paginateListCoreDevices } from '@aws-sdk/client-greengrassv2';
import {
  generateAwsFleet,
  GenerateSpecError,
  normalizeAwsFixture,
  parseAwsGenerateSpec,
  seedModelsOf,
  splitGenerateSpec,
  startAwsEmulator,
  type AwsEmulator,
} from '../../src/emulators/aws/index.js';
import { awsClients } from '../support/aws.js';

type Rec = Record<string, any>;

describe('AWS generator', () => {
  it('is deterministic for a spec and seed, and another seed gives another fleet', () => {
    const spec = parseAwsGenerateSpec('things=500,thingTypes=6,edge=50,deployments=9');
    expect(JSON.stringify(generateAwsFleet(spec))).toBe(JSON.stringify(generateAwsFleet(spec)));
    expect(JSON.stringify(generateAwsFleet(spec, 2))).not.toBe(JSON.stringify(generateAwsFleet(spec)));
  });

  it('builds the counts asked for: every thing typed, E edge things with core devices, a dynamic group per edge type, D deployments', () => {
    const f = normalizeAwsFixture(generateAwsFleet(parseAwsGenerateSpec('things=1000,thingTypes=20,edge=100,deployments=5')));
    expect(f.things).toHaveLength(1000);
    expect(f.thingTypes).toHaveLength(20);
    const edgeTypes = f.thingTypes.filter((t) => t.tags['iotEdge'] === 'true').map((t) => t.name);
    const standardTypes = f.thingTypes.filter((t) => t.tags['iotEdge'] === 'false').map((t) => t.name);
    // 10% edge things: 2 of the 20 types.
    expect(edgeTypes).toEqual(['edge-type-01', 'edge-type-02']);
    expect(standardTypes).toHaveLength(18);
    const types = new Set(f.thingTypes.map((t) => t.name));
    expect(f.things.every((t) => t.type !== undefined && types.has(t.type))).toBe(true);
    const edgeThings = f.things.filter((t) => edgeTypes.includes(t.type!));
    expect(edgeThings).toHaveLength(100);
    expect(edgeThings.every((t) => !t.shadow)).toBe(true);
    expect(f.things.filter((t) => standardTypes.includes(t.type!)).every((t) => t.shadow)).toBe(true);
    // Every type is used, edge things are spread over the edge types.
    expect(new Set(f.things.map((t) => t.type)).size).toBe(20);
    expect(f.coreDevices.map((c) => c.thingName).sort()).toEqual(edgeThings.map((t) => t.name).sort());
    expect(f.coreDevices.filter((c) => c.status === 'HEALTHY').length).toBeGreaterThan(70);
    expect(f.thingGroups).toEqual(edgeTypes.map((name) => expect.objectContaining({ name, queryString: `thingTypeName:${name}` })));
    expect(f.deployments).toHaveLength(5);
    const latest = f.deployments.filter((d) => d.isLatestForTarget);
    // Every second group's latest deployment failed (the failed-deployment gauge has a value).
    expect(latest.map((d) => [d.id, d.name, d.targetArn, d.status])).toEqual([
      ['dep-000004', 'edge-type-02', 'arn:aws:iot:eu-west-1:123456789012:thinggroup/edge-type-02', 'FAILED'],
      ['dep-000005', 'edge-type-01', 'arn:aws:iot:eu-west-1:123456789012:thinggroup/edge-type-01', 'ACTIVE'],
    ]);
    expect(f.deployments.filter((d) => !d.isLatestForTarget).every((d) => d.status === 'INACTIVE')).toBe(true);
  });

  it('defaults: 4 types at most, one deployment per edge type; all-edge and all-standard fleets', () => {
    expect(parseAwsGenerateSpec('things=10,edge=2')).toEqual({ things: 10, thingTypes: 4, edge: 2, deployments: 1 });
    expect(parseAwsGenerateSpec('things=3')).toEqual({ things: 3, thingTypes: 3, edge: 0, deployments: 0 });
    const allEdge = normalizeAwsFixture(generateAwsFleet(parseAwsGenerateSpec('things=4,thingTypes=2,edge=4')));
    expect(allEdge.thingTypes.every((t) => t.tags['iotEdge'] === 'true')).toBe(true);
    expect(allEdge.deployments).toHaveLength(2);
    expect(normalizeAwsFixture(generateAwsFleet({})).things).toEqual([]);
  });

  it('refuses impossible specs, naming the key', () => {
    const bad: [string, string][] = [
      ['things=3,edge=4', 'edge=4 exceeds things=3'],
      ['things=3,thingTypes=0', 'at least one thing type'],
      ['things=3,thingTypes=1,edge=1', 'at least two thing types'],
      ['things=3,deployments=2', 'give edge=E too'],
      ['things=x', 'things must be a non-negative integer'],
      ['things=1,things=2', '"things" is given twice'],
      ['devices=1', 'is not one of things=N'],
    ];
    for (const [text, message] of bad) {
      expect(() => parseAwsGenerateSpec(text), text).toThrow(GenerateSpecError);
      expect(() => parseAwsGenerateSpec(text), text).toThrow(message);
    }
  });

  it('emulate splits one spec: edge goes to each provider the spec names, to IoT Hub when it names neither', () => {
    expect(splitGenerateSpec('devices=10,lora=2')).toEqual({ azure: 'devices=10,lora=2', aws: undefined });
    expect(splitGenerateSpec('things=10,edge=2')).toEqual({ azure: undefined, aws: 'things=10,edge=2' });
    expect(splitGenerateSpec('devices=5,edge=2,things=10,thingTypes=3')).toEqual({ azure: 'devices=5,edge=2', aws: 'things=10,thingTypes=3,edge=2' });
    expect(splitGenerateSpec('edge=2')).toEqual({ azure: 'edge=2', aws: undefined });
    expect(() => splitGenerateSpec('things=1,phones=2')).toThrow('unknown key "phones" (keys: devices, lora, edge, modules, gateways, concentrators, things, thingTypes, deployments)');
    expect(() => splitGenerateSpec('edge=1,edge=2')).toThrow('"edge" is given twice');
  });

  it('seeds the models the things reference: device models by type id, edge models by the latest deployment', () => {
    const f = normalizeAwsFixture(generateAwsFleet(parseAwsGenerateSpec('things=20,thingTypes=4,edge=5,deployments=3')));
    const seeds = seedModelsOf(f);
    const standard = f.thingTypes.filter((t) => t.tags['iotEdge'] === 'false');
    expect(seeds.deviceModels).toEqual(standard.map((t) => ({ id: t.id, name: t.name, description: t.description, supportLoRaFeatures: false })));
    expect(seeds.edgeDeviceModels).toEqual([{ id: 'dep-000003', name: 'edge-type-01', description: expect.any(String), externalIdentifier: 'dep-000003' }]);
    // A type without the tag, one no thing has, a deprecated one: no model.
    const odd = normalizeAwsFixture({
      thingTypes: [{ name: 'untagged' }, { name: 'unused', tags: { iotEdge: 'false' } }, { name: 'old', tags: { IOTEDGE: 'False' }, deprecated: true }, { name: 'ok', tags: { IOTEDGE: 'False' } }],
      things: [{ name: 'a', type: 'untagged' }, { name: 'b', type: 'old' }, { name: 'c', type: 'ok' }],
    });
    expect(seedModelsOf(odd).deviceModels.map((m) => m.name)).toEqual(['ok']);
  });
});

describe('a generated fleet served', () => {
  let emu: AwsEmulator | undefined;
  afterEach(async () => {
    await emu?.close();
    emu = undefined;
  });

  it('lists all its things in pages of 250 and answers for shadows, tags and core devices', async () => {
    emu = await startAwsEmulator({ fixture: generateAwsFleet(parseAwsGenerateSpec('things=1200,thingTypes=5,edge=120')) });
    const c = awsClients(emu.env());
    const names: string[] = [];
    let pages = 0;
    for await (const page of paginateListThings({ client: c.iot }, { maxResults: 250 })) {
      pages++;
      names.push(...page.things!.map((t) => t.thingName!));
    }
    expect(pages).toBe(5);
    expect(new Set(names).size).toBe(1200);
    const core: string[] = [];
    for await (const page of paginateListCoreDevices({ client: c.greengrass }, { maxResults: 100 })) core.push(...page.coreDevices!.map((d) => d.coreDeviceThingName!));
    expect(core).toHaveLength(120);
    expect((await c.data.send(new GetThingShadowCommand({ thingName: 'thing-000001' }))).payload).toBeDefined();
    const tags = await c.iot.send(new ListTagsForResourceCommand({ resourceArn: 'arn:aws:iot:eu-west-1:123456789012:thingtype/edge-type-01' }));
    expect(tags.tags).toEqual([{ Key: 'iotEdge', Value: 'true' }]);
    expect(emu.stats().requests).toMatchObject({ ListThings: 5, ListCoreDevices: 2 });
  });
});
