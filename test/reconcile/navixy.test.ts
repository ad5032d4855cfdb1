/**
 * The pure planner of `navixy-customers` (reconcile/navixy.ts) on hand-made inputs, one rule of
 * INVENTORIES.md ("Navixy customers") per test: no I/O, microseconds each. The digest is a fake
 * (`sha(x)`) so that a connection's hash reads as what it was opened with.
 */
import { describe, expect, it } from 'vitest';
import {
  isActive,
  judgeCustomer,
  planNavixy,
  validateNavixy,
  type Connection,
  type Customer,
  type NavixyLine,
  type Override,
} from '../../src/reconcile/navixy.js';
import type { MassDeletePolicy } from '../../src/reconcile/types.js';

const sha = (text: string) => `sha(${text})`;
const GUARD: MassDeletePolicy = { maxShare: 0.5, minRows: 10, allow: false };

function cust(reference: string, fields: Partial<Omit<Customer, 'reference'>> = {}): Customer {
  return { reference, provider: 'navixy', state: 'active', hash: `hash-of-${reference}`, gatewayCount: 2, ...fields };
}

let ids = 0;
function conn(customerRef: string, hash: string | null = `hash-of-${customerRef}`, fields: Partial<Omit<Connection, 'customerRef'>> = {}): Connection {
  return { id: `k${String(++ids).padStart(4, '0')}`, customerRef, hashSha256: sha(hash ?? ''), status: 'connected', createdAt: '2026-01-01T00:00:00.000Z', ...fields };
}

const judge = (customers: readonly Customer[]) => customers.map((c) => judgeCustomer(c, sha));
const plan = (customers: readonly Customer[], connections: readonly Connection[] = [], overrides: readonly Override[] = [], guard: MassDeletePolicy = GUARD) =>
  planNavixy(judge(customers), connections, overrides, guard);
const validate = (customers: readonly Customer[], connections: readonly Connection[], overrides: readonly Override[] = []) => validateNavixy(judge(customers), connections, overrides);

/** A line as the tests compare it: kind, ref, and the fields that say why. */
const brief = (l: NavixyLine) =>
  l.kind === 'close' ? `close ${l.ref} ${l.connectionId} (${l.reason})` : l.kind === 'override' || l.kind === 'stale-override' ? `${l.kind} ${l.ref} ${l.mode}` : `${l.kind} ${l.ref} (${l.reason})`;
const lines = (p: ReturnType<typeof plan>) => p.lines.map(brief);

describe('judgeCustomer: eligibility', () => {
  it('trims provider and state and compares them case-insensitively', () => {
    for (const [provider, state] of [
      ['navixy', 'active'],
      ['  NAVIXY ', ' ACTIVE\t'],
      ['Navixy', 'Active'],
    ]) {
      const v = judgeCustomer(cust('c', { provider, state }), sha);
      expect(v.navixy, `${provider}/${state}`).toBe(true);
      expect(v.ineligible, `${provider}/${state}`).toEqual([]);
    }
    expect(judgeCustomer(cust('c', { provider: 'navixy2' }), sha).navixy).toBe(false);
    expect(judgeCustomer(cust('c', { provider: null }), sha).navixy).toBe(false);
  });

  it('reads suspended and removed whatever their case; any other state (NULL, paused, blank) is "unknown state"', () => {
    expect(judgeCustomer(cust('c', { state: ' Suspended ' }), sha).ineligible).toEqual(['suspended']);
    expect(judgeCustomer(cust('c', { state: 'REMOVED' }), sha).ineligible).toEqual(['removed']);
    for (const state of [null, 'paused', '', '   ', 'activ', 'active-ish']) {
      expect(judgeCustomer(cust('c', { state }), sha).ineligible, String(state)).toEqual(['unknown state']);
    }
  });

  it('a hash is present when non-blank after trimming, and is trimmed before it is digested', () => {
    for (const hash of [null, '', '   ', '\t\n']) {
      const v = judgeCustomer(cust('c', { hash }), sha);
      expect(v.ineligible, JSON.stringify(hash)).toEqual(['no hash']);
      expect(v.hash).toBeNull();
      expect(v.hashSha256).toBeNull();
    }
    const v = judgeCustomer(cust('c', { hash: '  s3cr3t ' }), sha);
    expect(v.ineligible).toEqual([]);
    expect(v.hash).toBe('s3cr3t');
    expect(v.hashSha256).toBe('sha(s3cr3t)');
  });

  it('a gateway count of 0, NULL (or below 1) means no gateway', () => {
    for (const gatewayCount of [0, null, -1]) expect(judgeCustomer(cust('c', { gatewayCount }), sha).ineligible, String(gatewayCount)).toEqual(['no gateway']);
    expect(judgeCustomer(cust('c', { gatewayCount: 1 }), sha).ineligible).toEqual([]);
  });

  it('gives every reason at once, the state first', () => {
    expect(judgeCustomer(cust('c', { state: 'paused', hash: ' ', gatewayCount: 0 }), sha).ineligible).toEqual(['unknown state', 'no hash', 'no gateway']);
  });
});

