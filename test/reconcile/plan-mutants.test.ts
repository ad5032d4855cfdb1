/**
 * The planner's edges, one behaviour per test: what `npm run mutate` showed plan.test.ts leaves
 * unchecked (duplicate keys and their warnings, the mass-delete boundaries, ordering, summaries).
 */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MASS_DELETE,
  diffFields,
  hasChanges,
  massDeleteGuard,
  plan,
  Planner,
  summarize,
  type CurrentRecord,
  type Plan,
  type PlanPolicy,
  type RemoteEntry,
} from '../../src/reconcile/index.js';

const policy: PlanPolicy = { liveFields: ['online'], secretFields: ['key'], massDelete: { ...DEFAULT_MASS_DELETE, allow: true } };
const complete = { complete: true } as const;
type Fields = Record<string, string | number | boolean | null | undefined>;

const row = (key: string, version: number, fields: Fields = {}): CurrentRecord => ({ key, version, fields: { name: key, online: false, ...fields } });
const desired = (key: string, version: number, fields: Fields = {}, warnings?: string[]): RemoteEntry => ({
  kind: 'desired',
  ...row(key, version, fields),
  ...(warnings ? { warnings } : {}),
});
const skip = (key: string, reason: string): RemoteEntry => ({ kind: 'skipped', key, reason });
const fail = (key: string, error: string): RemoteEntry => ({ kind: 'failed', key, error });
const stored = (...rows: CurrentRecord[]) => new Map(rows.map((r) => [r.key, r]));
const messages = (p: Plan, key = 'a') => p.warnings.filter((w) => w.key === key).map((w) => w.message);

describe('DEFAULT_MASS_DELETE', () => {
  it('refuses deleting more than half of a table above 10 rows unless allowed', () => {
    expect(DEFAULT_MASS_DELETE).toEqual({ maxShare: 0.5, minRows: 10, allow: false });
  });
});

describe('massDeleteGuard', () => {
  const guard = { maxShare: 0.5, minRows: 10, allow: false };

  it('refuses strictly above the share, on tables strictly above minRows', () => {
    expect(massDeleteGuard(6, 11, guard)).toEqual({ refused: true, wouldDelete: 6, tableRows: 11, maxShare: 0.5 });
    // Exactly the share is allowed.
    expect(massDeleteGuard(6, 12, guard).refused).toBe(false);
    expect(massDeleteGuard(7, 12, guard).refused).toBe(true);
    // A table of exactly minRows rows is never guarded, even emptied.
    expect(massDeleteGuard(10, 10, guard).refused).toBe(false);
    expect(massDeleteGuard(11, 11, guard).refused).toBe(true);
  });

  it('never refuses when allowed or when nothing would be deleted', () => {
    expect(massDeleteGuard(100, 100, { ...guard, allow: true })).toEqual({ refused: false, wouldDelete: 100, tableRows: 100, maxShare: 0.5 });
    expect(massDeleteGuard(0, 100, { ...guard, maxShare: 0 }).refused).toBe(false);
    expect(massDeleteGuard(1, 100, { ...guard, maxShare: 0 }).refused).toBe(true);
  });

  it('is what a plan reports, also when the listing did not complete (nothing deleted then)', () => {
    const rows = Array.from({ length: 12 }, (_, i) => row(`r${String(i).padStart(2, '0')}`, 1));
    const strict = { ...policy, massDelete: DEFAULT_MASS_DELETE };
    expect(plan(stored(...rows), [], complete, strict).guard).toEqual({ refused: true, wouldDelete: 12, tableRows: 12, maxShare: 0.5 });
    const partial = plan(stored(...rows), [], { complete: false, reason: 'page 3 timed out' }, strict);
    expect(partial.guard).toEqual({ refused: false, wouldDelete: 0, tableRows: 12, maxShare: 0.5 });
    expect(partial.delete).toEqual([]);
    expect(partial.deletesWithheld).toBe('page 3 timed out');
  });
});

