/** The thing-types rules as a pure function of a type's facts and the time (INVENTORIES.md, thing-types). */
import { describe, expect, it } from 'vitest';
import {
  adopting,
  decideThingType,
  DEFAULT_DEPRECATION_GRACE_MS,
  deviceModelProblem,
  keptForDevices,
  keptForThings,
  thingCheckFailed,
  type ThingTypeFacts,
} from '../../src/commands/thing-types-mapping.js';

const NOW = Date.parse('2026-11-23T12:00:00Z');
const GRACE = 5 * 60_000;
const type = (over: Partial<ThingTypeFacts> = {}): ThingTypeFacts => ({
  name: 'sensor',
  id: 'tt-sensor',
  description: 'Temperature sensor',
  deprecated: false,
  deprecationDate: null,
  edge: { kind: 'standard' },
  ...over,
});
const deprecatedAgo = (ms: number) => type({ deprecated: true, deprecationDate: new Date(NOW - ms), edge: null });

describe('decideThingType', () => {
  it('makes a standard, live type a device model: id = thingTypeId, name, description', () => {
    expect(decideThingType(type(), NOW, GRACE)).toEqual({
      kind: 'entry',
      entry: { kind: 'desired', key: 'tt-sensor', version: 1, fields: { name: 'sensor', description: 'Temperature sensor' } },
    });
    expect(decideThingType(type({ description: null }), NOW, GRACE)).toMatchObject({ entry: { fields: { description: null } } });
  });

  it('skips edge types and types whose verdict is unknown, with the reason', () => {
    expect(decideThingType(type({ edge: { kind: 'edge' } }), NOW, GRACE)).toEqual({
      kind: 'entry',
      entry: { kind: 'skipped', key: 'tt-sensor', reason: 'thing type sensor is for edge devices (iotEdge true): not a device model' },
    });
    expect(decideThingType(type({ edge: { kind: 'unknown', reason: 'no iotEdge tag' } }), NOW, GRACE)).toEqual({
      kind: 'entry',
      entry: { kind: 'skipped', key: 'tt-sensor', reason: 'thing type sensor: no iotEdge tag' },
    });
  });

  it('deletes a type deprecated longer ago than the grace period, with its dynamic group', () => {
    const decision = decideThingType(deprecatedAgo(GRACE + 1000), NOW, GRACE);
    expect(decision).toEqual({
      kind: 'retire',
      key: 'tt-sensor',
      name: 'sensor',
      note: 'deprecated 5 min ago, past the 5 min grace period: deleted in AWS',
      action: { kind: 'delete-thing-type', ref: 'sensor', description: 'delete thing type sensor in AWS, then its dynamic thing group sensor' },
    });
  });

  it('leaves a type deprecated within the grace period in AWS, but it is no device model', () => {
    for (const age of [0, 60_000, GRACE]) {
      const decision = decideThingType(deprecatedAgo(age), NOW, GRACE);
      expect(decision).toMatchObject({ kind: 'retire', key: 'tt-sensor', action: null });
    }
    expect(decideThingType(deprecatedAgo(60_000), NOW, GRACE)).toMatchObject({
      note: 'deprecated 1 min ago, within the 5 min grace period: no longer a device model; left in AWS',
    });
    // A deprecation date in the future (clocks apart) is within the grace period too.
    expect(decideThingType(deprecatedAgo(-60_000), NOW, GRACE)).toMatchObject({ action: null });
  });

  it('has a default grace period of 5 minutes (INVENTORIES.md)', () => {
    expect(DEFAULT_DEPRECATION_GRACE_MS).toBe(300_000);
  });

  it('says how long ago a type was deprecated in the unit a person reads: s, min, h, days', () => {
    const note = (ageMs: number) => (decideThingType(deprecatedAgo(ageMs), NOW, 0) as { note: string }).note;
    expect(note(45_000)).toMatch(/^deprecated 45 s ago, past the 0 s grace period/);
    expect(note(119 * 60_000)).toMatch(/^deprecated 119 min ago/);
    expect(note(120 * 60_000)).toMatch(/^deprecated 2 h ago/);
    expect(note(47 * 3_600_000 + 59 * 60_000)).toMatch(/^deprecated 47 h ago/);
    expect(note(48 * 3_600_000)).toMatch(/^deprecated 2 days ago/);
    expect(note(34 * 86_400_000)).toMatch(/^deprecated 34 days ago/);
    expect((decideThingType(deprecatedAgo(0), NOW, 2 * 3_600_000) as { note: string }).note).toContain('within the 2 h grace period');
  });

  it('skips a live type whose edge verdict was not read, never guessing it standard', () => {
    expect(decideThingType(type({ edge: null }), NOW, GRACE)).toEqual({
      kind: 'entry',
      entry: { kind: 'skipped', key: 'tt-sensor', reason: 'thing type sensor: its iotEdge tag was not read' },
    });
  });

  it('measures the grace period with the clock it is given, whatever the length', () => {
    const facts = deprecatedAgo(2 * 3_600_000);
    expect(decideThingType(facts, NOW, 3 * 3_600_000)).toMatchObject({ action: null });
    // An hour later by the same clock, the type is past the grace period.
    expect(decideThingType(facts, NOW + 3_600_000 + 1, 3 * 3_600_000)).toMatchObject({ action: { ref: 'sensor' } });
  });

  it('never deletes a deprecated type without a deprecation date, nor takes it as a model', () => {
    expect(decideThingType(type({ deprecated: true, deprecationDate: null, edge: null }), NOW, GRACE)).toEqual({
      kind: 'retire',
      key: 'tt-sensor',
      name: 'sensor',
      note: 'deprecated (no deprecation date): no longer a device model; left in AWS',
      action: null,
    });
  });

  it('deletes a deprecated edge type too (the rule is edge or not)', () => {
    const edge = { ...deprecatedAgo(GRACE * 3), edge: { kind: 'edge' as const } };
    expect(decideThingType(edge, NOW, GRACE)).toMatchObject({ kind: 'retire', action: { ref: 'sensor' } });
  });
});

