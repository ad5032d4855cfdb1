/**
 * `navixy-customers` end to end: the built CLI as its own process, the portal database (and, where
 * said, a separate customer database) on SQLite and PostgreSQL, the emulated Navixy forwarding
 * service over loopback.
 *
 * What is checked after each pass is the service's own state, against a target computed here from
 * the customers written (not by the planner): the active connections are exactly the eligible
 * customers on their current hash, overridden customers' connections as they were, inactive ones
 * untouched; and the service's request counters: the listing pages, one request per action and one
 * read-back per action that the service accepted. Every case also checks, after it ran, that no hash
 * and no token reached stdout, stderr, sync_runs or sync_events.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Knex } from 'knex';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrateLatest } from '../../src/store/migrate.js';
import { BACKENDS, createTestDatabase, type BackendName, type TestDatabase } from '../support/backends.js';
import { parseJson, runCli, type CliResult } from '../support/cli.js';
import { startTestForwarder, type Connection, type TestForwarder } from '../support/forwarder.js';
import { gatewaySample } from '../support/gateway.js';
import { requireOrSkip, startPushgateway } from '../support/services.js';

const TOKEN = 'fwd-e2e-token-NEVER-PRINT-5b7d0c';
const WRONG_TOKEN = 'fwd-e2e-wrong-token-NEVER-PRINT-91aa';
const sha = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

/** Every hash handed out, by its digest: recognisable (`HASH-SECRET-`), so a leak is found by grep. */
const RAW_OF = new Map<string, string>();
function secret(label: string): string {
  const raw = `navixy-HASH-SECRET-${label}-${Math.random().toString(36).slice(2, 10)}`;
  RAW_OF.set(sha(raw), raw);
  return raw;
}
const SECRETS = () => [TOKEN, WRONG_TOKEN, ...RAW_OF.values()];

interface Customer {
  reference: string;
  provider: string | null;
  state: string | null;
  hash: string | null;
  gateways: number | null;
}
type Mode = 'force-on' | 'force-off';
interface Override {
  ref: string;
  mode: Mode;
  reason?: string;
}

/** A customer; eligible unless told otherwise, with a hash of its own. */
function customer(reference: string, fields: Partial<Omit<Customer, 'reference'>> = {}): Customer {
  return { reference, provider: 'navixy', state: 'active', hash: secret(reference), gateways: 3, ...fields };
}

/** A fixture connection (the service keeps the hash's digest only). */
function connection(id: string, of: Customer | string, fields: { hash?: string; status?: Connection['status']; createdAt?: string } = {}) {
  const ref = typeof of === 'string' ? of : of.reference;
  const hash = fields.hash ?? (typeof of === 'string' ? secret(`${ref}-conn`) : of.hash!.trim());
  if (!RAW_OF.has(sha(hash))) RAW_OF.set(sha(hash), hash);
  return { id, customerRef: ref, hash, status: fields.status ?? 'connected', createdAt: fields.createdAt ?? '2026-01-01T00:00:00.000Z' };
}
type FixtureConnection = ReturnType<typeof connection>;

const isActive = (c: Pick<Connection, 'status'>) => c.status === 'connected' || c.status === 'pending';
const norm = (text: string | null) => (text ?? '').trim().toLowerCase();

/**
 * The target, from the customers alone: each eligible customer (Navixy, active, a non-blank hash, a
 * gateway, no override, its hash not shared with another such customer) on its current hash.
 */
function targetOf(customers: readonly Customer[], overrides: readonly Override[]): string[] {
  const overridden = new Set(overrides.map((o) => o.ref));
  const eligible = customers.filter(
    (c) => !overridden.has(c.reference) && norm(c.provider) === 'navixy' && norm(c.state) === 'active' && (c.hash ?? '').trim() !== '' && (c.gateways ?? 0) >= 1,
  );
  const holders = new Map<string, number>();
  for (const c of eligible) holders.set(c.hash!.trim(), (holders.get(c.hash!.trim()) ?? 0) + 1);
  return eligible
    .filter((c) => holders.get(c.hash!.trim()) === 1)
    .map((c) => `${c.reference} | ${sha(c.hash!.trim())}`)
    .sort();
}

interface Requests {
  list: number;
  read: number;
  establish: number;
  close: number;
}

async function createTable(knex: Knex, columns: 'customers' | 'view'): Promise<void> {
  if (columns === 'customers') {
    await knex.schema.createTable('customers', (t) => {
      t.string('reference', 255).primary();
      t.text('name');
      t.string('provider', 64);
      t.string('state', 64);
      t.text('navixy_hash');
      t.integer('gateway_count');
    });
    return;
  }
  // A CRM of its own, seen through a view of the documented name and columns.
  await knex.schema.createTable('crm_accounts', (t) => {
    t.string('account_ref', 255).primary();
    t.string('vendor', 64);
    t.string('lifecycle', 64);
    t.text('tracker_secret');
    t.integer('trackers');
  });
  await knex.raw(
    'CREATE VIEW customers AS SELECT account_ref AS reference, vendor AS provider, lifecycle AS state, tracker_secret AS navixy_hash, trackers AS gateway_count FROM crm_accounts',
  );
}

