import { describe, expect, it } from 'vitest';
import { DEFAULT_MASS_DELETE, hasChanges, plan, summarize, type CurrentRecord, type PlanPolicy, type RemoteEntry } from '../../src/reconcile/index.js';

const policy: PlanPolicy = {
  liveFields: ['connected', 'lastActivity'],
  secretFields: ['appKey'],
  massDelete: DEFAULT_MASS_DELETE,
};

const row = (key: string, version: number, fields: Record<string, string | number | boolean | null | undefined> = {}) => ({
  key,
  version,
  fields: { name: key, connected: false, lastActivity: null, ...fields },
});
const desired = (key: string, version: number, fields = {}): RemoteEntry => ({ kind: 'desired', ...row(key, version, fields) });
const stored = (...rows: CurrentRecord[]) => new Map(rows.map((r) => [r.key, r]));
const complete = { complete: true } as const;

describe('plan', () => {
  it('creates rows the portal does not have and leaves equal ones unchanged', () => {
    const p = plan(stored(row('a', 1)), [desired('a', 1), desired('b', 1)], complete, policy);
    expect(p.create.map((c) => c.key)).toEqual(['b']);
    expect(p.unchanged).toBe(1);
    expect(summarize(p)).toEqual({ create: 1, update: 0, delete: 0, unchanged: 1, skipped: 0, failed: 0 });
  });

  it('updates on a newer remote version and lists the changed fields', () => {
    const p = plan(stored(row('a', 1, { name: 'old' })), [desired('a', 2, { name: 'new' })], complete, policy);
    expect(p.update).toHaveLength(1);
    expect(p.update[0]!.cause).toBe('version');
    expect(p.update[0]!.changes).toEqual([
      { field: 'version', old: 1, new: 2, secret: false },
      { field: 'name', old: 'old', new: 'new', secret: false },
    ]);
  });

  it('updates at the same version when a live field moved', () => {
    const p = plan(stored(row('a', 3)), [desired('a', 3, { connected: true })], complete, policy);
    expect(p.update).toHaveLength(1);
    expect(p.update[0]!.cause).toBe('live');
    expect(p.update[0]!.changes.map((c) => c.field)).toEqual(['connected']);
  });

  it('does not update at the same version when only a non-live field differs', () => {
    const p = plan(stored(row('a', 3, { name: 'x' })), [desired('a', 3, { name: 'y' })], complete, policy);
    expect(p.update).toHaveLength(0);
    expect(p.unchanged).toBe(1);
  });

  it('never lets an older remote version overwrite a newer stored row', () => {
    const p = plan(stored(row('a', 5, { name: 'newer' })), [desired('a', 4, { name: 'older', connected: true })], complete, policy);
    expect(p.update).toHaveLength(0);
    expect(p.stale).toEqual([{ key: 'a', remoteVersion: 4, storedVersion: 5 }]);
  });

  it('does not compare fields the remote leaves undefined', () => {
    const p = plan(stored(row('a', 1, { appKey: 'kept' })), [desired('a', 1, { appKey: undefined })], complete, policy);
    expect(p.unchanged).toBe(1);
  });

  it('marks secret fields so their values can be hidden', () => {
    const p = plan(stored(row('a', 1, { appKey: 'k1' })), [desired('a', 2, { appKey: 'k2' })], complete, policy);
    expect(p.update[0]!.changes.find((c) => c.field === 'appKey')!.secret).toBe(true);
  });

  it('deletes rows absent from a completed listing', () => {
    const p = plan(stored(row('a', 1), row('b', 1), row('c', 1)), [desired('a', 1), desired('b', 1)], complete, policy);
    expect(p.delete.map((d) => d.key)).toEqual(['c']);
    expect(hasChanges(p)).toBe(true);
  });

  it('never deletes a record that exists remotely but was skipped or failed', () => {
    const remote: RemoteEntry[] = [
      { kind: 'skipped', key: 'a', reason: 'no modelId tag' },
      { kind: 'failed', key: 'b', error: 'describe failed' },
    ];
    const p = plan(stored(row('a', 1), row('b', 1)), remote, complete, policy);
    expect(p.delete).toEqual([]);
    expect(p.skipped).toEqual([{ key: 'a', reason: 'no modelId tag' }]);
    expect(p.failed).toEqual([{ key: 'b', error: 'describe failed' }]);
  });

  it('plans no deletes when the listing did not complete', () => {
    const p = plan(stored(row('a', 1), row('b', 1)), [desired('a', 1)], { complete: false, reason: 'page 2 failed' }, policy);
    expect(p.delete).toEqual([]);
    expect(p.deletesWithheld).toBe('page 2 failed');
  });

  it('refuses a pass that would delete more than the allowed share of a non-trivial table', () => {
    const rows = Array.from({ length: 20 }, (_, i) => row(`d${i}`, 1));
    const remote = rows.slice(0, 9).map((r) => desired(r.key, 1));
    const p = plan(stored(...rows), remote, complete, policy);
    expect(p.guard).toEqual({ refused: true, wouldDelete: 11, tableRows: 20, maxShare: 0.5 });
    const allowed = plan(stored(...rows), remote, complete, { ...policy, massDelete: { ...DEFAULT_MASS_DELETE, allow: true } });
    expect(allowed.guard.refused).toBe(false);
    expect(allowed.delete).toHaveLength(11);
  });

  it('lets an empty listing empty a small table, and guards exactly above the share', () => {
    const small = Array.from({ length: 10 }, (_, i) => row(`d${i}`, 1));
    expect(plan(stored(...small), [], complete, policy).guard.refused).toBe(false);
    const twenty = Array.from({ length: 20 }, (_, i) => row(`d${i}`, 1));
    const half = plan(stored(...twenty), twenty.slice(0, 10).map((r) => desired(r.key, 1)), complete, policy);
    expect(half.guard.refused).toBe(false);
    expect(half.delete).toHaveLength(10);
  });

  it('keeps the newer copy of a record listed twice', () => {
    const p = plan(new Map(), [desired('a', 2, { name: 'new' }), desired('a', 1, { name: 'old' })], complete, policy);
    expect(p.create).toHaveLength(1);
    expect(p.create[0]!.fields.name).toBe('new');
  });

  it('orders every list by key for stable output', () => {
    const p = plan(stored(row('z', 1), row('y', 1)), [desired('c', 1), desired('a', 1), desired('b', 1)], complete, {
      ...policy,
      massDelete: { ...DEFAULT_MASS_DELETE, allow: true },
    });
    expect(p.create.map((c) => c.key)).toEqual(['a', 'b', 'c']);
    expect(p.delete.map((d) => d.key)).toEqual(['y', 'z']);
  });

  it('plans 100,000 records quickly enough to never matter next to the API', () => {
    const current = new Map<string, CurrentRecord>();
    const remote: RemoteEntry[] = [];
    for (let i = 0; i < 100_000; i++) {
      current.set(`d${i}`, row(`d${i}`, 1));
      remote.push(desired(`d${i}`, i % 100 === 0 ? 2 : 1));
    }
    const p = plan(current, remote, complete, policy);
    expect(p.update).toHaveLength(1000);
    expect(p.unchanged).toBe(99_000);
  });
});