describe('isActive', () => {
  it('connected and pending are active, whatever their case; disconnected and failed are not', () => {
    for (const status of ['connected', 'pending', ' Connected ', 'PENDING']) expect(isActive({ status }), status).toBe(true);
    for (const status of ['disconnected', 'failed', 'closed', '']) expect(isActive({ status }), status).toBe(false);
  });
});

describe('planNavixy', () => {
  it('opens the missing connection of an eligible customer and leaves one in step alone', () => {
    const ok = conn('in-step');
    const p = plan([cust('in-step'), cust('missing')], [ok]);
    expect(lines(p)).toEqual(['establish missing (eligible, without a connection)']);
    expect(p.counts).toEqual({ eligible: 2, connections: 1, missing: 1, extra: 0, suspendedWithConnection: 0, skipped: 0, inStep: 1, overridden: 0 });
  });

  it('skips an unknown state (NULL, paused) with its reason, and closes its connection as "unknown state"', () => {
    const c = conn('paused');
    const p = plan([cust('paused', { state: 'paused' }), cust('nullstate', { state: null })], [c]);
    expect(lines(p)).toEqual([`close paused ${c.id} (unknown state)`, 'skip nullstate (unknown state)', 'skip paused (unknown state)']);
    expect(p.counts).toMatchObject({ eligible: 0, connections: 1, extra: 1, skipped: 2, suspendedWithConnection: 0 });
  });

  it('skips a customer without a hash or without a gateway, with every reason', () => {
    const p = plan([cust('nohash', { hash: '  ' }), cust('nogw', { gatewayCount: 0 }), cust('nullgw', { gatewayCount: null }), cust('neither', { hash: null, gatewayCount: 0 })]);
    expect(lines(p)).toEqual(['skip neither (no hash, no gateway)', 'skip nogw (no gateway)', 'skip nohash (no hash)', 'skip nullgw (no gateway)']);
    expect(p.counts).toMatchObject({ eligible: 0, missing: 0, skipped: 4 });
  });

  it('an ineligible customer that is connected is skipped AND its connection closed', () => {
    const a = conn('nohash', 'old');
    const b = conn('nogw');
    const p = plan([cust('nohash', { hash: null }), cust('nogw', { gatewayCount: 0 })], [a, b]);
    expect(lines(p)).toEqual([`close nogw ${b.id} (no gateway)`, `close nohash ${a.id} (no hash)`, 'skip nogw (no gateway)', 'skip nohash (no hash)']);
    const close = p.lines.find((l) => l.kind === 'close' && l.ref === 'nogw');
    expect(close).toMatchObject({ detail: 'not eligible: no gateway' });
    expect(p.counts).toMatchObject({ eligible: 0, connections: 2, extra: 2, skipped: 2 });
  });

  it('another provider\'s customer gets no line, but a connection of theirs is closed as "other provider"', () => {
    const c = conn('teltonika');
    const p = plan([cust('teltonika', { provider: 'teltonika' }), cust('other-unconnected', { provider: 'other' }), cust('nullprov', { provider: null })], [c]);
    expect(lines(p)).toEqual([`close teltonika ${c.id} (other provider)`]);
    expect(p.counts).toMatchObject({ eligible: 0, connections: 1, extra: 1, skipped: 0, suspendedWithConnection: 0 });
  });

  it('closes the connections of suspended and removed customers, counts them, and gives no line to those not connected', () => {
    const s1 = conn('susp');
    const s2 = conn('susp'); // two active connections: both closed, the customer counted once
    const r = conn('rem');
    const p = plan(
      [cust('susp', { state: 'suspended' }), cust('rem', { state: ' Removed ' }), cust('quiet-susp', { state: 'suspended' }), cust('quiet-rem', { state: 'removed', hash: null })],
      [s1, s2, r],
    );
    expect(lines(p)).toEqual([`close rem ${r.id} (removed)`, `close susp ${s1.id} (suspended)`, `close susp ${s2.id} (suspended)`]);
    expect(p.counts).toMatchObject({ eligible: 0, connections: 3, extra: 3, suspendedWithConnection: 2, skipped: 0 });
  });

  it('a suspended customer without hash or gateway is closed as suspended, not skipped', () => {
    const c = conn('susp', 'x');
    const p = plan([cust('susp', { state: 'suspended', hash: null, gatewayCount: 0 })], [c]);
    expect(lines(p)).toEqual([`close susp ${c.id} (suspended)`]);
    expect(p.counts).toMatchObject({ suspendedWithConnection: 1, skipped: 0 });
  });

  it('closes a connection whose customer is not in the database as "unknown customer"', () => {
    const c = conn('ghost');
    const p = plan([cust('real')], [c]);
    expect(lines(p)).toEqual([`close ghost ${c.id} (unknown customer)`, 'establish real (eligible, without a connection)']);
    expect(p.lines[0]).toMatchObject({ detail: 'no customer ghost in the customer database' });
  });

  it('a hash held by two eligible customers is never used: both skipped, both still eligible and missing', () => {
    const p = plan([cust('d1', { hash: 'same' }), cust('d2', { hash: ' same ' }), cust('lone')]);
    expect(lines(p)).toEqual([
      'establish lone (eligible, without a connection)',
      'skip d1 (duplicate hash: another eligible customer has the same Navixy hash)',
      'skip d2 (duplicate hash: another eligible customer has the same Navixy hash)',
    ]);
    expect(p.counts).toMatchObject({ eligible: 3, missing: 3, skipped: 2 });
  });

  it('only eligible, non-overridden customers hold a hash: a suspended or overridden twin does not make it a duplicate', () => {
    const p = plan(
      [cust('d1', { hash: 'same' }), cust('twin-susp', { hash: 'same', state: 'suspended' }), cust('twin-nogw', { hash: 'same', gatewayCount: 0 }), cust('twin-ovr', { hash: 'same' })],
      [],
      [{ customerRef: 'twin-ovr', mode: 'force-off', reason: null }],
    );
    expect(lines(p).filter((l) => l.startsWith('establish') || l.includes('duplicate'))).toEqual(['establish d1 (eligible, without a connection)']);
  });

  it('a duplicate hash already connected for one holder: each holder skipped, that connection left alone, validation fails', () => {
    // "Each of them is skipped": no action on either, and no new connection with that hash.
    const c = conn('d1', 'same');
    const customers = [cust('d1', { hash: 'same' }), cust('d2', { hash: 'same' })];
    const p = plan(customers, [c]);
    expect(lines(p)).toEqual(['skip d1 (duplicate hash: another eligible customer has the same Navixy hash)', 'skip d2 (duplicate hash: another eligible customer has the same Navixy hash)']);
    expect(p.counts).toMatchObject({ eligible: 2, inStep: 1, missing: 1, extra: 0 });
    expect(validate(customers, [c])).toMatchObject({ ok: false, problems: ['1 active connection for 2 eligible customers', expect.stringMatching(/^d2: .*duplicate hash/)] });
  });

  it('validation fails on a duplicate hash, and says why', () => {
    const customers = [cust('d1', { hash: 'same' }), cust('d2', { hash: 'same' })];
    const v = validate(customers, []);
    expect(v.ok).toBe(false);
    expect(v.problems).toEqual([
      '0 active connections for 2 eligible customers',
      'd1: eligible, without a connection (duplicate hash: another eligible customer has the same Navixy hash)',
      'd2: eligible, without a connection (duplicate hash: another eligible customer has the same Navixy hash)',
    ]);
    expect(v.problemCount).toBe(3);
  });

  it('a rotated hash: the connection on the earlier hash is closed and one opened on the current hash', () => {
    const old = conn('rot', 'old-hash');
    const p = plan([cust('rot', { hash: 'new-hash' })], [old]);
    expect(lines(p)).toEqual([`close rot ${old.id} (rotated hash)`, 'establish rot (its connection has an earlier hash)']);
    expect(p.counts).toMatchObject({ eligible: 1, connections: 1, missing: 1, extra: 1, inStep: 0 });
  });

  it('a rotated connection beside one on the current hash: only the rotated one goes, nothing is opened', () => {
    const old = conn('rot', 'old-hash');
    const cur = conn('rot', 'new-hash');
    const p = plan([cust('rot', { hash: 'new-hash' })], [old, cur]);
    expect(lines(p)).toEqual([`close rot ${old.id} (rotated hash)`]);
    expect(p.counts).toMatchObject({ missing: 0, extra: 1, inStep: 1 });
  });

  it('two active connections of one customer: keeps the connected one over a pending one, even an older pending one', () => {
    const pending = conn('dup', undefined, { status: 'pending', createdAt: '2025-01-01T00:00:00.000Z' });
    const connected = conn('dup', undefined, { status: 'connected', createdAt: '2026-06-01T00:00:00.000Z' });
    const p = plan([cust('dup')], [pending, connected]);
    expect(lines(p)).toEqual([`close dup ${pending.id} (duplicate)`]);
    expect(p.lines[0]).toMatchObject({ detail: `a second active connection of the customer (kept ${connected.id})` });
    expect(p.counts).toMatchObject({ eligible: 1, connections: 2, missing: 0, extra: 1, inStep: 1 });
  });

  it('two active connections of one status: keeps the oldest, closes the others', () => {
    const newer = conn('dup', undefined, { createdAt: '2026-03-01T00:00:00.000Z' });
    const oldest = conn('dup', undefined, { createdAt: '2026-01-01T00:00:00.000Z' });
    const middle = conn('dup', undefined, { createdAt: '2026-02-01T00:00:00.000Z' });
    const p = plan([cust('dup')], [newer, oldest, middle]);
    expect(lines(p)).toEqual([`close dup ${newer.id} (duplicate)`, `close dup ${middle.id} (duplicate)`]);
    expect(p.lines[0]).toMatchObject({ detail: expect.stringContaining(`kept ${oldest.id}`) });
    const pendings = [conn('p', undefined, { status: 'pending', createdAt: '2026-05-01T00:00:00.000Z' }), conn('p', undefined, { status: 'pending', createdAt: '2026-04-01T00:00:00.000Z' })];
    expect(lines(plan([cust('p')], pendings))).toEqual([`close p ${pendings[0]!.id} (duplicate)`]);
  });

  it('reads a keeper\'s status trimmed and case-insensitively, and orders one customer\'s closes by connection id', () => {
    const pending = conn('dup', undefined, { status: 'pending', createdAt: '2025-01-01T00:00:00.000Z' });
    const connected = conn('dup', undefined, { status: ' Connected ', createdAt: '2026-06-01T00:00:00.000Z' });
    expect(lines(plan([cust('dup')], [pending, connected]))).toEqual([`close dup ${pending.id} (duplicate)`]);
    const later = conn('susp', undefined, { id: 'k-z' });
    const earlier = conn('susp', undefined, { id: 'k-a' });
    const middle = conn('susp', undefined, { id: 'k-m' });
    expect(lines(plan([cust('susp', { state: 'suspended' })], [later, earlier, middle]))).toEqual(['close susp k-a (suspended)', 'close susp k-m (suspended)', 'close susp k-z (suspended)']);
  });

  it('says in each close why, in words', () => {
    const customers = [cust('other', { provider: 'x' }), cust('rot', { hash: 'new' }), cust('worst', { state: 'paused', hash: null, gatewayCount: 0 })];
    const p = plan(customers, [conn('other'), conn('rot', 'old'), conn('worst', 'old')]);
    expect(p.lines.filter((l) => l.kind === 'close').map((l) => (l.kind === 'close' ? `${l.ref}: ${l.detail}` : ''))).toEqual([
      'other: the customer is not a Navixy customer',
      'rot: opened with an earlier hash of the customer',
      'worst: not eligible: unknown state, no hash, no gateway',
    ]);
  });

  it('disconnected and failed connections are never closed nor counted', () => {
    const disc = conn('eligible', undefined, { status: 'disconnected' });
    const failed = conn('susp', undefined, { status: 'failed' });
    const ghost = conn('ghost', undefined, { status: 'disconnected' });
    const p = plan([cust('eligible'), cust('susp', { state: 'suspended' })], [disc, failed, ghost]);
    expect(lines(p)).toEqual(['establish eligible (eligible, without a connection)']);
    expect(p.counts).toMatchObject({ eligible: 1, connections: 0, missing: 1, extra: 0, suspendedWithConnection: 0 });
  });

  it('a manual override leaves the customer and its connection alone, and keeps it out of every count', () => {
    const kept = conn('on-susp'); // force-on, suspended, connected: stays
    const offConn = conn('off-conn'); // force-off, eligible, connected: stays too
    const wrong = conn('on-rotated', 'old'); // force-on, rotated hash: not closed
    const overrides: Override[] = [
      { customerRef: 'on-susp', mode: 'force-on', reason: 'contract dispute' },
      { customerRef: 'off-missing', mode: 'force-off', reason: null },
      { customerRef: 'off-conn', mode: 'force-off', reason: 'paused by ops' },
      { customerRef: 'on-rotated', mode: 'force-on', reason: null },
    ];
    const customers = [cust('on-susp', { state: 'suspended' }), cust('off-missing'), cust('off-conn'), cust('on-rotated'), cust('plain')];
    const p = plan(customers, [kept, offConn, wrong, conn('plain')], overrides);
    expect(lines(p)).toEqual(['override off-conn force-off', 'override off-missing force-off', 'override on-rotated force-on', 'override on-susp force-on']);
    expect(p.lines.find((l) => l.ref === 'on-susp')).toEqual({ kind: 'override', ref: 'on-susp', mode: 'force-on', reason: 'contract dispute' });
    expect(p.counts).toEqual({ eligible: 1, connections: 1, missing: 0, extra: 0, suspendedWithConnection: 0, skipped: 0, inStep: 1, overridden: 4 });
    const v = validate(customers, [kept, offConn, wrong, conn('plain')], overrides);
    expect(v.ok).toBe(true);
  });

  it('an override of an ineligible customer (no hash) gets no skip line', () => {
    const p = plan([cust('nohash', { hash: null })], [], [{ customerRef: 'nohash', mode: 'force-off', reason: null }]);
    expect(lines(p)).toEqual(['override nohash force-off']);
    expect(p.counts).toMatchObject({ skipped: 0, overridden: 1 });
  });

  it('a stale override (no such customer) is reported, and its reference\'s connections are closed as unknown', () => {
    const a = conn('gone');
    const b = conn('gone', 'other', { status: 'pending' });
    const p = plan([cust('plain')], [a, b, conn('plain')], [{ customerRef: 'gone', mode: 'force-on', reason: 'old' }]);
    expect(lines(p)).toEqual([`close gone ${a.id} (unknown customer)`, `close gone ${b.id} (unknown customer)`, 'stale-override gone force-on']);
    expect(p.lines[0]).toMatchObject({ detail: 'no customer gone in the customer database (its override is stale)' });
    expect(p.counts).toMatchObject({ connections: 3, extra: 2, overridden: 0 });
  });

  it('puts closes before establishes, then skips, then overrides, each group by reference', () => {
    const customers = [
      cust('a-new'),
      cust('b-rot', { hash: 'new' }),
      cust('c-susp', { state: 'suspended' }),
      cust('d-nohash', { hash: null }),
      cust('e-ovr'),
      cust('f-new'),
    ];
    const connections = [conn('c-susp'), conn('b-rot', 'old'), conn('z-ghost'), conn('a-ghost')];
    const p = plan(customers, connections, [{ customerRef: 'e-ovr', mode: 'force-on', reason: null }, { customerRef: 'y-stale', mode: 'force-off', reason: null }]);
    expect(p.lines.map((l) => `${l.kind} ${l.ref}`)).toEqual([
      'close a-ghost',
      'close b-rot',
      'close c-susp',
      'close z-ghost',
      'establish a-new',
      'establish b-rot',
      'establish f-new',
      'skip d-nohash',
      'override e-ovr',
      'stale-override y-stale',
    ]);
  });

  it('compares references exactly: "A" is not "a", nor "a " nor " a"', () => {
    const lower = conn('a');
    const spaced = conn('a ');
    const p = plan([cust('A'), cust(' a')], [lower, spaced]);
    expect(lines(p)).toEqual([`close a ${lower.id} (unknown customer)`, `close a  ${spaced.id} (unknown customer)`, 'establish  a (eligible, without a connection)', 'establish A (eligible, without a connection)']);
  });

  it('matches references holding "/", "#", "%", "?" and spaces byte for byte', () => {
    const refs = ['acme/north', 'acme#2', '100% fleet', 'a%2Fb', 'what? now', 'ünïcödé'];
    const customers = refs.map((r) => cust(r));
    const connected = refs.slice(0, 3).map((r) => conn(r));
    // the encoded twin of a reference is another customer: "a/b" is not "a%2Fb"
    const twin = conn('a/b');
    const p = plan(customers, [...connected, twin]);
    expect(lines(p)).toEqual([
      `close a/b ${twin.id} (unknown customer)`,
      'establish a%2Fb (eligible, without a connection)',
      'establish what? now (eligible, without a connection)',
      'establish ünïcödé (eligible, without a connection)',
    ]);
    expect(p.counts).toMatchObject({ eligible: 6, inStep: 3, missing: 3 });
  });

  it('never puts a hash in a plan line', () => {
    const customers = [cust('a', { hash: 'SECRET-A' }), cust('b', { hash: 'SECRET-B', state: 'paused' }), cust('c', { hash: 'SECRET-DUP' }), cust('d', { hash: 'SECRET-DUP' })];
    const p = plan(customers, [conn('a', 'SECRET-OLD'), conn('b', 'SECRET-B')]);
    expect(JSON.stringify(p.lines)).not.toMatch(/SECRET/);
    expect(JSON.stringify(validate(customers, []))).not.toMatch(/SECRET/);
  });
});