describe('keptForDevices and deviceModelProblem', () => {
  it('says why a model is kept, and that its type stays in AWS', () => {
    expect(keptForDevices('old', 1, 'is deprecated')).toBe(
      'thing type old is deprecated, but the model is still used by 1 device: not deleted, and the type is not deleted in AWS either',
    );
    expect(keptForDevices(null, 3, 'no live thing type has this id')).toBe('no live thing type has this id, but still used by 3 devices: not deleted');
  });

  it('refuses what device_models cannot hold', () => {
    const record = (key: string, name: string, description: string | null = null) => ({ key, version: 1, fields: { name, description } });
    expect(deviceModelProblem(record('tt-1', 'sensor', 'x'))).toBeNull();
    expect(deviceModelProblem(record('t'.repeat(256), 'sensor'))).toBe('thingTypeId is 256 characters long; at most 255 fit');
    expect(deviceModelProblem(record('tt-1', 'n'.repeat(300)))).toBe('thingTypeName is 300 characters long; at most 255 fit');
    expect(deviceModelProblem(record('tt-1', 'ok', 'a\u0000b'))).toBe('description contains a NUL character');
  });
});

describe('a long-deprecated type that things still have', () => {
  const DAY = 24 * 60 * 60_000;
  it('is skipped under its name (its model, keyed by id, still leaves), saying which thing and what to do', () => {
    expect(keptForThings(deprecatedAgo(37 * DAY), NOW, { name: 'probe-old', more: false })).toEqual({
      kind: 'skipped',
      key: 'sensor',
      reason: 'thing type sensor, deprecated 37 days ago, but 1 thing still has this type (probe-old): AWS refuses to delete it; retype or delete that thing first',
    });
    expect(keptForThings(deprecatedAgo(3 * 60 * 60_000), NOW, { name: 'probe-1', more: true })).toEqual({
      kind: 'skipped',
      key: 'sensor',
      reason: 'thing type sensor, deprecated 3 h ago, but 1+ things still have this type (e.g. probe-1): AWS refuses to delete it; retype or delete those things first',
    });
  });

  it('whose check failed is failed under its name, with the error', () => {
    expect(thingCheckFailed(deprecatedAgo(10 * 60_000), NOW, 'AWS ListThings failed: boom')).toEqual({
      kind: 'failed',
      key: 'sensor',
      error: 'thing type sensor, deprecated 10 min ago, is not deleted in AWS: whether things still have it could not be read: AWS ListThings failed: boom',
    });
  });
});

describe('adopting', () => {
  const desired = { kind: 'desired' as const, key: 'tt-sensor', version: 1, fields: { name: 'sensor', description: null } };
  it('warns on a model to create whose id is an unowned row, keeping the warnings it had', () => {
    const adopted = adopting({ ...desired, warnings: ['earlier'] }, new Set(['tt-sensor']));
    expect(adopted).toEqual({
      ...desired,
      warnings: ['earlier', 'adopts the existing device model tt-sensor, which no command owned: thing-types sets its name and description and owns it from now on (its LoRa flag is kept)'],
    });
  });
  it('gives a model without warnings the one warning', () => {
    expect(adopting(desired, new Set(['tt-sensor']))).toEqual({ ...desired, warnings: [expect.stringMatching(/^adopts the existing device model tt-sensor,/)] });
  });
  it('passes other entries through as they are', () => {
    expect(adopting(desired, new Set(['tt-other']))).toBe(desired);
    const skipped = { kind: 'skipped' as const, key: 'tt-sensor', reason: 'edge' };
    expect(adopting(skipped, new Set(['tt-sensor']))).toBe(skipped);
  });
});
