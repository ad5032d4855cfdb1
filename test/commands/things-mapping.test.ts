import { describe, expect, it } from 'vitest';
import {
  callsNeeded,
  connectionStateOf,
  placeThing,
  readListedThing,
  thingEntry,
  typeProblem,
  type ListedThing,
} from '../../src/commands/things-mapping.js';
import type { ModelCatalog } from '../../src/store/models.js';
import type { ThingFact } from '../../src/store/thing-facts.js';

const catalog = (device: Record<string, Array<[string, string | null]>>, edge: Record<string, string[]> = {}): ModelCatalog => ({
  deviceModels: new Map(Object.entries(device).map(([name, ms]) => [name, ms.map(([id, thingTypeName]) => ({ id, thingTypeName }))])),
  edgeModels: new Map(Object.entries(edge).map(([name, ids]) => [name, ids.map((id) => ({ id, thingTypeName: null }))])),
});
const CATALOG = catalog({ sensor: [['m-sensor', 'sensor']] }, { gateway: ['e-gateway'] });
const listed = (over: Partial<ListedThing> = {}): ListedThing => ({ name: 'thing-1', typeName: 'sensor', version: 3, attributes: { site: 'Lyon' }, ...over });
const fact = (over: Partial<ThingFact> = {}): ThingFact => ({ thingName: 'thing-1', thingId: 'id-1', version: 3, thingTypeName: 'sensor', hasClassicShadow: true, ...over });

describe('readListedThing', () => {
  it('keeps name, type, version and string attributes', () => {
    expect(readListedThing({ thingName: 't', thingTypeName: 'sensor', version: 2, attributes: { a: '1' } })).toEqual({ name: 't', typeName: 'sensor', version: 2, attributes: { a: '1' } });
    expect(readListedThing({ thingName: 't', version: 1 })).toEqual({ name: 't', typeName: null, version: 1, attributes: {} });
    expect(readListedThing({ thingName: 't', thingTypeName: '', version: 1 })).toMatchObject({ typeName: null });
    // An attribute that is not a string (a malformed answer) is left out, not stored as "[object Object]".
    expect(readListedThing({ thingName: 't', version: 1, attributes: { a: '1', b: 2, c: { d: 1 } } as never })).toEqual({ name: 't', typeName: null, version: 1, attributes: { a: '1' } });
  });

  it('skips a thing without a name (keyless) or without a version', () => {
    expect(readListedThing({ version: 1 })).toEqual({ kind: 'skipped', key: '(no thingName)', reason: 'ListThings gave a thing without a name', keyless: true });
    expect(readListedThing({ thingName: 't' })).toEqual({ kind: 'skipped', key: 't', reason: 'ListThings gave no version for the thing' });
    expect(readListedThing({ thingName: 't', version: 1.5 })).toMatchObject({ kind: 'skipped' });
  });
});

describe('typeProblem', () => {
  it('skips a thing without a type, or of a type no portal model is named after', () => {
    expect(typeProblem(listed({ typeName: null }), CATALOG)).toBe('the thing has no thing type');
    expect(typeProblem(listed({ typeName: 'meter' }), CATALOG)).toBe('thing type meter is unknown to the portal: no device model or edge device model is named meter');
    expect(typeProblem(listed({ typeName: 'sensor' }), CATALOG)).toBeNull();
    expect(typeProblem(listed({ typeName: 'gateway' }), CATALOG)).toBeNull();
  });
});

describe('placeThing', () => {
  it('puts standard types in devices with the device model of the same name, edge types in edge devices', () => {
    expect(placeThing('sensor', { kind: 'standard' }, CATALOG)).toEqual({ kind: 'place', table: 'device', modelId: 'm-sensor' });
    expect(placeThing('gateway', { kind: 'edge' }, CATALOG)).toEqual({ kind: 'place', table: 'edge', modelId: 'e-gateway' });
  });

  it('skips when the verdict is unknown, or the model of the right kind is missing', () => {
    expect(placeThing('sensor', { kind: 'unknown', reason: 'no iotEdge tag' }, CATALOG)).toEqual({ kind: 'skip', reason: 'thing type sensor: no iotEdge tag' });
    expect(placeThing('sensor', { kind: 'edge' }, CATALOG)).toEqual({ kind: 'skip', reason: 'thing type sensor is for edge devices, and no edge device model is named sensor' });
    expect(placeThing('gateway', { kind: 'standard' }, CATALOG)).toEqual({ kind: 'skip', reason: 'thing type gateway is for standard devices, and no device model is named gateway' });
  });

  it('prefers the device model thing-types made from the type; several otherwise is ambiguous', () => {
    const c = catalog({ sensor: [['a', null], ['b', 'sensor']], meter: [['x', null], ['y', null]] }, { gw: ['e1', 'e2'] });
    expect(placeThing('sensor', { kind: 'standard' }, c)).toEqual({ kind: 'place', table: 'device', modelId: 'b' });
    expect(placeThing('meter', { kind: 'standard' }, c)).toEqual({ kind: 'skip', reason: 'several device models are named meter: which one is ambiguous' });
    expect(placeThing('gw', { kind: 'edge' }, c)).toEqual({ kind: 'skip', reason: 'several edge device models are named gw: which one is ambiguous' });
    expect(placeThing('solo', { kind: 'standard' }, catalog({ solo: [['s', null]] }))).toEqual({ kind: 'place', table: 'device', modelId: 's' });
  });
});