describe('planNavixy: the mass-delete guard on closes', () => {
  /** `active` connected customers, the first `closing` of them suspended. */
  const fleet = (active: number, closing: number) => {
    const customers = Array.from({ length: active }, (_, i) => cust(`c${String(i).padStart(3, '0')}`, i < closing ? { state: 'suspended' } : {}));
    return { customers, connections: customers.map((c) => conn(c.reference)) };
  };

  it('refuses a pass that would close more than half of more than 10 active connections', () => {
    const { customers, connections } = fleet(12, 7);
    const p = plan(customers, connections);
    expect(p.guard).toEqual({ refused: true, wouldClose: 7, active: 12, maxShare: 0.5 });
    // the plan is still whole: the command shows it and acts on nothing
    expect(p.lines.filter((l) => l.kind === 'close')).toHaveLength(7);
  });

  it('lets exactly half through, and any share of 10 or fewer active connections', () => {
    const refused = (active: number, closing: number) => {
      const { customers, connections } = fleet(active, closing);
      return plan(customers, connections).guard.refused;
    };
    expect(refused(12, 6)).toBe(false);
    expect(refused(10, 10)).toBe(false);
    expect(refused(11, 6)).toBe(true);
    expect(refused(11, 5)).toBe(false);
  });

  it('refuses an empty customer database facing 20 connections, and --allow-mass-delete lifts it', () => {
    const { connections } = fleet(20, 0);
    expect(plan([], connections).guard).toMatchObject({ refused: true, wouldClose: 20, active: 20 });
    expect(plan([], connections, [], { ...GUARD, allow: true }).guard).toMatchObject({ refused: false, wouldClose: 20 });
  });

  it('counts only active, non-overridden connections as the base', () => {
    const { customers, connections } = fleet(8, 6);
    // Overridden and inactive connections do not raise the base above 10.
    const extra = [conn('ovr-1'), conn('ovr-2'), conn('ovr-3'), conn('c007', undefined, { status: 'failed' }), conn('c007', undefined, { status: 'disconnected' })];
    const overrides: Override[] = ['ovr-1', 'ovr-2', 'ovr-3'].map((customerRef) => ({ customerRef, mode: 'force-on', reason: null }));
    const p = plan([...customers, cust('ovr-1'), cust('ovr-2'), cust('ovr-3')], [...connections, ...extra], overrides);
    expect(p.guard).toMatchObject({ refused: false, wouldClose: 6, active: 8 });
  });
});