const customerRow = (c: Customer) => ({ reference: c.reference, name: `Customer ${c.reference}`, provider: c.provider, state: c.state, navixy_hash: c.hash, gateway_count: c.gateways });

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe.each(BACKENDS)('navixy-customers end to end on %s', (backend: BackendName) => {
  let db: TestDatabase;
  let fwd: TestForwarder | null;
  let lockDir: string;
  let outputs: CliResult[];
  let customers: Customer[];
  let overrides: Override[];
  const cleanups: Array<() => Promise<void>> = [];

  beforeEach(async () => {
    db = await createTestDatabase(backend);
    await migrateLatest(db.knex());
    lockDir = mkdtempSync(join(tmpdir(), 'portal-sync-navixy-locks-'));
    fwd = null;
    outputs = [];
    customers = [];
    overrides = [];
  });

  afterEach(async () => {
    try {
      // Secrets: no hash and no token in any output of the case, nor in the run log.
      const runs = await db.knex()('sync_runs').select();
      const events = await db.knex()('sync_events').select();
      const seen = [...outputs.map((o) => `${o.stdout}\n${o.stderr}`), JSON.stringify(runs), JSON.stringify(events)].join('\n');
      for (const s of SECRETS()) expect(seen.includes(s), `a secret (${s.slice(0, 24)}...) was printed or recorded`).toBe(false);
      expect(seen).not.toMatch(/HASH-SECRET/);
    } finally {
      await fwd?.close();
      for (const cleanup of cleanups.splice(0)) await cleanup();
      await db.drop();
      rmSync(lockDir, { recursive: true, force: true });
    }
  });

  const writeCustomers = async (rows: Customer[], knex: Knex = db.knex()) => {
    customers = rows;
    await knex('customers').delete();
    await knex.batchInsert('customers', rows.map(customerRow), 200);
  };
  const writeOverrides = async (rows: Override[]) => {
    overrides = rows;
    await db.knex()('navixy_overrides').insert(rows.map((o) => ({ customer_reference: o.ref, mode: o.mode, reason: o.reason ?? null })));
  };
  const startForwarder = async (connections: FixtureConnection[], faults: unknown[] = []) => {
    fwd = await startTestForwarder({ token: TOKEN, connections, faults });
  };
  const service = () => fwd!.emulator;
  /** Rewrites the fixture with the service's present state and these faults (a reload replaces the state). */
  const setFaults = (faults: unknown[]) => {
    const connections = service()
      .connections()
      .map((c) => {
        const hash = RAW_OF.get(c.hashSha256);
        if (hash === undefined) throw new Error(`connection ${c.id} has a hash this test did not hand out`);
        return { id: c.id, customerRef: c.customerRef, hash, status: c.status, createdAt: c.createdAt };
      });
    fwd!.write({ token: TOKEN, connections, faults });
    expect(service().connections().length).toBe(connections.length);
  };

  const navixy = async (args: string[] = [], env: Record<string, string> = fwd!.env()): Promise<CliResult> => {
    const result = await runCli(['navixy-customers', '--db', db.url, '--lock-dir', lockDir, ...args], env);
    outputs.push(result);
    return result;
  };
  /** A pass with --json, the counters reset first. */
  const pass = async (...args: string[]) => {
    service().resetStats();
    const result = await navixy(['--json', ...args]);
    return { result, doc: parseJson(result) };
  };
  const history = async (ref: string) => {
    const result = await runCli(['history', '--db', db.url, '--ref', ref, '--limit', '1000', '--json'], {});
    outputs.push(result);
    expect(result.code, result.stderr).toBe(0);
    return parseJson(result).events as Array<{ runId: number; level: string; type: string; ref: string; message: string }>;
  };

  const active = () => service().connections().filter(isActive);
  /** The service's active connections as `ref | digest`, overridden customers' left out (checked by id). */
  const activeState = () => {
    const overridden = new Set(overrides.map((o) => o.ref));
    return active()
      .filter((c) => !overridden.has(c.customerRef))
      .map((c) => `${c.customerRef} | ${c.hashSha256}`)
      .sort();
  };
  const expectOnTarget = () => expect(activeState()).toEqual(targetOf(customers, overrides));
  const requests = (): Requests => service().stats().requests;
  const expectRequests = (expected: Partial<Requests>) => expect(requests()).toEqual({ list: 1, read: 0, establish: 0, close: 0, ...expected });
  /** One request per action and one read-back per action the service took: no failure on the way. */
  const cleanRequests = (establishes: number, closes: number, pages = 1) => expectRequests({ list: pages, establish: establishes, close: closes, read: establishes + closes });
  /** Connections that were inactive: still there, with the same status. */
  const inactiveOf = (connections: readonly Connection[]) => connections.filter((c) => !isActive(c)).map((c) => `${c.id} ${c.customerRef} ${c.status}`);
  const expectInactiveKept = (before: readonly Connection[]) => {
    const now = new Set(service().connections().map((c) => `${c.id} ${c.customerRef} ${c.status}`));
    for (const line of inactiveOf(before)) expect(now.has(line), line).toBe(true);
  };
  const actionLines = (doc: Record<string, any>) => (doc.lines as Array<{ kind: string }>).filter((l) => l.kind === 'establish' || l.kind === 'close');
  const brief = (l: { kind: string; ref: string; connectionId?: string; reason?: string | null; mode?: string }) =>
    [l.kind, l.ref, l.connectionId ?? '', l.kind === 'override' ? `${l.mode}${l.reason ? `: ${l.reason}` : ''}` : (l.reason ?? l.mode ?? '')].join(' | ');
  const runRows = async () => (await db.knex()('sync_runs').orderBy('id').select('id', 'status', 'exit_code', 'dry_run', 'error')) as Array<{ id: number; status: string; exit_code: number; error: string | null }>;

  // ---------------------------------------------------------------------------------------------
  // 1, 2, 12: every rule in one mixed fleet
  // ---------------------------------------------------------------------------------------------

  const FINE = Array.from({ length: 10 }, (_, i) => `fine-${String(i).padStart(2, '0')}`);

  /** Every rule at once; 19 active connections of which 8 are to close (under the guard's half). */
  const mixedFleet = async () => {
    const dup = secret('shared');
    const c = {
      fine: FINE.map((r) => customer(r)),
      missing: customer('missing'),
      suspended: customer('suspended', { state: 'suspended' }),
      removed: customer('removed', { state: ' REMOVED ' }),
      other: customer('other', { provider: 'teltonika' }),
      rotated: customer('rotated'),
      duplicate: customer('duplicate'),
      noHash: customer('no-hash', { hash: '   ' }),
      noHashConn: customer('no-hash-conn', { hash: null }),
      noGateway: customer('no-gateway', { gateways: 0 }),
      nullGateway: customer('null-gateway', { gateways: null }),
      dupHash1: customer('dup-hash-1', { hash: dup }),
      dupHash2: customer('dup-hash-2', { hash: ` ${dup} ` }),
      paused: customer('paused', { state: 'paused' }),
      nullState: customer('null-state', { state: null }),
      shouty: customer('shouty', { provider: ' NAVIXY ', state: 'Active ' }),
      disconnected: customer('disconnected'),
      failedSusp: customer('failed-susp', { state: 'suspended' }),
    };
    await writeCustomers([...c.fine, ...Object.values(c).filter((v): v is Customer => !Array.isArray(v))]);
    await startForwarder([
      ...c.fine.map((f) => connection(`k-${f.reference}`, f)),
      connection('k-suspended', c.suspended),
      connection('k-removed', c.removed),
      connection('k-gone', 'gone'),
      connection('k-gone-failed', 'gone-too', { status: 'failed' }),
      connection('k-other', c.other),
      connection('k-rotated', c.rotated, { hash: secret('rotated-earlier') }),
      connection('k-dup-a', c.duplicate, { createdAt: '2026-03-01T00:00:00.000Z' }),
      // pending and older: the connected one is kept all the same
      connection('k-dup-b', c.duplicate, { status: 'pending', createdAt: '2025-06-01T00:00:00.000Z' }),
      connection('k-no-hash-conn', c.noHashConn, { hash: secret('no-hash-earlier') }),
      connection('k-paused', c.paused),
      connection('k-disconnected', c.disconnected, { status: 'disconnected' }),
      connection('k-failed-susp', c.failedSusp, { status: 'failed' }),
    ]);
  };
  const EARLIER = 'its connection has an earlier hash';
  const NEW = 'eligible, without a connection';
  const DUP = 'duplicate hash: another eligible customer has the same Navixy hash';
  /** The plan of the mixed fleet: closes, then establishes, then skips, each by reference. */
  const MIXED_LINES = [
    'close | duplicate | k-dup-b | duplicate',
    'close | gone | k-gone | unknown customer',
    'close | no-hash-conn | k-no-hash-conn | no hash',
    'close | other | k-other | other provider',
    'close | paused | k-paused | unknown state',
    'close | removed | k-removed | removed',
    'close | rotated | k-rotated | rotated hash',
    'close | suspended | k-suspended | suspended',
    `establish | disconnected |  | ${NEW}`,
    `establish | missing |  | ${NEW}`,
    `establish | rotated |  | ${EARLIER}`,
    `establish | shouty |  | ${NEW}`,
    `skip | dup-hash-1 |  | ${DUP}`,
    `skip | dup-hash-2 |  | ${DUP}`,
    'skip | no-gateway |  | no gateway',
    'skip | no-hash |  | no hash',
    'skip | no-hash-conn |  | no hash',
    'skip | null-gateway |  | no gateway',
    'skip | null-state |  | unknown state',
    'skip | paused |  | unknown state',
  ];

  it('1. applies every rule to a mixed fleet, verifies, and a second pass has nothing to do', async () => {
    await mixedFleet();
    const before = service().connections();
    const { result, doc } = await pass('--detailed-exitcode');
    expect(result.code, result.stderr).toBe(2);
    expect(doc.status).toBe('ok');
    expect(doc.lines.map(brief)).toEqual(MIXED_LINES);
    expect(actionLines(doc).map((l: any) => l.outcome.status)).toEqual(Array(12).fill('done'));
    expect(doc.counts).toEqual({ eligible: 17, connections: 19, missing: 6, extra: 8, suspendedWithConnection: 2, skipped: 8, inStep: 11, overridden: 0 });
    expectOnTarget();
    expectInactiveKept(before);
    // the duplicate kept is the connected one; the pending one is gone
    expect(active().filter((c) => c.customerRef === 'duplicate').map((c) => c.id)).toEqual(['k-dup-a']);
    cleanRequests(4, 8);

    // The duplicate hash stays out of step: validation fails, and says why.
    expect(doc.validation.ok).toBe(false);
    expect(doc.validation.consecutiveDiscrepantPasses).toBe(1);
    expect(doc.validation.problems).toEqual([
      '15 active connections for 17 eligible customers',
      `dup-hash-1: eligible, without a connection (${DUP})`,
      `dup-hash-2: eligible, without a connection (${DUP})`,
    ]);
    expect(result.stderr).toMatch(/validation failed \(1 pass in a row\)/);

    const second = await pass('--detailed-exitcode');
    expect(second.result.code, second.result.stderr).toBe(0);
    expect(actionLines(second.doc)).toEqual([]);
    expect(second.doc.counts).toMatchObject({ eligible: 17, connections: 15, missing: 2, extra: 0, suspendedWithConnection: 0, skipped: 8, inStep: 15 });
    expect(second.doc.validation).toMatchObject({ ok: false, consecutiveDiscrepantPasses: 2 });
    expectOnTarget();
    expectRequests({ list: 1 });
    expect((await runRows()).map((r) => [r.status, r.exit_code])).toEqual([
      ['ok', 2],
      ['ok', 0],
    ]);
  });

  it('12. history --ref tells a customer\'s story: the discrepancy, the action and its outcome', async () => {
    await mixedFleet();
    const { result } = await pass();
    expect(result.code, result.stderr).toBe(0);
    const rotated = await history('rotated');
    const established = active().find((c) => c.customerRef === 'rotated')!;
    expect(rotated.map((e) => `${e.level} ${e.type}: ${e.message}`).sort()).toEqual(
      [
        'warn discrepancy: extra connection k-rotated (rotated hash): opened with an earlier hash of the customer',
        `warn discrepancy: missing connection: ${EARLIER}`,
        'info action: close k-rotated: closed',
        `info action: establish: established ${established.id} (connected)`,
      ].sort(),
    );
    expect(new Set(rotated.map((e) => e.ref))).toEqual(new Set(['rotated']));
    const skipped = await history('dup-hash-2');
    expect(skipped.map((e) => `${e.type}: ${e.message}`)).toEqual([`skip: ${DUP}`]);
    const gone = await history('gone');
    expect(gone.map((e) => `${e.type}: ${e.message}`).sort()).toEqual(['action: close k-gone: closed', 'discrepancy: extra connection k-gone (unknown customer): no customer gone in the customer database']);
  });

  it('2. --dry-run lists every line and changes nothing: no write, no read-back, no run recorded', async () => {
    await mixedFleet();
    const before = service().connections();
    const { result, doc } = await pass('--dry-run', '--detailed-exitcode');
    expect(result.code, result.stderr).toBe(2);
    expect(doc).toMatchObject({ status: 'ok', dryRun: true, runId: null, validation: null });
    expect(doc.lines.map(brief)).toEqual(MIXED_LINES);
    for (const line of actionLines(doc)) expect(line).toMatchObject({ outcome: { status: 'skipped', reason: 'dry run' } });
    expect(service().connections()).toEqual(before);
    expectRequests({ list: 1 });
    expect(await runRows()).toEqual([]);
    expect(await db.knex()('sync_events').select()).toEqual([]);

    // without --detailed-exitcode a dry run with changes exits 0, and the table says it is one
    const table = await navixy(['--dry-run']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^navixy-customers \(dry run\): 27 customers, 17 eligible, 11 in step; 19 active connections: 6 missing, 8 extra/);
    expect(service().connections()).toEqual(before);
  });

  // ---------------------------------------------------------------------------------------------
  // 3: overrides
  // ---------------------------------------------------------------------------------------------

  it('3. an override wins over the rules and stays out of the counts; a stale one is reported and its connection closed', async () => {
    const c = {
      onSusp: customer('on-susp', { state: 'suspended' }),
      offEligible: customer('off-eligible'),
      offConnected: customer('off-connected'),
      plain: customer('plain'),
      fresh: customer('fresh'),
    };
    await writeCustomers(Object.values(c));
    await writeOverrides([
      { ref: 'on-susp', mode: 'force-on', reason: 'billing dispute, keep it on' },
      { ref: 'off-eligible', mode: 'force-off' },
      { ref: 'off-connected', mode: 'force-off', reason: 'left as it is' },
      { ref: 'stale', mode: 'force-on', reason: 'customer since deleted' },
    ]);
    await startForwarder([
      connection('k-on-susp', c.onSusp),
      // a force-off customer's connection, on an earlier hash at that: left alone
      connection('k-off-connected', c.offConnected, { hash: secret('off-earlier') }),
      connection('k-plain', c.plain),
      connection('k-stale', 'stale'),
    ]);
    const { result, doc } = await pass();
    expect(result.code, result.stderr).toBe(0);
    expect(doc.lines.map(brief)).toEqual([
      'close | stale | k-stale | unknown customer',
      `establish | fresh |  | ${NEW}`,
      'override | off-connected |  | force-off: left as it is',
      'override | off-eligible |  | force-off',
      'override | on-susp |  | force-on: billing dispute, keep it on',
      'stale-override | stale |  | force-on',
    ]);
    expect(doc.lines.find((l: any) => l.kind === 'close').detail).toMatch(/its override is stale/);
    expect(doc.counts).toEqual({ eligible: 2, connections: 2, missing: 1, extra: 1, suspendedWithConnection: 0, skipped: 0, inStep: 1, overridden: 3 });
    expect(doc.validation).toMatchObject({ ok: true, counts: { eligible: 2, connections: 2, overridden: 3 } });
    expectOnTarget();
    // the overridden customers' connections, as they were
    const overridden = service()
      .connections()
      .filter((x) => ['on-susp', 'off-eligible', 'off-connected'].includes(x.customerRef))
      .map((x) => `${x.id} ${x.customerRef} ${x.status}`);
    expect(overridden.sort()).toEqual(['k-off-connected off-connected connected', 'k-on-susp on-susp connected']);
    cleanRequests(1, 1);
    const stale = await history('stale');
    expect(stale.map((e) => e.type).sort()).toEqual(['action', 'discrepancy', 'override']);
    expect(stale.find((e) => e.type === 'override')!.message).toMatch(/^stale force-on override: no such customer/);
    expect((await history('on-susp')).map((e) => `${e.type}: ${e.message}`)).toEqual(['override: left alone: force-on override (billing dispute, keep it on)']);
  });

  // ---------------------------------------------------------------------------------------------
  // 4, 5, 6: failing actions
  // ---------------------------------------------------------------------------------------------

  it('4. a failing establish: the others are done, exit 3, recorded; the next pass establishes it', async () => {
    const c = [customer('e-bad'), customer('e-good-1'), customer('e-good-2'), customer('s-susp', { state: 'suspended' })];
    await writeCustomers(c);
    await startForwarder([connection('k-s-susp', c[3]!)], [{ operation: 'establish', kind: 'error', customerRef: 'e-bad' }]);
    const { result, doc } = await pass('--detailed-exitcode');
    expect(result.code, result.stderr).toBe(3);
    expect(doc.status).toBe('partial');
    expect(doc.error).toBe('1 of 4 actions not done');
    const outcome = Object.fromEntries(actionLines(doc).map((l: any) => [l.ref, l.outcome]));
    expect(outcome['e-bad']).toEqual({ status: 'failed', error: expect.stringMatching(/^forwarding service: establishing customer e-bad failed: HTTP 500 internal; planned again next pass$/) });
    for (const ref of ['e-good-1', 'e-good-2', 's-susp']) expect(outcome[ref].status, ref).toBe('done');
    expect(activeState()).toEqual(targetOf(customers, []).filter((t) => !t.startsWith('e-bad ')));
    // one establish each, no retry of the failed one at once; no read-back of what was refused
    expectRequests({ list: 1, establish: 3, close: 1, read: 3 });
    expect(doc.validation).toMatchObject({ ok: false, consecutiveDiscrepantPasses: 1, problems: ['2 active connections for 3 eligible customers', 'e-bad: eligible, without a connection on its current hash'] });

    const story = await history('e-bad');
    expect(story.map((e) => `${e.level} ${e.type}: ${e.message}`).sort()).toEqual([
      'error action: establish failed: forwarding service: establishing customer e-bad failed: HTTP 500 internal; planned again next pass',
      `warn discrepancy: missing connection: ${NEW}`,
    ]);
    expect((await runRows()).map((r) => [r.status, r.exit_code, r.error])).toEqual([['partial', 3, '1 of 4 actions not done']]);

    setFaults([]);
    const next = await pass();
    expect(next.result.code, next.result.stderr).toBe(0);
    expect(next.doc.lines.map(brief)).toEqual([`establish | e-bad |  | ${NEW}`]);
    expect(next.doc.validation).toMatchObject({ ok: true, consecutiveDiscrepantPasses: 0 });
    expectOnTarget();
    cleanRequests(1, 0);
  });

  it('5a. a close that fails once is retried at once and done: exit 0', async () => {
    const c = [customer('r-once', { state: 'suspended' }), customer('r-ok')];
    await writeCustomers(c);
    await startForwarder([connection('k-r-once', c[0]!), connection('k-r-ok', c[1]!)], [{ operation: 'close', kind: 'error', status: 503, customerRef: 'r-once', times: 1 }]);
    const { result, doc } = await pass('--detailed-exitcode');
    expect(result.code, result.stderr).toBe(2);
    expect(actionLines(doc)).toEqual([
      {
        kind: 'close',
        ref: 'r-once',
        connectionId: 'k-r-once',
        reason: 'suspended',
        detail: 'not eligible: suspended',
        outcome: { status: 'done', message: expect.stringMatching(/^closed, at the second attempt \(the first: .*HTTP 503 unavailable\)$/) },
      },
    ]);
    expectOnTarget();
    expectRequests({ list: 1, close: 2, read: 1 });
    expect(doc.validation).toMatchObject({ ok: true, consecutiveDiscrepantPasses: 0 });
  });

  it('5b. a close that always fails: tried twice, the others go on, exit 3, recorded', async () => {
    const c = [customer('r-always', { state: 'removed' }), customer('r-fine', { state: 'suspended' }), customer('r-new')];
    await writeCustomers(c);
    await startForwarder([connection('k-r-always', c[0]!), connection('k-r-fine', c[1]!)], [{ operation: 'close', kind: 'error', customerRef: 'r-always' }]);
    const { result, doc } = await pass();
    expect(result.code, result.stderr).toBe(3);
    const outcome = Object.fromEntries(actionLines(doc).map((l: any) => [l.ref, l.outcome]));
    expect(outcome['r-always']).toEqual({ status: 'failed', error: expect.stringMatching(/HTTP 500 internal \(retried once after: .*HTTP 500 internal\)$/) });
    expect(outcome['r-fine']).toEqual({ status: 'done', message: 'closed' });
    expect(outcome['r-new'].status).toBe('done');
    expect(active().map((x) => x.id)).toContain('k-r-always');
    expectRequests({ list: 1, close: 3, establish: 1, read: 2 });
    expect(doc.validation).toMatchObject({ ok: false, counts: { suspendedWithConnection: 1, extra: 1 } });
    const events = (await db.knex()('sync_events').where({ ref: 'r-always' }).select('level', 'type', 'message')) as Array<{ level: string; type: string; message: string }>;
    expect(events.map((e) => `${e.level} ${e.type}`).sort()).toEqual(['error action', 'warn discrepancy']);
    expect(events.find((e) => e.type === 'action')!.message).toMatch(/^close k-r-always failed: .*retried once/);
    expect((await runRows()).map((r) => [r.status, r.exit_code])).toEqual([['partial', 3]]);
  });

  it('6. an ineffective establish and close are caught by the read-back; the discrepancy is counted pass after pass, then cleared', async () => {
    const c = [customer('i-new'), customer('i-susp', { state: 'suspended' }), customer('i-ok')];
    await writeCustomers(c);
    const faults = [
      { operation: 'establish', kind: 'ineffective', customerRef: 'i-new' },
      { operation: 'close', kind: 'ineffective', customerRef: 'i-susp' },
    ];
    await startForwarder([connection('k-i-susp', c[1]!), connection('k-i-ok', c[2]!)], faults);

    for (const n of [1, 2]) {
      const { result, doc } = await pass();
      expect(result.code, `pass ${n}: ${result.stderr}`).toBe(3);
      const outcome = Object.fromEntries(actionLines(doc).map((l: any) => [l.ref, l.outcome]));
      expect(outcome['i-new']).toEqual({ status: 'failed', error: expect.stringMatching(/answered connection conn-\d+ \(connected\), yet the customer has no active connection on its current hash/) });
      expect(outcome['i-susp']).toEqual({ status: 'failed', error: expect.stringMatching(/yet connection k-i-susp is still connected/) });
      expect(doc.validation.ok).toBe(false);
      expect(doc.validation.consecutiveDiscrepantPasses).toBe(n);
      expect(doc.validation.problems.join('\n')).toMatch(/i-new: eligible, without a connection/);
      expect(doc.validation.problems.join('\n')).toMatch(/i-susp: connection k-i-susp should not be active \(suspended\)/);
      // one establish and its read-back; two closes, each read back
      expectRequests({ list: 1, establish: 1, close: 2, read: 3 });
      expect(service().connections().filter((x) => x.customerRef === 'i-new').map((x) => x.status)).toEqual(Array(n).fill('failed'));
    }

    const before = service().connections();
    setFaults([]);
    const { result, doc } = await pass();
    expect(result.code, result.stderr).toBe(0);
    expect(doc.validation).toMatchObject({ ok: true, consecutiveDiscrepantPasses: 0 });
    expectOnTarget();
    expectInactiveKept(before);
    cleanRequests(1, 1);
  });

  // ---------------------------------------------------------------------------------------------
  // 7, 8: what cannot be read
  // ---------------------------------------------------------------------------------------------

  it('7a. the forwarding service unreachable: exit 69, nothing done, the message names the URL', async () => {
    await writeCustomers([customer('u-1'), customer('u-2', { state: 'suspended' })]);
    const url = `http://127.0.0.1:${await closedPort()}`;
    const result = await navixy(['--max-retries', '1'], { NAVIXY_FORWARDER_URL: url, NAVIXY_FORWARDER_TOKEN: TOKEN });
    expect(result.code, result.stderr).toBe(69);
    expect(result.stderr).toContain(url);
    expect(result.stderr).toMatch(/unreachable.*nothing was changed/);
    expect((await runRows()).map((r) => [r.status, r.exit_code])).toEqual([['failed', 69]]);
    expect(await db.knex()('sync_events').whereIn('type', ['action', 'discrepancy']).select()).toEqual([]);
  });

  it('7b. a wrong token: exit 78, no write, neither token printed', async () => {
    await writeCustomers([customer('t-1')]);
    await startForwarder([]);
    service().resetStats();
    const result = await navixy([], { ...fwd!.env(), NAVIXY_FORWARDER_TOKEN: WRONG_TOKEN });
    expect(result.code, result.stderr).toBe(78);
    expect(result.stderr).toMatch(/HTTP 401.*NAVIXY_FORWARDER_TOKEN/);
    expect(service().stats()).toMatchObject({ unauthorized: 1, requests: { list: 1, read: 0, establish: 0, close: 0 } });
    const json = await navixy(['--json'], { ...fwd!.env(), NAVIXY_FORWARDER_TOKEN: WRONG_TOKEN });
    expect(parseJson(json)).toMatchObject({ status: 'failed', exitCode: 78 });
    expect(active()).toEqual([]);
  });

  it('7c. a listing page that fails: nothing changed, no write; fine once it answers (two pages)', async () => {
    // 1,001 in step + one to close + one to open: two pages of 1,000.
    const fine = Array.from({ length: 1001 }, (_, i) => customer(`p-${String(i).padStart(4, '0')}`));
    const susp = customer('p-susp', { state: 'suspended' });
    await writeCustomers([...fine, susp, customer('p-new')]);
    await startForwarder([...fine.map((f) => connection(`k-${f.reference}`, f)), connection('k-p-susp', susp)], [{ operation: 'list', kind: 'error', page: 2 }]);
    const before = service().connections();
    const { result, doc } = await pass('--max-retries', '1');
    expect(result.code, result.stderr).toBe(1);
    expect(doc).toMatchObject({ status: 'failed', exitCode: 1, counts: null, lines: [], validation: null });
    expect(doc.error).toMatch(/page 2 of the connections failed: HTTP 500 internal \(after 2 attempts\); nothing was changed/);
    expect(service().connections()).toEqual(before);
    expectRequests({ list: 3 });

    setFaults([]);
    const next = await pass();
    expect(next.result.code, next.result.stderr).toBe(0);
    expect(next.doc.lines.map(brief)).toEqual(['close | p-susp | k-p-susp | suspended', `establish | p-new |  | ${NEW}`]);
    expectOnTarget();
    cleanRequests(1, 1, 2);
  });

  it('8a. a separate customer database (--customers-db, a view of the documented columns) is the one followed', async () => {
    const other = await createTestDatabase(backend);
    cleanups.push(() => other.drop());
    await createTable(other.knex(), 'view');
    const crm = [customer('crm-1'), customer('crm-2'), customer('crm-susp', { state: 'suspended' })];
    await other.knex()('crm_accounts').insert(crm.map((c) => ({ account_ref: c.reference, vendor: c.provider, lifecycle: c.state, tracker_secret: c.hash, trackers: c.gateways })));
    // The portal's own customers table says otherwise: it is not read.
    await writeCustomers([customer('portal-only')]);
    await startForwarder([connection('k-crm-susp', crm[2]!)]);
    service().resetStats();
    const result = await navixy(['--json', '--customers-db', other.url]);
    expect(result.code, result.stderr).toBe(0);
    const doc = parseJson(result);
    expect(doc.customers).toBe(3);
    expect(doc.lines.map(brief)).toEqual(['close | crm-susp | k-crm-susp | suspended', `establish | crm-1 |  | ${NEW}`, `establish | crm-2 |  | ${NEW}`]);
    customers = crm;
    expectOnTarget();
    cleanRequests(2, 1);
    // read only: the customer database holds what it held
    expect(Number((await other.knex()('crm_accounts').count({ n: '*' }).first())!.n)).toBe(3);
  });

  it('8b. a customer database that cannot be reached or opened: nothing changed, the pass says so', async () => {
    await writeCustomers([customer('x-1')]);
    await startForwarder([]);
    const attempt = async (url: string) => {
      service().resetStats();
      const result = await navixy(['--customers-db', url]);
      expect(result.stderr, url).toMatch(/cannot read the customers from .*; nothing was changed/);
      expect(service().stats().total, `${url}: the service is not even listed`).toBe(0);
      return result.code;
    };
    if (BACKENDS.includes('postgres')) {
      // A PostgreSQL server without that database: unreachable, try again later.
      const url = new URL(backend === 'postgres' ? db.url : 'postgres://postgres@127.0.0.1:5432/test');
      url.pathname = `/portal_sync_no_such_db_${Date.now()}`;
      expect(await attempt(url.href)).toBe(69);
    }
    // A SQLite path that does not exist, its folder there or not: one answer for one condition,
    // 69 (the issue: "cannot be reached") or 78 (the project's own mapping of a path that cannot be
    // opened, as for the portal database); never 1, which says the pass itself failed.
    const missingFile = await attempt(`sqlite:${join(lockDir, 'customers.db')}`);
    const missingFolder = await attempt(`sqlite:${join(lockDir, 'no-such-folder', 'customers.db')}`);
    expect([69, 78], 'a missing SQLite file').toContain(missingFile);
    expect(missingFolder, 'a SQLite file in a missing folder: as a missing file').toBe(missingFile);
    expect(active()).toEqual([]);
  });

  it('8c. a customer database without a customers table: exit 78, nothing changed', async () => {
    const other = await createTestDatabase(backend);
    cleanups.push(() => other.drop());
    await other.knex().schema.createTable('accounts', (t) => t.string('id'));
    await writeCustomers([customer('x-1')]);
    await startForwarder([]);
    service().resetStats();
    const result = await navixy(['--customers-db', other.url]);
    expect(result.code, result.stderr).toBe(78);
    expect(result.stderr).toMatch(/has no customers table: see the README, navixy-customers; nothing was changed/);
    expect(service().stats().total).toBe(0);
    expect((await runRows()).map((r) => [r.status, r.exit_code])).toEqual([['failed', 78]]);
  });

  // ---------------------------------------------------------------------------------------------
  // 9: the mass-delete guard
  // ---------------------------------------------------------------------------------------------

  it('9. an emptied customers table facing 20 connections is refused; --allow-mass-delete closes them', async () => {
    const twenty = Array.from({ length: 20 }, (_, i) => customer(`m-${String(i).padStart(2, '0')}`));
    await writeCustomers(twenty);
    await startForwarder(twenty.map((c) => connection(`k-${c.reference}`, c)));
    expect((await pass()).result.code).toBe(0);
    expectRequests({ list: 1 });

    await writeCustomers([]);
    const before = service().connections();
    const { result, doc } = await pass();
    expect(result.code, result.stderr).toBe(1);
    expect(doc).toMatchObject({ status: 'refused', guard: { refused: true, wouldClose: 20, activeConnections: 20 } });
    expect(doc.error).toMatch(/^mass-delete guard: this pass would close 20 of 20 active connections .*--allow-mass-delete$/);
    expect(actionLines(doc).every((l: any) => l.outcome.status === 'skipped')).toBe(true);
    expect(service().connections()).toEqual(before);
    expectRequests({ list: 1 });
    expect((await runRows()).map((r) => [r.status, r.exit_code])).toEqual([
      ['ok', 0],
      ['refused', 1],
    ]);

    const allowed = await pass('--allow-mass-delete');
    expect(allowed.result.code, allowed.result.stderr).toBe(0);
    expect(active()).toEqual([]);
    expectOnTarget();
    cleanRequests(0, 20);
  });

  // ---------------------------------------------------------------------------------------------
  // 11: references that need escaping
  // ---------------------------------------------------------------------------------------------

  it('11. references with "/", "#", "%", "?" and spaces are established, read back and closed exactly', async () => {
    const c = {
      slash: customer('acme/north'),
      hashSign: customer('acme#2', { state: 'suspended' }),
      percent: customer('100% fleet'),
      encoded: customer('a%2Fb'),
      question: customer('what? now'),
      upper: customer('A'),
      padded: customer(' padded '),
      rotated: customer('x / y # z'),
    };
    await writeCustomers(Object.values(c));
    await startForwarder([
      connection('k-hash-sign', c.hashSign),
      connection('k-encoded', c.encoded),
      connection('k-a-slash-b', 'a/b'), // the decoded twin of a%2Fb: another reference, unknown
      connection('k-lower-a', 'a'),
      connection('k-unpadded', 'padded'),
      connection('k-rotated', c.rotated, { hash: secret('slashy-earlier') }),
    ]);
    const { result, doc } = await pass();
    expect(result.code, result.stderr).toBe(0);
    expect(doc.lines.map(brief)).toEqual([
      'close | a | k-lower-a | unknown customer',
      'close | a/b | k-a-slash-b | unknown customer',
      'close | acme#2 | k-hash-sign | suspended',
      'close | padded | k-unpadded | unknown customer',
      'close | x / y # z | k-rotated | rotated hash',
      `establish |  padded  |  | ${NEW}`,
      `establish | 100% fleet |  | ${NEW}`,
      `establish | A |  | ${NEW}`,
      `establish | acme/north |  | ${NEW}`,
      `establish | what? now |  | ${NEW}`,
      `establish | x / y # z |  | ${EARLIER}`,
    ]);
    expect(actionLines(doc).every((l: any) => l.outcome.status === 'done')).toBe(true);
    expectOnTarget();
    cleanRequests(6, 5);
    expect((await pass()).doc.lines).toEqual([]);
    expect((await history(' padded ')).map((e) => `${e.ref}: ${e.type}`).sort()).toEqual([' padded : action', ' padded : discrepancy']);
    const stored = async (ref: string) => ((await db.knex()('sync_events').where({ ref }).select('type')) as Array<{ type: string }>).map((e) => e.type).sort();
    for (const ref of ['a/b', '100% fleet', 'acme#2', 'what? now', 'x / y # z', 'a', 'A', 'padded']) expect(await stored(ref), ref).not.toEqual([]);
    expect(await stored('x / y # z')).toEqual(['action', 'action', 'discrepancy', 'discrepancy']);
  });

  // ---------------------------------------------------------------------------------------------
  // 13: the gauges on a real Pushgateway
  // ---------------------------------------------------------------------------------------------

  it('13. pushes the portal_sync_navixy_* gauges of the state each pass left', async (ctx) => {
    // Started here, not at the file's top: a run filtered to other cases (-t) starts none, leaks none.
    const started = await startPushgateway();
    if ('skipped' in started) {
      requireOrSkip('navixy-customers metrics against a real Pushgateway', { ok: false, reason: started.skipped });
      ctx.skip();
      return;
    }
    cleanups.push(() => started.stop());
    const gw = started.url;
    const c = [customer('g-1'), customer('g-2'), customer('g-bad'), customer('g-susp', { state: 'suspended' }), customer('g-nohash', { hash: null })];
    await writeCustomers(c);
    const faults = [
      { operation: 'establish', kind: 'error', customerRef: 'g-bad' },
      { operation: 'close', kind: 'error', customerRef: 'g-susp' },
    ];
    await startForwarder([connection('k-g-susp', c[3]!)], faults);
    const labels = { job: 'portal_sync', command: 'navixy-customers' };
    const gauges = async () => {
      const names = ['eligible_customers', 'active_connections', 'missing_connections', 'extra_connections', 'suspended_with_connection', 'skipped_customers', 'validation_ok', 'consecutive_discrepant_passes'];
      const out: Record<string, number | null> = {};
      for (const n of names) out[n] = await gatewaySample(gw, `portal_sync_navixy_${n}`, labels);
      out['failures_establish'] = await gatewaySample(gw, 'portal_sync_navixy_action_failures', { ...labels, action: 'establish' });
      out['failures_close'] = await gatewaySample(gw, 'portal_sync_navixy_action_failures', { ...labels, action: 'close' });
      return out;
    };
    const discrepant = (n: number) => ({
      eligible_customers: 3,
      active_connections: 3,
      missing_connections: 1,
      extra_connections: 1,
      suspended_with_connection: 1,
      skipped_customers: 1,
      validation_ok: 0,
      consecutive_discrepant_passes: n,
      failures_establish: 1,
      failures_close: 1,
    });
    for (const n of [1, 2]) {
      const result = await navixy(['--pushgateway', gw]);
      expect(result.code, result.stderr).toBe(3);
      expect(await gauges()).toEqual(discrepant(n));
    }
    setFaults([]);
    const result = await navixy(['--pushgateway', gw]);
    expect(result.code, result.stderr).toBe(0);
    expect(await gauges()).toEqual({ ...discrepant(0), active_connections: 3, missing_connections: 0, extra_connections: 0, suspended_with_connection: 0, validation_ok: 1, failures_establish: 0, failures_close: 0 });
    expectOnTarget();
    const scraped = await (await fetch(`${gw}/metrics`)).text();
    outputs.push({ code: 0, signal: null, stdout: scraped, stderr: '' });
  });

  it('14. acts on customers at once (--concurrency), each customer in order; one held request holds no other customer', async () => {
    const fresh = Array.from({ length: 6 }, (_, i) => customer(`new-${i}`));
    const rotated = customer('rot');
    await writeCustomers([...fresh, rotated]);
    // The service holds new-0's establish unanswered: the client gives up at --request-timeout.
    const held = [{ operation: 'establish', kind: 'timeout', customerRef: 'new-0' }];
    await startForwarder([connection('k-rot', rotated, { hash: secret('rot-earlier') })], held);

    const { result, doc } = await pass('--request-timeout', '1s');
    expect(result.code, result.stderr).toBe(3);
    const outcome = (ref: string, kind: string) => doc.lines.find((l: any) => l.ref === ref && l.kind === kind).outcome.status;
    expect(outcome('new-0', 'establish')).toBe('failed');
    for (const ref of ['new-1', 'new-2', 'new-3', 'new-4', 'new-5']) expect(outcome(ref, 'establish'), ref).toBe('done');
    // rot: its close, then (after every close) its establish on the current hash.
    expect([outcome('rot', 'close'), outcome('rot', 'establish')]).toEqual(['done', 'done']);
    expect(service().stats().maxInFlight).toBeGreaterThan(1);
    expect(service().stats().maxInFlight).toBeLessThanOrEqual(4);
    expect(activeState()).toEqual(targetOf(customers, overrides).filter((line) => !line.startsWith('new-0 ')));

    // One customer at a time: the same outcome for the customer still missing, one request in flight.
    setFaults(held);
    const serial = await pass('--request-timeout', '1s', '--concurrency', '1');
    expect(serial.result.code, serial.result.stderr).toBe(3);
    expect(serial.doc.lines.filter((l: any) => l.kind === 'establish').map((l: any) => `${l.ref} ${l.outcome.status}`)).toEqual(['new-0 failed']);
    expect(service().stats().maxInFlight).toBe(1);

    const bad = await navixy(['--concurrency', '0']);
    expect(bad.code).toBe(64);
    expect(bad.stderr).toContain('--concurrency must be a whole number from 1 to 32');
  });
});