describe('diffFields', () => {
  it('compares only the fields the remote defines, a missing stored field as null', () => {
    const secret = new Set(['key']);
    expect(diffFields({ a: 1, b: 'x', key: 'k1' }, { a: 1, b: 'y', c: undefined, key: 'k2', d: 'new' }, secret)).toEqual([
      { field: 'b', old: 'x', new: 'y', secret: false },
      { field: 'key', old: 'k1', new: 'k2', secret: true },
      { field: 'd', old: null, new: 'new', secret: false },
    ]);
    expect(diffFields({}, { gone: null }, secret)).toEqual([]);
    expect(diffFields({ n: 0 }, { n: false }, secret)).toEqual([{ field: 'n', old: 0, new: false, secret: false }]);
  });
});

describe('judging one record', () => {
  it('puts the version change first on a newer version, and keeps the stored row beside the desired one', () => {
    const current = row('a', 1, { name: 'old', key: 'k1' });
    const p = plan(stored(current), [desired('a', 2, { name: 'new', key: 'k2' })], complete, policy);
    expect(p.update).toEqual([
      {
        desired: { kind: 'desired', ...row('a', 2, { name: 'new', key: 'k2' }) },
        current,
        changes: [
          { field: 'version', old: 1, new: 2, secret: false },
          { field: 'name', old: 'old', new: 'new', secret: false },
          { field: 'key', old: 'k1', new: 'k2', secret: true },
        ],
        cause: 'version',
      },
    ]);
    expect(p.unchanged).toBe(0);
  });

  it('updates a newer version even when no field moved', () => {
    const p = plan(stored(row('a', 1)), [desired('a', 2)], complete, policy);
    expect(p.update.map((u) => [u.cause, u.changes.map((c) => c.field)])).toEqual([['version', ['version']]]);
  });

  it('at the same version, a live change carries every changed field with it', () => {
    const p = plan(stored(row('a', 4, { name: 'x' })), [desired('a', 4, { name: 'y', online: true })], complete, policy);
    expect(p.update).toHaveLength(1);
    expect(p.update[0]!.cause).toBe('live');
    expect(p.update[0]!.changes).toEqual([
      { field: 'name', old: 'x', new: 'y', secret: false },
      { field: 'online', old: false, new: true, secret: false },
    ]);
  });

  it('counts a stale record as unchanged and lists it', () => {
    const p = plan(stored(row('a', 3), row('b', 3)), [desired('b', 2), desired('a', 1)], complete, policy);
    expect(p.stale).toEqual([
      { key: 'a', remoteVersion: 1, storedVersion: 3 },
      { key: 'b', remoteVersion: 2, storedVersion: 3 },
    ]);
    expect(p.unchanged).toBe(2);
    expect(p.update).toEqual([]);
    expect(p.delete).toEqual([]);
  });
});

