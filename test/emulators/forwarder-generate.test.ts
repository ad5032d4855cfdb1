/**
 * The customers/connections generator (`--generate customers=N,drift=P`), checked against the rules
 * it claims to follow by recomputing every drift kind from what it built; `seedCustomers` on SQLite
 * and PostgreSQL; and the speed the benchmark relies on.
 */
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AWKWARD_EVERY,
  customerState,
  generateForwarder,
  isEligible,
  isNavixy,
  parseForwarderGenerateSpec,
  seedCustomers,
  splitForwarderSpec,
  startForwarderEmulator,
  type ForwarderCustomer,
  type ForwarderEmulator,
  type GeneratedForwarder,
} from '../../src/emulators/forwarder/index.js';
import { migrateLatest } from '../../src/store/migrate.js';
import { BACKENDS, createTestDatabase, type TestDatabase } from '../support/backends.js';
import { forwarderApi } from '../support/forwarder.js';

const digest = (v: unknown) => createHash('sha256').update(JSON.stringify(v)).digest('hex');

/** Each drift kind recomputed from the section alone, by the rules of INVENTORIES.md. */
function recompute(g: GeneratedForwarder) {
  const active = new Map<string, { hash: string; status: string }[]>();
  for (const c of g.section.connections) {
    if (c.status !== 'connected' && c.status !== 'pending') continue;
    const list = active.get(c.customerRef) ?? [];
    list.push(c);
    active.set(c.customerRef, list);
  }
  const out = { eligible: 0, missing: [] as string[], ineligibleConnected: [] as string[], rotated: [] as string[], duplicate: [] as string[], inStep: 0, strayActive: [] as string[] };
  for (const c of g.section.customers) {
    const mine = active.get(c.reference) ?? [];
    if (isEligible(c)) {
      out.eligible++;
      if (mine.length === 0) out.missing.push(c.reference);
      else if (mine.length > 1) out.duplicate.push(c.reference);
      else if (mine[0]!.hash !== c.hash) out.rotated.push(c.reference);
      else if (mine[0]!.status === 'connected') out.inStep++;
    } else if (!isNavixy(c) || customerState(c) !== 'active') {
      if (mine.length > 0) out.ineligibleConnected.push(c.reference);
    } else if (mine.length > 0) out.strayActive.push(c.reference);
  }
  return out;
}

describe('spec', () => {
  it('parses customers and drift (default 1, decimals allowed) and refuses the rest', () => {
    expect(parseForwarderGenerateSpec('customers=50000')).toEqual({ customers: 50000, drift: 1 });
    expect(parseForwarderGenerateSpec(' customers = 10 , drift = 0.5 ')).toEqual({ customers: 10, drift: 0.5 });
    expect(parseForwarderGenerateSpec('customers=10,drift=0')).toEqual({ customers: 10, drift: 0 });
    for (const [spec, message] of [
      ['customers=10,drift=101', 'drift must be a percentage from 0 to 100'],
      ['customers=10,drift=-1', 'drift must be a percentage such as 1 or 0.5'],
      ['customers=10,drift=lots', 'drift must be a percentage'],
      ['customers=ten', 'customers must be a non-negative integer'],
      ['customers=1,customers=2', '"customers" is given twice'],
      ['drift=2', 'drift needs customers=N'],
      ['customers=1,devices=2', 'unknown key "devices"'],
      ['customers=20000000', 'more than 10000000'],
    ] as const) {
      expect(() => parseForwarderGenerateSpec(spec), spec).toThrow(message);
    }
  });

  it('splitForwarderSpec takes its keys out of a whole --generate spec and leaves the rest as it was', () => {
    expect(splitForwarderSpec('devices=5,customers=10,drift=2,events=3')).toEqual({ rest: 'devices=5,events=3', forwarder: 'customers=10,drift=2' });
    expect(splitForwarderSpec('things=3')).toEqual({ rest: 'things=3', forwarder: undefined });
    expect(splitForwarderSpec('customers=4')).toEqual({ rest: '', forwarder: 'customers=4' });
  });
});