describe('callsNeeded', () => {
  it('asks nothing for a known thing at the same version and type', () => {
    expect(callsNeeded(listed(), fact(), 'device', false)).toEqual({ describe: false, shadow: false });
    expect(callsNeeded(listed(), fact({ hasClassicShadow: false }), 'device', false)).toEqual({ describe: false, shadow: false });
    expect(callsNeeded(listed(), fact({ hasClassicShadow: null }), 'edge', false)).toEqual({ describe: false, shadow: false });
  });

  it('describes a new thing, a changed version (either way) or type, and every thing with --full', () => {
    expect(callsNeeded(listed(), undefined, 'device', false)).toEqual({ describe: true, shadow: true });
    expect(callsNeeded(listed(), undefined, 'edge', false)).toEqual({ describe: true, shadow: false });
    expect(callsNeeded(listed({ version: 4 }), fact(), 'device', false)).toEqual({ describe: true, shadow: true });
    expect(callsNeeded(listed({ version: 2 }), fact(), 'edge', false)).toEqual({ describe: true, shadow: false });
    expect(callsNeeded(listed({ typeName: 'gateway' }), fact(), 'edge', false)).toEqual({ describe: true, shadow: false });
    expect(callsNeeded(listed(), fact(), 'device', true)).toEqual({ describe: true, shadow: true });
  });

  it('asks only the shadow of a standard thing whose shadow was never answered', () => {
    expect(callsNeeded(listed(), fact({ hasClassicShadow: null }), 'device', false)).toEqual({ describe: false, shadow: true });
  });
});

describe('thingEntry', () => {
  const device = { kind: 'place', table: 'device', modelId: 'm-sensor' } as const;
  const edge = { kind: 'place', table: 'edge', modelId: 'e-gateway' } as const;

  it('maps a standard thing with a classic shadow to a device row keyed by thingId', () => {
    expect(thingEntry({ thing: listed({ attributes: { b: '2', a: '1' } }), thingId: 'id-1', placement: device, hasClassicShadow: true, coreStatus: undefined })).toEqual({
      kind: 'desired',
      key: 'id-1',
      version: 3,
      fields: { table: 'device', name: 'thing-1', device_model_id: 'm-sensor', is_enabled: true, thing_name: 'thing-1', tags: '{"a":"1","b":"2"}' },
    });
  });

  it('skips a standard thing without a classic shadow, under its thingId', () => {
    expect(thingEntry({ thing: listed(), thingId: 'id-1', placement: device, hasClassicShadow: false, coreStatus: undefined })).toEqual({
      kind: 'skipped',
      key: 'id-1',
      reason: 'the thing has no classic shadow: not imported',
    });
  });

  it('maps an edge thing to an edge device, connected only when its core device is HEALTHY', () => {
    const entry = (coreStatus: string | undefined) => thingEntry({ thing: listed({ typeName: 'gateway' }), thingId: 'id-1', placement: edge, hasClassicShadow: null, coreStatus });
    expect(entry('HEALTHY')).toEqual({
      kind: 'desired',
      key: 'id-1',
      version: 3,
      fields: { table: 'edge', name: 'thing-1', device_model_id: 'e-gateway', is_enabled: true, thing_name: 'thing-1', tags: '{"site":"Lyon"}', connection_state: 'Connected' },
    });
    expect(entry('UNHEALTHY')).toMatchObject({ fields: { connection_state: 'Disconnected' } });
    expect(entry(undefined)).toMatchObject({ fields: { connection_state: 'Disconnected' } });
  });

  it('connectionStateOf reads only HEALTHY as connected', () => {
    expect(connectionStateOf('HEALTHY')).toBe('Connected');
    expect(connectionStateOf('healthy')).toBe('Disconnected');
    expect(connectionStateOf('')).toBe('Disconnected');
  });
});