describe('validateNavixy', () => {
  it('passes on a clean state', () => {
    const customers = [cust('a'), cust('b'), cust('susp', { state: 'suspended' }), cust('nohash', { hash: null }), cust('teltonika', { provider: 'teltonika' })];
    const v = validate(customers, [conn('a'), conn('b', undefined, { status: 'pending' }), conn('susp', undefined, { status: 'disconnected' })]);
    expect(v).toEqual({ ok: true, problems: [], problemCount: 0, counts: { eligible: 2, connections: 2, missing: 0, extra: 0, suspendedWithConnection: 0, skipped: 1, inStep: 2, overridden: 0 } });
  });

  it('fails, saying why, on a missing, a rotated, a suspended, a gateway-less and an unknown customer\'s connection', () => {
    const customers = [cust('missing'), cust('rot', { hash: 'new' }), cust('susp', { state: 'suspended' }), cust('nogw', { gatewayCount: 0 }), cust('ok')];
    const connections = [conn('rot', 'old'), conn('susp'), conn('nogw'), conn('ghost'), conn('ok')];
    const v = validate(customers, connections);
    expect(v.ok).toBe(false);
    expect(v.problems[0]).toBe('5 active connections for 3 eligible customers');
    expect(v.problems.slice(1).sort()).toEqual(
      [
        `ghost: connection ${connections[3]!.id} should not be active (unknown customer)`,
        'missing: eligible, without a connection on its current hash',
        `nogw: connection ${connections[2]!.id} should not be active (no gateway)`,
        'rot: eligible, without a connection on its current hash',
        `rot: connection ${connections[0]!.id} should not be active (rotated hash)`,
        `susp: connection ${connections[1]!.id} should not be active (suspended)`,
      ].sort(),
    );
    expect(v.counts).toMatchObject({ missing: 2, extra: 4, suspendedWithConnection: 1 });
  });

  it('says the counts in words, singular or plural', () => {
    expect(validate([cust('a')], [conn('a'), conn('ghost')]).problems[0]).toBe('2 active connections for 1 eligible customer');
    expect(validate([cust('a'), cust('b')], [conn('a')]).problems[0]).toBe('1 active connection for 2 eligible customers');
  });

  it('counts equal but wrong still fails: the right number of connections, on the wrong customers', () => {
    const customers = [cust('a'), cust('b')];
    const v = validate(customers, [conn('a'), conn('ghost')]);
    expect(v.ok).toBe(false);
    expect(v.problems.some((p) => p.startsWith('2 active connections'))).toBe(false);
    expect(v.problemCount).toBe(2);
  });

  it('is not fooled by the mass-delete guard: a state that would be refused is still judged', () => {
    const connections = Array.from({ length: 20 }, (_, i) => conn(`ghost-${i}`));
    const v = validate([], connections);
    expect(v.ok).toBe(false);
    expect(v.problemCount).toBe(21);
    expect(v.problems).toHaveLength(20);
  });

  it('leaves overridden customers out of the check', () => {
    const customers = [cust('on-susp', { state: 'suspended' }), cust('off')];
    const overrides: Override[] = [
      { customerRef: 'on-susp', mode: 'force-on', reason: null },
      { customerRef: 'off', mode: 'force-off', reason: null },
    ];
    expect(validate(customers, [conn('on-susp')], overrides)).toMatchObject({ ok: true, counts: { eligible: 0, connections: 0, overridden: 2 } });
  });
});