describe('a plan', () => {
  it('orders updates, skips, failures, stale records and warnings by key', () => {
    const p = plan(
      stored(row('u2', 1), row('u1', 1), row('s2', 5), row('s1', 5)),
      [
        desired('u2', 2),
        desired('u1', 2),
        desired('s2', 1),
        desired('s1', 1),
        skip('k2', 'no modelId tag'),
        skip('k1', 'no modelId tag'),
        fail('f2', 'boom'),
        fail('f1', 'boom'),
        desired('w2', 1, {}, ['second']),
        desired('w1', 1, {}, ['first']),
      ],
      complete,
      policy,
    );
    expect(p.update.map((u) => u.desired.key)).toEqual(['u1', 'u2']);
    expect(p.stale.map((s) => s.key)).toEqual(['s1', 's2']);
    expect(p.skipped.map((s) => s.key)).toEqual(['k1', 'k2']);
    expect(p.failed).toEqual([
      { key: 'f1', error: 'boom' },
      { key: 'f2', error: 'boom' },
    ]);
    expect(p.warnings).toEqual([
      { key: 'w1', message: 'first' },
      { key: 'w2', message: 'second' },
    ]);
    expect(p.create.map((c) => c.key)).toEqual(['w1', 'w2']);
  });

  it('keeps a key’s warnings in the order they were raised', () => {
    const p = plan(stored(), [desired('a', 1, {}, ['one', 'two']), desired('a', 1, {}, ['three'])], complete, policy);
    expect(messages(p)).toEqual(['three', 'listed twice at version 1: kept the copy listed last']);
    const q = plan(stored(), [desired('b', 1), desired('a', 1, {}, ['x', 'y', 'z']), desired('c', 1)], complete, policy);
    expect(q.warnings).toEqual([
      { key: 'a', message: 'x' },
      { key: 'a', message: 'y' },
      { key: 'a', message: 'z' },
    ]);
  });

  it('sorts records without a usable key among the other skips', () => {
    const keyless = (reason: string): RemoteEntry => ({ kind: 'skipped', key: '(no deviceId)', reason, keyless: true });
    const p = plan(stored(), [skip('zz', 'no modelId tag'), keyless('first'), skip('a', 'no modelId tag'), keyless('second')], complete, policy);
    expect(p.skipped).toEqual([
      { key: '(no deviceId) #1', reason: 'first' },
      { key: '(no deviceId) #2', reason: 'second' },
      { key: 'a', reason: 'no modelId tag' },
      { key: 'zz', reason: 'no modelId tag' },
    ]);
    expect(p.warnings).toEqual([]);
  });

  it('carries the remote actions through, none by default, and a complete listing withholds nothing', () => {
    const action = { kind: 'delete-type', ref: 'old-type', description: 'delete the deprecated thing type old-type' };
    const p = plan(stored(), [], complete, policy, [action]);
    expect(p.remoteActions).toEqual([action]);
    expect(p.deletesWithheld).toBeNull();
    expect(plan(stored(), [], complete, policy).remoteActions).toEqual([]);
    expect(new Planner(stored(), policy).finish(complete).remoteActions).toEqual([]);
  });

  it('can be computed a page at a time with the same result', () => {
    const current = stored(row('a', 1), row('b', 1), row('gone', 1));
    const remote = [desired('b', 2, { name: 'B' }), desired('a', 1), desired('new', 1)];
    const planner = new Planner(current, policy);
    for (const entry of remote) planner.add(entry);
    expect(planner.finish(complete)).toEqual(plan(current, remote, complete, policy));
  });
});

describe('summarize and hasChanges', () => {
  it('counts each list', () => {
    const p = plan(
      stored(row('u', 1), row('same', 1), row('gone', 1), row('old', 9)),
      [desired('u', 2), desired('same', 1), desired('old', 1), desired('n1', 1), desired('n2', 1), skip('s', 'r'), fail('f1', 'e'), fail('f2', 'e'), fail('f3', 'e')],
      complete,
      policy,
    );
    expect(summarize(p)).toEqual({ create: 2, update: 1, delete: 1, unchanged: 2, skipped: 1, failed: 3 });
  });

  it('is true when anything would be written, deleted or done remotely, and only then', () => {
    const base = plan(stored(row('a', 1)), [desired('a', 1), skip('s', 'r'), fail('f', 'e')], complete, policy);
    expect(hasChanges(base)).toBe(false);
    expect(hasChanges(plan(stored(), [desired('a', 1)], complete, policy))).toBe(true);
    expect(hasChanges(plan(stored(row('a', 1)), [desired('a', 2)], complete, policy))).toBe(true);
    expect(hasChanges(plan(stored(row('a', 1)), [], complete, policy))).toBe(true);
    expect(hasChanges({ ...base, remoteActions: [{ kind: 'k', ref: 'r', description: 'd' }] })).toBe(true);
  });
});