describe('generateForwarder', () => {
  const N = 20_000;
  const g = generateForwarder({ customers: N, drift: 2 });

  it('puts exactly round(N·P/100) customers out of step, a quarter of each kind, and every other eligible one in step', () => {
    const r = recompute(g);
    // 2% of 20,000 = 400: 100 of each kind.
    expect(g.drift.missing).toHaveLength(100);
    expect(g.drift.ineligibleConnected).toHaveLength(100);
    expect(g.drift.rotated).toHaveLength(100);
    expect(g.drift.duplicate).toHaveLength(100);
    // What it says it did is what the data shows.
    expect(r.missing).toEqual(g.drift.missing);
    expect(r.ineligibleConnected).toEqual(g.drift.ineligibleConnected);
    expect(r.rotated).toEqual(g.drift.rotated);
    expect(r.duplicate).toEqual(g.drift.duplicate);
    expect(r.eligible).toBe(g.eligible);
    expect(r.inStep).toBe(g.eligible - 300);
    // Customers eligible by state and provider but without a hash or a gateway have no connection.
    expect(r.strayActive).toEqual([]);
    // A duplicate: the connected one first (older), then a pending one, both with the current hash.
    const byRef = new Map(g.section.customers.map((c) => [c.reference, c]));
    for (const ref of g.drift.duplicate) {
      const mine = g.section.connections.filter((c) => c.customerRef === ref && (c.status === 'connected' || c.status === 'pending'));
      expect(mine.map((c) => c.status)).toEqual(['connected', 'pending']);
      expect(mine.every((c) => c.hash === byRef.get(ref)!.hash)).toBe(true);
      expect(mine[0]!.createdAt < mine[1]!.createdAt).toBe(true);
    }
    // The ineligible ones are of each ineligible sort, not only one.
    const sorts = new Set(g.drift.ineligibleConnected.map((ref) => (isNavixy(byRef.get(ref)!) ? customerState(byRef.get(ref)!) : 'other provider')));
    expect(sorts).toEqual(new Set(['suspended', 'removed', 'unknown', 'other provider']));
    expect(g.active).toBe(g.section.connections.filter((c) => c.status === 'connected' || c.status === 'pending').length);
  });

  it('mixes providers, states, hashes and gateway counts in the shares asked', () => {
    const cs = g.section.customers;
    const share = (f: (c: ForwarderCustomer) => boolean) => cs.filter(f).length / N;
    const within = (v: number, lo: number, hi: number) => expect(v >= lo && v <= hi, `${v} in [${lo}, ${hi}]`).toBe(true);
    within(share(isNavixy), 0.9, 0.94);
    within(share((c) => c.provider === 'other'), 0.06, 0.1);
    for (const variant of ['Navixy', ' NAVIXY ']) expect(cs.some((c) => c.provider === variant), variant).toBe(true);
    within(share((c) => customerState(c) === 'active'), 0.88, 0.92);
    expect(cs.some((c) => c.state === 'ACTIVE')).toBe(true);
    within(share((c) => c.state === 'suspended'), 0.04, 0.06);
    within(share((c) => c.state === 'removed'), 0.02, 0.04);
    within(share((c) => c.state === 'paused'), 0.005, 0.015);
    within(share((c) => c.state === null), 0.005, 0.015);
    within(share((c) => (c.hash ?? '').trim() !== ''), 0.97, 0.99);
    expect(cs.some((c) => c.hash === null) && cs.some((c) => c.hash !== null && c.hash.trim() === '')).toBe(true);
    expect(cs.every((c) => c.hash === null || c.hash.trim() === '' || /^[0-9a-f]{32}$/.test(c.hash))).toBe(true);
    within(share((c) => (c.gatewayCount ?? 0) >= 1), 0.96, 0.98);
    expect(cs.some((c) => c.gatewayCount === 0) && cs.some((c) => c.gatewayCount === null)).toBe(true);
    within(g.eligible / N, 0.75, 0.82);
    // A few inactive connections, never in anyone's count.
    const inactive = g.section.connections.filter((c) => c.status === 'disconnected' || c.status === 'failed');
    within(inactive.length / N, 0.003, 0.012);
    expect(new Set(inactive.map((c) => c.status))).toEqual(new Set(['disconnected', 'failed']));
  });

  it('references cust-000001.., every 997th awkward (a space, # and /); ids unique and in createdAt order', () => {
    const refs = g.section.customers.map((c) => c.reference);
    expect(refs[0]).toBe('cust-000001');
    expect(refs[N - 1]).toBe('cust-020000');
    expect(new Set(refs).size).toBe(N);
    const awkward = refs.filter((r) => !/^cust-\d{6}$/.test(r));
    expect(awkward).toHaveLength(Math.floor(N / AWKWARD_EVERY));
    expect(awkward[0]).toBe('cust 000997#eu/north');
    expect(awkward.slice(0, 3)).toEqual(['cust 000997#eu/north', 'cust 001994#us/east 100%', 'cust 002991#zürich/süd']);
    for (const r of awkward) expect(r).toMatch(/^cust \d{6}#.*\/.*/);
    const ids = g.section.connections.map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual([...ids].sort());
    const dates = g.section.connections.map((c) => c.createdAt);
    expect(dates).toEqual([...dates].sort());
  });

  it('is deterministic; the seed changes it; drift changes only the connections', () => {
    const again = generateForwarder({ customers: N, drift: 2 });
    expect(digest(again)).toBe(digest(g));
    expect(digest(generateForwarder({ customers: N, drift: 2 }, 2))).not.toBe(digest(g));
    const more = generateForwarder({ customers: N, drift: 8 });
    expect(digest(more.section.customers)).toBe(digest(g.section.customers));
    expect(more.drift.missing).toHaveLength(400);
    const none = generateForwarder({ customers: N, drift: 0 });
    expect(Object.values(none.drift).flat()).toEqual([]);
    expect(none.active).toBe(none.eligible);
    expect(recompute(none).inStep).toBe(none.eligible);
    // A remainder goes to the first kinds: 1% of 1,000 is 10 = 3 + 3 + 2 + 2.
    const small = generateForwarder({ customers: 1000, drift: 1 });
    expect([small.drift.missing, small.drift.ineligibleConnected, small.drift.rotated, small.drift.duplicate].map((a) => a.length)).toEqual([3, 3, 2, 2]);
    expect(generateForwarder({ customers: 0 })).toEqual({ section: { customers: [], connections: [] }, drift: { missing: [], ineligibleConnected: [], rotated: [], duplicate: [] }, eligible: 0, active: 0 });
  });
});

describe('the emulator serving 50,000 generated customers', () => {
  let emu: ForwarderEmulator | undefined;
  afterEach(async () => {
    await emu?.close();
    emu = undefined;
  });

  it('lists them in 50-odd pages of 1000 and reads by reference well within the bench\'s budget', async () => {
    const g = generateForwarder({ customers: 50_000, drift: 1 });
    emu = await startForwarderEmulator({ fixture: g.section });
    const api = forwarderApi(emu.env());
    await api.list({ limit: 1000 }); // warm-up: the first request pays for the JIT, not the listing
    const t0 = performance.now();
    const { connections, pages } = await api.listAll(1000);
    const listing = performance.now() - t0;
    expect(connections).toHaveLength(g.section.connections.length);
    expect(pages).toBe(Math.ceil(g.section.connections.length / 1000));
    expect(connections.map((c) => c.id)).toEqual(g.section.connections.map((c) => c.id));
    // Client and server share this process and its core: the emulator's own share is a fraction of it.
    expect(listing, `listing took ${Math.round(listing)} ms`).toBeLessThan(1500);
    const t1 = performance.now();
    for (const ref of g.drift.duplicate.slice(0, 100)) expect((await api.read(ref)).body.connections.length).toBeGreaterThanOrEqual(2);
    expect(performance.now() - t1, '100 reads').toBeLessThan(1000);
    expect((await api.stats()).state).toMatchObject({ connections: g.section.connections.length, active: g.active });
  });
});

describe.each(BACKENDS)('seedCustomers on %s', (backend) => {
  let db: TestDatabase;
  afterEach(async () => {
    await db?.drop();
  });

  it('replaces the customers table with the customers as they are (padding, case, NULLs, awkward references)', async () => {
    db = await createTestDatabase(backend);
    const knex = db.knex();
    await migrateLatest(knex);
    await knex('customers').insert({ reference: 'stale', name: null, provider: 'navixy', state: 'active', navixy_hash: 'x', gateway_count: 1 });
    const g = generateForwarder({ customers: 2500, drift: 4 });
    expect(await seedCustomers(knex, g.section.customers)).toBe(2500);
    const rows = await knex('customers').select('reference', 'name', 'provider', 'state', 'navixy_hash', 'gateway_count').orderBy('reference');
    const back = rows.map((r: Record<string, unknown>) => ({
      reference: r['reference'],
      name: r['name'],
      provider: r['provider'],
      state: r['state'],
      hash: r['navixy_hash'],
      gatewayCount: r['gateway_count'] === null ? null : Number(r['gateway_count']),
    }));
    const byRef = (a: { reference: unknown }, b: { reference: unknown }) => (String(a.reference) < String(b.reference) ? -1 : 1);
    expect(back.sort(byRef)).toEqual([...g.section.customers].sort(byRef));
    expect(back.some((c) => c.reference === 'cust 001994#us/east 100%')).toBe(true);
    // Seeding again replaces, it does not add.
    await seedCustomers(knex, g.section.customers.slice(0, 10));
    expect(Number((await knex('customers').count({ n: '*' }))[0]!['n'])).toBe(10);
    await seedCustomers(knex, []);
    expect(Number((await knex('customers').count({ n: '*' }))[0]!['n'])).toBe(0);
  });

  it('writes 50,000 customers in one transaction, well under 5 s', async () => {
    db = await createTestDatabase(backend);
    const knex = db.knex();
    await migrateLatest(knex);
    const { customers } = generateForwarder({ customers: 50_000 }).section;
    const t0 = performance.now();
    await seedCustomers(knex, customers);
    const took = performance.now() - t0;
    expect(Number((await knex('customers').count({ n: '*' }))[0]!['n'])).toBe(50_000);
    expect(took, `seeding took ${Math.round(took)} ms`).toBeLessThan(backend === 'sqlite' ? 2500 : 5000);
  });

  it('all or none: a row the table refuses leaves the previous rows in place', async () => {
    db = await createTestDatabase(backend);
    const knex = db.knex();
    await migrateLatest(knex);
    await seedCustomers(knex, generateForwarder({ customers: 5 }).section.customers);
    const twice = generateForwarder({ customers: 1500 }).section.customers;
    // A repeated reference breaks the primary key: the delete before the insert is undone too.
    await expect(seedCustomers(knex, [...twice, twice[0]!])).rejects.toThrow();
    expect((await knex('customers').pluck('reference')).sort()).toEqual(['cust-000001', 'cust-000002', 'cust-000003', 'cust-000004', 'cust-000005']);
  });
});