describe('a key listed twice', () => {
  const skip = (key: string, reason: string): RemoteEntry => ({ kind: 'skipped', key, reason });

  it('keeps the higher version, whichever comes first, and says so', () => {
    for (const order of [[desired('a', 3, { name: 'new' }), desired('a', 2, { name: 'old' })], [desired('a', 2, { name: 'old' }), desired('a', 3, { name: 'new' })]]) {
      const p = plan(stored(), order, complete, policy);
      expect(p.create).toHaveLength(1);
      expect(p.create[0]!.fields.name).toBe('new');
      expect(p.warnings).toEqual([{ key: 'a', message: expect.stringMatching(/listed twice \(versions \d and \d\): kept version 3/) }]);
    }
  });

  it('at equal versions keeps the copy listed last (its live fields were read later)', () => {
    const p = plan(stored(row('a', 1)), [desired('a', 1, { connected: false }), desired('a', 1, { connected: true })], complete, policy);
    expect(p.update.map((u) => u.desired.fields.connected)).toEqual([true]);
    expect(p.warnings).toEqual([{ key: 'a', message: 'listed twice at version 1: kept the copy listed last' }]);
  });

  it('prefers a copy that maps over one that was skipped, in either order', () => {
    for (const order of [[skip('a', 'no modelId tag'), desired('a', 1)], [desired('a', 1), skip('a', 'no modelId tag')]]) {
      const p = plan(stored(), order, complete, policy);
      expect(p.create.map((c) => c.key)).toEqual(['a']);
      expect(p.skipped).toEqual([]);
      expect(p.warnings[0]!.message).toBe('listed twice: kept the copy that could be used (the other was skipped: no modelId tag)');
    }
  });

  it('counts every record without a usable key on its own', () => {
    const keyless = (): RemoteEntry => ({ kind: 'skipped', key: '(no deviceId)', reason: 'malformed twin: no deviceId', keyless: true });
    const p = plan(stored(), [keyless(), desired('a', 1), keyless(), keyless()], complete, policy);
    expect(p.skipped.map((s) => s.key)).toEqual(['(no deviceId) #1', '(no deviceId) #2', '(no deviceId) #3']);
    expect(summarize(p).skipped).toBe(3);
    expect(p.warnings).toEqual([]);
  });
});