describe('a key listed twice', () => {
  it('keeps the higher version, whichever state the first copy was judged in, and says which', () => {
    // First copies judged create, update, unchanged and stale; the second copy is newer each time.
    const current = stored(row('upd', 1), row('same', 2), row('stale', 5));
    const p = plan(
      current,
      [desired('new', 1), desired('upd', 2), desired('same', 2), desired('stale', 3), desired('new', 4), desired('upd', 5), desired('same', 6), desired('stale', 7)],
      complete,
      policy,
    );
    expect(messages(p, 'new')).toEqual(['listed twice (versions 1 and 4): kept version 4']);
    expect(messages(p, 'upd')).toEqual(['listed twice (versions 2 and 5): kept version 5']);
    expect(messages(p, 'same')).toEqual(['listed twice (versions 2 and 6): kept version 6']);
    expect(messages(p, 'stale')).toEqual(['listed twice (versions 3 and 7): kept version 7']);
    expect(p.create.map((c) => [c.key, c.version])).toEqual([['new', 4]]);
    expect(p.update.map((u) => [u.desired.key, u.desired.version])).toEqual([
      ['same', 6],
      ['stale', 7],
      ['upd', 5],
    ]);
    expect(p.stale).toEqual([]);
  });

  it('keeps the higher version when the older copy comes second, from any judged state', () => {
    const current = stored(row('upd', 1), row('same', 2));
    const p = plan(current, [desired('upd', 5), desired('same', 2), desired('upd', 2), desired('same', 1)], complete, policy);
    expect(messages(p, 'upd')).toEqual(['listed twice (versions 5 and 2): kept version 5']);
    expect(messages(p, 'same')).toEqual(['listed twice (versions 2 and 1): kept version 2']);
    expect(p.update.map((u) => u.desired.version)).toEqual([5]);
    expect(p.unchanged).toBe(1);
    expect(p.stale).toEqual([]);
  });

  it('names the unusable copy it dropped, whichever order they came in', () => {
    const p = plan(
      stored(row('u', 1), row('s', 3)),
      [fail('a', 'describe failed'), desired('a', 1), desired('b', 2), fail('b', 'throttled'), desired('u', 2), skip('u', 'no modelId tag'), desired('s', 1), fail('s', 'x')],
      complete,
      policy,
    );
    expect(messages(p, 'a')).toEqual(['listed twice: kept the copy that could be used (the other was failed: describe failed)']);
    expect(messages(p, 'b')).toEqual(['listed twice: kept the copy that could be used (the other was failed: throttled)']);
    expect(messages(p, 'u')).toEqual(['listed twice: kept the copy that could be used (the other was skipped: no modelId tag)']);
    expect(messages(p, 's')).toEqual(['listed twice: kept the copy that could be used (the other was failed: x)']);
    expect(p.create.map((c) => c.key)).toEqual(['a', 'b']);
    expect(p.update.map((u) => u.desired.key)).toEqual(['u']);
    expect(p.stale.map((s) => s.key)).toEqual(['s']);
    expect(p.failed).toEqual([]);
    expect(p.skipped).toEqual([]);
  });

  it('when neither copy can be used, keeps the reason of the last one', () => {
    const p = plan(stored(row('a', 1), row('b', 1)), [skip('a', 'no modelId tag'), fail('a', 'throttled'), fail('b', 'first'), skip('b', 'second')], complete, policy);
    expect(p.failed).toEqual([{ key: 'a', error: 'throttled' }]);
    expect(p.skipped).toEqual([{ key: 'b', reason: 'second' }]);
    expect(messages(p, 'a')).toEqual(['listed twice and neither copy could be used: kept the reason of the copy listed last']);
    expect(messages(p, 'b')).toEqual(['listed twice and neither copy could be used: kept the reason of the copy listed last']);
    expect(p.delete).toEqual([]);
  });

  it('notes every extra copy', () => {
    const p = plan(stored(), [desired('a', 1), desired('a', 3), desired('a', 2)], complete, policy);
    expect(messages(p)).toEqual(['listed twice (versions 1 and 3): kept version 3', 'listed twice (versions 3 and 2): kept version 3']);
    expect(p.create.map((c) => c.version)).toEqual([3]);
  });

  it('keeps the warnings of the copy it keeps, and only those', () => {
    const dropped = plan(stored(), [desired('a', 2, {}, ['twin of v2']), desired('a', 1, {}, ['twin of v1'])], complete, policy);
    expect(messages(dropped)).toEqual(['twin of v2', 'listed twice (versions 2 and 1): kept version 2']);
    const replaced = plan(stored(), [desired('a', 1, {}, ['twin of v1']), desired('a', 2)], complete, policy);
    expect(messages(replaced)).toEqual(['listed twice (versions 1 and 2): kept version 2']);
    const byFailure = plan(stored(), [desired('a', 1, {}, ['twin of v1']), fail('a', 'x')], complete, policy);
    expect(messages(byFailure)).toEqual(['twin of v1', 'listed twice: kept the copy that could be used (the other was failed: x)']);
    const empty = plan(stored(), [desired('a', 1, {}, [])], complete, policy);
    expect(empty.warnings).toEqual([]);
  });
});
