/**
 * `jasper` end to end: the built CLI as its own process, against the emulated Cisco Control Center
 * over loopback, on SQLite and PostgreSQL. Every provider's base URL goes through a recording proxy
 * in this process, so each test sees every request the CLI made (page number, page size, the
 * `modifiedSince` sent, the user name) besides the emulator's own counters. What is checked is the
 * tables themselves: production (`jasper_devices`), the staging and the cursor, after each pass,
 * against what the fixture says a listing holds, computed here from the fixture.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { saveProvider, type ServiceProvider } from '../../src/store/jasper.js';
import { migrateLatest } from '../../src/store/migrate.js';
import { BACKENDS, createTestDatabase, type TestDatabase } from '../support/backends.js';
import { CLI, childEnv, collect, parseJson, runCli, spawnCli, waitFor, type CliResult } from '../support/cli.js';
import { jasperApi, startTestJasper, type TestJasper } from '../support/jasper.js';

const MIN = 60_000;
const DAY = 24 * 60 * MIN;
const USER = 'api-user';
/** The emulator's keys: distinctive, so a test can grep every output for them. */
const KEYS = { sp1: 'sp1-Key-7f3a9cQ', sp2: 'sp2-Key-b81e44W' } as const;
const ENV = { JASPER_API_KEY_SP1: KEYS.sp1, JASPER_API_KEY_SP2: KEYS.sp2 };
const WRONG_KEY = 'wrong-Key-Zq91x';

interface Sim {
  iccid: string;
  status: string | null;
  ratePlan: string | null;
  communicationPlan: string | null;
  /** ISO 8601: orders the listing, never served. */
  modifiedAt: string;
}

/** A row of jasper_devices as the tests compare it. */
interface Row {
  provider_id: string;
  iccid: string;
  status: string;
  rate_plan: string | null;
  communication_plan: string | null;
}

const STATUSES = ['ACTIVATED', 'ACTIVATED', 'DEACTIVATED', 'INVENTORY', 'TEST_READY'];
const RATE_PLANS = ['IoT Basic 10MB', 'IoT Pro 1GB', 'Fleet 500MB'];
const COMM_PLANS = ['Data Only LTE', 'Data + SMS', 'NB-IoT'];

/** 19 digits, a string: `8901260`, the provider's digit, 11 digits. */
const iccidOf = (provider: number, i: number) => `8901260${provider}${String(i).padStart(11, '0')}`;
const iso = (ms: number) => new Date(ms).toISOString();

/**
 * One calendar month (UTC, clamped to the end of the shorter month) and then one day before `t`,
 * as INVENTORIES.md section Jasper defines a full sync's `modifiedSince`.
 */
function fullSyncSince(t: number): number {
  const d = new Date(t);
  const first = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - 1, 1));
  const daysInMonth = new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth() + 1, 0)).getUTCDate();
  const day = Math.min(d.getUTCDate(), daysInMonth);
  return Date.UTC(first.getUTCFullYear(), first.getUTCMonth(), day, d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds()) - DAY;
}

/** `yyyy-MM-ddTHH:mm:ssZ`, truncated to the second: how the cursor is sent. */
const sentForm = (ms: number) => iso(Math.floor(ms / 1000) * 1000).replace(/\.\d{3}Z$/, 'Z');

/**
 * The fleet the emulator serves. sp1: 219 SIMs spread over the last four weeks, one SIM just inside
 * a full sync's window and one just outside it (a quarter of an hour each way), and one six weeks
 * old: a full sync lists 220 (5 pages of 50). sp2: 30 SIMs (1 page).
 */
class World {
  readonly sims: Record<'sp1' | 'sp2', Sim[]>;
  faults: Array<Record<string, unknown>> = [];
  readonly edgeIn: Sim;
  readonly edgeOut: Sim;
  readonly old: Sim;

  constructor(readonly t0: number) {
    const regular = (p: number, n: number, from: number): Sim[] =>
      Array.from({ length: n }, (_, i) => ({
        iccid: iccidOf(p, i + 1),
        status: STATUSES[i % STATUSES.length]!,
        ratePlan: RATE_PLANS[i % RATE_PLANS.length]!,
        communicationPlan: COMM_PLANS[(i >> 1) % COMM_PLANS.length]!,
        // Newest last: the listing order is not the file order (the file is shuffled below).
        modifiedAt: iso(from + i * 7 * MIN),
      }));
    const since = fullSyncSince(t0);
    this.edgeIn = { iccid: iccidOf(1, 90_001), status: 'ACTIVATED', ratePlan: 'Edge In', communicationPlan: 'Data Only LTE', modifiedAt: iso(since + 15 * MIN) };
    this.edgeOut = { iccid: iccidOf(1, 90_002), status: 'ACTIVATED', ratePlan: 'Edge Out', communicationPlan: 'Data Only LTE', modifiedAt: iso(since - 15 * MIN) };
    this.old = { iccid: iccidOf(1, 90_003), status: 'ACTIVATED', ratePlan: 'Old', communicationPlan: 'Data Only LTE', modifiedAt: iso(t0 - 42 * DAY) };
    const sp1 = regular(1, 219, t0 - 27 * DAY);
    // Reversed in the file: the emulator orders by modification time, whatever the file's order.
    this.sims = { sp1: [...sp1.reverse(), this.edgeIn, this.edgeOut, this.old], sp2: regular(2, 30, t0 - 20 * DAY) };
  }

  section(): Record<string, unknown> {
    return {
      providers: (['sp1', 'sp2'] as const).map((id) => ({ id, username: USER, apiKey: KEYS[id], devices: this.sims[id] })),
      faults: this.faults,
    };
  }

  sim(provider: 'sp1' | 'sp2', iccid: string): Sim {
    const sim = this.sims[provider].find((s) => s.iccid === iccid);
    if (!sim) throw new Error(`no SIM ${iccid}`);
    return sim;
  }

  /** What a listing from `since` serves, in its order: by modification time, then ICCID, then file order. */
  listed(provider: 'sp1' | 'sp2', since = fullSyncSince(this.t0)): Sim[] {
    return this.sims[provider]
      .map((s, seq) => ({ s, seq }))
      .filter(({ s }) => Date.parse(s.modifiedAt) >= since)
      .sort((a, b) => Date.parse(a.s.modifiedAt) - Date.parse(b.s.modifiedAt) || (a.s.iccid < b.s.iccid ? -1 : a.s.iccid > b.s.iccid ? 1 : 0) || a.seq - b.seq)
      .map(({ s }) => s);
  }
}

/** Production after promoting `listing` over `before`: one row per ICCID, the last listed wins, a record without a status is left out. */
function promoted(provider: string, listing: readonly Sim[], before: readonly Row[] = []): Row[] {
  const rows = new Map(before.map((r) => [r.iccid, r]));
  for (const s of listing) {
    if (s.status === null || s.status.trim() === '') continue;
    rows.set(s.iccid, { provider_id: provider, iccid: s.iccid, status: s.status, rate_plan: s.ratePlan, communication_plan: s.communicationPlan });
  }
  return [...rows.values()].sort((a, b) => (a.iccid < b.iccid ? -1 : a.iccid > b.iccid ? 1 : 0));
}

interface Call {
  provider: string;
  path: string;
  pageNumber: number;
  pageSize: number;
  modifiedSince: string;
  /** The Basic credentials' user name (the key is never kept). */
  user: string | null;
}

interface Recorder {
  readonly url: string;
  readonly calls: Call[];
  close(): Promise<void>;
}

/** A pass-through proxy to the emulator that records each request; a client that gives up ends the upstream request too. */
async function startRecorder(target: string): Promise<Recorder> {
  const calls: Call[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
    const decoded = basic ? Buffer.from(basic[1]!, 'base64').toString('utf8') : null;
    calls.push({
      provider: url.pathname.split('/')[2] ?? '',
      path: url.pathname,
      pageNumber: Number(url.searchParams.get('pageNumber')),
      pageSize: Number(url.searchParams.get('pageSize')),
      modifiedSince: url.searchParams.get('modifiedSince') ?? '',
      user: decoded === null ? null : decoded.slice(0, Math.max(0, decoded.indexOf(':'))),
    });
    const upstream = httpRequest(`${target}${req.url ?? '/'}`, { method: req.method, headers: req.headers, agent: false }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const byIccid = <T extends { iccid: string }>(list: readonly T[]): T[] => [...list].sort((a, b) => (a.iccid < b.iccid ? -1 : a.iccid > b.iccid ? 1 : 0));
const ms = (v: unknown): number | null => (v === null || v === undefined ? null : new Date(v as string).getTime());

describe.each(BACKENDS)('jasper end to end on %s', (backend) => {
  let db: TestDatabase;
  let world: World;
  let jasper: TestJasper;
  let proxy: Recorder;
  let lockDir: string;

  const provider = (id: string, extra: Partial<ServiceProvider> = {}): ServiceProvider => ({
    id,
    name: null,
    apiBaseUrl: `${proxy.url}/sp/${id}`,
    username: USER,
    billingEndDay: 1,
    billingEndHour: 0,
    enabled: true,
    ...extra,
  });

  beforeEach(async () => {
    db = await createTestDatabase(backend);
    await migrateLatest(db.knex());
    world = new World(Date.now());
    jasper = await startTestJasper(world.section());
    proxy = await startRecorder(jasper.emulator.url);
    await saveProvider(db.knex(), provider('sp1'));
    lockDir = mkdtempSync(join(tmpdir(), 'portal-sync-jasper-locks-'));
  });

  afterEach(async () => {
    await proxy.close();
    await jasper.close();
    await db.drop();
    rmSync(lockDir, { recursive: true, force: true });
  });

  /** The fixture as `world` says now (a rewrite drops the control endpoint's changes and restarts the fault counters). */
  const rewrite = () => jasper.write(world.section());

  const run = (args: string[] = [], env: Record<string, string | undefined> = ENV): Promise<CliResult> => {
    jasper.emulator.resetStats();
    proxy.calls.length = 0;
    return runCli(['jasper', '--db', db.url, '--lock-dir', lockDir, ...args], env);
  };
  const runJson = async (args: string[] = [], env: Record<string, string | undefined> = ENV) => {
    const result = await run(['--json', ...args], env);
    return { result, doc: parseJson(result) };
  };
  /** The emulator's counters of one provider since the last pass began. */
  const served = (id: string) => jasper.emulator.stats().providers[id] ?? { requests: 0, pages: 0, statuses: {}, unauthorized: 0, faults: {} };
  const pagesAsked = (id = 'sp1') => proxy.calls.filter((c) => c.provider === id).map((c) => c.pageNumber);

  const production = async (id = 'sp1'): Promise<Row[]> =>
    (await db.knex()('jasper_devices').where({ provider_id: id }).orderBy('iccid').select('provider_id', 'iccid', 'status', 'rate_plan', 'communication_plan')) as Row[];
  /** Every column, updated_at included: "exactly as before" means this. */
  const snapshot = async () => (await db.knex()('jasper_devices').orderBy(['provider_id', 'iccid']).select()).map((r: Record<string, unknown>) => ({ ...r, updated_at: ms(r.updated_at) }));
  const staged = async (id = 'sp1') => Number((await db.knex()('jasper_device_staging').where({ provider_id: id }).count({ n: '*' }))[0]!.n);
  const cursor = async (id = 'sp1') => {
    const row = (await db.knex()('jasper_cursors').where({ provider_id: id }).first()) as Record<string, unknown> | undefined;
    if (!row) return null;
    return {
      modifiedSince: ms(row.modified_since),
      resumeModifiedSince: ms(row.resume_modified_since),
      resumeStartedAt: ms(row.resume_started_at),
      resumePage: row.resume_page === null || row.resume_page === undefined ? null : Number(row.resume_page),
    };
  };
  const runs = async () =>
    (await db.knex()('sync_runs').orderBy('id').select('id', 'command', 'status', 'exit_code', 'dry_run')).map((r: Record<string, unknown>) => ({
      id: Number(r.id),
      command: r.command as string,
      status: r.status as string,
      exit_code: Number(r.exit_code),
      dry_run: r.dry_run,
    }));
  const events = async (runId: number) => (await db.knex()('sync_events').where({ run_id: runId }).orderBy('id').select('level', 'type', 'ref', 'message')) as Array<{ level: string; type: string; ref: string | null; message: string }>;
  const seed = async (rows: readonly Row[]) => {
    await db.knex()('jasper_devices').insert(rows.map((r) => ({ ...r, updated_at: '2026-01-02T03:04:05.000Z' })));
  };

  it('1. full sync on the first run: every SIM of the listing in production field by field, staging empty, cursor set, one call a page, modifiedSince one month and one day back', async () => {
    const before = Date.now();
    const { result, doc } = await runJson();
    const after = Date.now();
    expect(result.code, result.stderr).toBe(0);
    const listing = world.listed('sp1');
    expect(listing).toHaveLength(220);
    expect(await production()).toEqual(promoted('sp1', listing));
    // The SIM just inside the window is in, the ones outside are not.
    const iccids = (await production()).map((r) => r.iccid);
    expect(iccids).toContain(world.edgeIn.iccid);
    expect(iccids).not.toContain(world.edgeOut.iccid);
    expect(iccids).not.toContain(world.old.iccid);
    expect(await staged()).toBe(0);

    // ceil(220 / 50) = 5 calls, pages 1..5 of 50, one modifiedSince, the provider's user name.
    expect(served('sp1').requests).toBe(5);
    expect(served('sp1').pages).toBe(5);
    expect(pagesAsked()).toEqual([1, 2, 3, 4, 5]);
    expect(new Set(proxy.calls.map((c) => c.pageSize))).toEqual(new Set([50]));
    expect(new Set(proxy.calls.map((c) => c.user))).toEqual(new Set([USER]));
    expect(new Set(proxy.calls.map((c) => c.modifiedSince)).size).toBe(1);
    const sent = proxy.calls[0]!.modifiedSince;
    expect(sent).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(Date.parse(sent)).toBeGreaterThanOrEqual(Date.parse(sentForm(fullSyncSince(before))));
    expect(Date.parse(sent)).toBeLessThanOrEqual(fullSyncSince(after));

    const p = doc.providers[0];
    expect(doc.providers).toHaveLength(1);
    expect(p).toMatchObject({ provider: 'sp1', status: 'ok', exitCode: 0, mode: 'full', pages: { from: 1, read: 5, complete: true, resumeAt: null }, staged: 220, apiCalls: { GetModifiedDevices: 5 } });
    expect(p.promotion).toMatchObject({ create: 220, update: 0, unchanged: 0, skipped: [], duplicates: 0 });
    expect(sentForm(Date.parse(p.modifiedSince))).toBe(sent);

    // The cursor: set, about the pass's start (at most the overlap before it), no resume point.
    const c = await cursor();
    expect(c).toMatchObject({ resumeModifiedSince: null, resumeStartedAt: null, resumePage: null });
    expect(c!.modifiedSince).toBeGreaterThanOrEqual(before - 10 * MIN - 1000);
    expect(c!.modifiedSince).toBeLessThanOrEqual(after);
    // One run recorded, with one create event per SIM.
    expect(await runs()).toEqual([{ id: p.runId, command: 'jasper', status: 'ok', exit_code: 0, dry_run: expect.anything() }]);
    const created = (await events(p.runId)).filter((e) => e.type === 'create');
    expect(created.map((e) => e.ref).sort()).toEqual(listing.map((s) => s.iccid).sort());
  });

  it('2. incremental: asks from the cursor (one page), updates 3, creates 2, keeps the rest; --json lists exactly those; history --ref shows the update', async () => {
    const before1 = Date.now();
    const first = await run();
    const after1 = Date.now();
    expect(first.code, first.stderr).toBe(0);
    const c1 = await cursor();
    const sims = world.listed('sp1');
    const [a, b, c] = [sims[10]!, sims[120]!, sims[219]!];
    const changed = [
      { ...a, status: a.status === 'DEACTIVATED' ? 'ACTIVATED' : 'DEACTIVATED' },
      { ...b, ratePlan: 'IoT Pro 5GB' },
      { ...c, status: 'RETIRED', communicationPlan: 'NB-IoT Roaming' },
    ];
    const added = [
      { iccid: iccidOf(1, 80_001), status: 'ACTIVATED', ratePlan: 'IoT Basic 10MB', communicationPlan: 'Data + SMS' },
      { iccid: iccidOf(1, 80_002), status: 'TEST_READY', ratePlan: 'Fleet 500MB', communicationPlan: 'NB-IoT' },
    ];
    const upsert = await jasperApi(jasper.emulator).upsert('sp1', [...changed.map(({ modifiedAt: _m, ...s }) => s), ...added]);
    expect(upsert.status, upsert.text).toBe(200);

    const { result, doc } = await runJson(['--detailed-exitcode']);
    expect(result.code, result.stderr).toBe(2);
    // From the cursor: one small listing, one page.
    expect(pagesAsked()).toEqual([1]);
    expect(served('sp1').requests).toBe(1);
    const sent = proxy.calls[0]!.modifiedSince;
    expect(sent).toBe(sentForm(c1!.modifiedSince!));
    // When the first listing began, less the overlap (10 minutes): never later than that.
    expect(Date.parse(sent)).toBeGreaterThanOrEqual(Date.parse(sentForm(before1 - 10 * MIN)));
    expect(Date.parse(sent)).toBeLessThanOrEqual(after1 - 10 * MIN);
    const p = doc.providers[0];
    expect(p).toMatchObject({ mode: 'incremental', pages: { from: 1, read: 1, complete: true, resumeAt: null }, staged: 5 });
    expect(p.promotion).toMatchObject({ create: 2, update: 3, unchanged: 0, skipped: [], duplicates: 0 });
    expect(byIccid(p.promotion.changes)).toEqual(
      byIccid([
        { action: 'update', iccid: a.iccid, fields: [{ field: 'status', old: a.status, new: changed[0]!.status }] },
        { action: 'update', iccid: b.iccid, fields: [{ field: 'ratePlan', old: b.ratePlan, new: 'IoT Pro 5GB' }] },
        {
          action: 'update',
          iccid: c.iccid,
          fields: [
            { field: 'status', old: c.status, new: 'RETIRED' },
            { field: 'communicationPlan', old: c.communicationPlan, new: 'NB-IoT Roaming' },
          ],
        },
        { action: 'create', ...added[0]! },
        { action: 'create', ...added[1]! },
      ]),
    );
    const expected = promoted('sp1', [...sims, ...changed, ...added.map((s) => ({ ...s, modifiedAt: '' }))]);
    expect(expected).toHaveLength(222);
    expect(await production()).toEqual(expected);
    expect(await staged()).toBe(0);
    expect((await cursor())!.modifiedSince).toBeGreaterThan(c1!.modifiedSince!);

    const story = parseJson(await runCli(['history', '--db', db.url, '--json', '--ref', a.iccid], {}));
    expect(story.events.map((e: any) => e.type)).toEqual(['update', 'create']);
    expect(story.events[0].message).toContain(`status ${a.status} -> ${changed[0]!.status}`);
    expect(story.events[0].runId).toBe(p.runId);
    const table = await runCli(['history', '--db', db.url, '--ref', c.iccid], {});
    expect(table.stdout).toContain('communicationPlan');
    expect(table.stdout).toContain('RETIRED');

    // Nothing changed since: one empty page, no change.
    const third = await runJson(['--detailed-exitcode']);
    expect(third.result.code, third.result.stderr).toBe(0);
    expect(third.doc.providers[0].promotion).toMatchObject({ create: 0, update: 0 });
    expect(await production()).toEqual(expected);
  });

  it('3. a failure on the last page: exit 1, production and the cursor as they were; the next pass reads that page alone and promotes every page', async () => {
    expect((await run()).code).toBe(0);
    const p1 = await snapshot();
    const c1 = await cursor();
    // Changes on pages 1, 2 and 5 of the next listing, and the last page (5) fails every time.
    const listing = world.listed('sp1');
    world.sim('sp1', listing[3]!.iccid).status = 'RETIRED';
    world.sim('sp1', listing[60]!.iccid).ratePlan = 'Fleet 5GB';
    world.sim('sp1', listing[210]!.iccid).communicationPlan = 'NB-IoT Roaming';
    world.faults = [{ kind: 'page', provider: 'sp1', page: 5, status: 503 }];
    rewrite();

    const before2 = Date.now();
    const { result, doc } = await runJson(['--full', '--retry-budget', '1s']);
    const after2 = Date.now();
    expect(result.code, result.stderr).toBe(1);
    expect(doc.status).toBe('failed');
    expect(doc.providers[0]).toMatchObject({ status: 'failed', exitCode: 1, mode: 'full', promotion: null, pages: { from: 1, read: 4, complete: false, resumeAt: 5 } });
    expect(doc.providers[0].error).toMatch(/page 5/);
    expect(doc.providers[0].error).toMatch(/retry budget/);
    expect(pagesAsked().slice(0, 5)).toEqual([1, 2, 3, 4, 5]);
    expect(new Set(pagesAsked().slice(4))).toEqual(new Set([5]));
    const modifiedSince2 = proxy.calls[0]!.modifiedSince;
    // Production exactly as it was (not one updated_at), the cursor not moved, pages 1-4 staged.
    expect(await snapshot()).toEqual(p1);
    const c2 = await cursor();
    expect(c2!.modifiedSince).toBe(c1!.modifiedSince);
    expect(c2!.resumePage).toBe(5);
    expect(await staged()).toBe(200);
    const failedRun = (await runs()).at(-1)!;
    expect(failedRun).toMatchObject({ status: 'failed', exit_code: 1 });

    world.faults = [];
    rewrite();
    const resumed = await runJson();
    expect(resumed.result.code, resumed.result.stderr).toBe(0);
    // Page 5 alone, with the listing's own modifiedSince.
    expect(pagesAsked()).toEqual([5]);
    expect(proxy.calls[0]!.modifiedSince).toBe(modifiedSince2);
    expect(resumed.doc.providers[0]).toMatchObject({ mode: 'resumed', pages: { from: 5, read: 1, complete: true, resumeAt: null } });
    // The changes of pages 1 and 2 came from the staging of the failed pass.
    expect(resumed.doc.providers[0].promotion).toMatchObject({ create: 0, update: 3, unchanged: 217 });
    expect(await production()).toEqual(promoted('sp1', world.listed('sp1')));
    expect(await staged()).toBe(0);
    const c3 = await cursor();
    expect(c3).toMatchObject({ resumePage: null, resumeModifiedSince: null, resumeStartedAt: null });
    // The listing began with the failed pass: the next one asks from (a little before) then.
    expect(c3!.modifiedSince).toBeGreaterThanOrEqual(before2 - 10 * MIN - 1000);
    expect(c3!.modifiedSince).toBeLessThanOrEqual(after2 - 10 * MIN);
  });

  it('3b. a first run that fails on its last page leaves seeded production rows exactly as they were; the resumed pass promotes over them and deletes nothing', async () => {
    const listing = world.listed('sp1');
    const seeded: Row[] = byIccid([
      ...listing.slice(0, 5).map((s) => ({ provider_id: 'sp1', iccid: s.iccid, status: 'INVENTORY', rate_plan: 'Legacy', communication_plan: null })),
      { provider_id: 'sp1', iccid: iccidOf(1, 70_001), status: 'ACTIVATED', rate_plan: 'Not listed', communication_plan: 'Data Only LTE' },
    ]);
    await seed(seeded);
    const p0 = await snapshot();
    world.faults = [{ kind: 'page', provider: 'sp1', page: 5 }];
    rewrite();
    const failed = await run(['--retry-budget', '1s']);
    expect(failed.code, failed.stderr).toBe(1);
    expect(await snapshot()).toEqual(p0);
    expect((await cursor())!.modifiedSince).toBeNull();
    expect(await staged()).toBe(200);

    world.faults = [];
    rewrite();
    const resumed = await run();
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(pagesAsked()).toEqual([5]);
    expect(await production()).toEqual(promoted('sp1', listing, seeded));
  });

  it('4b. --max-duration already spent stops at a page boundary like --max-pages: exit 0, nothing read or promoted', async () => {
    const { result, doc } = await runJson(['--max-duration', '1ms']);
    expect(result.code, result.stderr).toBe(0);
    expect(pagesAsked()).toEqual([]);
    expect(doc.providers[0]).toMatchObject({ status: 'ok', pages: { read: 0, complete: false }, promotion: null });
    expect(await production()).toEqual([]);
    const rest = await runJson();
    expect(rest.result.code, rest.result.stderr).toBe(0);
    expect(rest.doc.providers[0].pages).toMatchObject({ from: 1, read: 5, complete: true });
  });

  it('4. --max-pages 2 on a 5-page listing: exit 0, nothing promoted, resumes at page 3; the next pass reads pages 3-5 only and promotes all', async () => {
    const before1 = Date.now();
    const { result, doc } = await runJson(['--max-pages', '2']);
    const after1 = Date.now();
    expect(result.code, result.stderr).toBe(0);
    expect(pagesAsked()).toEqual([1, 2]);
    expect(doc.providers[0]).toMatchObject({ status: 'ok', mode: 'full', pages: { from: 1, read: 2, complete: false, resumeAt: 3 }, staged: 100, promotion: null });
    expect(await production()).toEqual([]);
    expect(await staged()).toBe(100);
    const c1 = await cursor();
    expect(c1).toMatchObject({ modifiedSince: null, resumePage: 3 });
    const since1 = proxy.calls[0]!.modifiedSince;
    // The text output says where the listing stands.
    const text = await run(['--max-pages', '1']);
    expect(text.code, text.stderr).toBe(0);
    expect(pagesAsked()).toEqual([3]);
    expect(text.stdout).toMatch(/resumed since .*pages 3-3 \(listing not complete: resumes at page 4\)/);
    expect(await staged()).toBe(150);

    const rest = await runJson();
    expect(rest.result.code, rest.result.stderr).toBe(0);
    expect(pagesAsked()).toEqual([4, 5]);
    expect(served('sp1').requests).toBe(2);
    expect(new Set(proxy.calls.map((c) => c.modifiedSince))).toEqual(new Set([since1]));
    expect(rest.doc.providers[0]).toMatchObject({ mode: 'resumed', pages: { from: 4, read: 2, complete: true, resumeAt: null } });
    expect(rest.doc.providers[0].promotion).toMatchObject({ create: 220, update: 0, duplicates: 0 });
    expect(await production()).toEqual(promoted('sp1', world.listed('sp1')));
    expect(await staged()).toBe(0);

    // The next incremental pass asks from when the listing began (the first pass), not the last.
    const next = await runJson();
    expect(next.result.code, next.result.stderr).toBe(0);
    expect(next.doc.providers[0].mode).toBe('incremental');
    const sent = Date.parse(proxy.calls[0]!.modifiedSince);
    expect(sent).toBeGreaterThanOrEqual(Date.parse(sentForm(before1 - 10 * MIN)));
    expect(sent).toBeLessThanOrEqual(after1 - 10 * MIN);
  });

  it('4b. --max-pages 2 then a pass without it: pages 3, 4 and 5 only (3 calls)', async () => {
    expect((await run(['--max-pages', '2'])).code).toBe(0);
    expect((await cursor())!.resumePage).toBe(3);
    const rest = await run();
    expect(rest.code, rest.stderr).toBe(0);
    expect(pagesAsked()).toEqual([3, 4, 5]);
    expect(served('sp1').requests).toBe(3);
    expect(await production()).toEqual(promoted('sp1', world.listed('sp1')));
    // --full starts over: the staging of a cut listing is cleared, page 1 again.
    expect((await run(['--full', '--max-pages', '2'])).code).toBe(0);
    expect((await cursor())!.resumePage).toBe(3);
    expect(await staged()).toBe(100);
    expect((await run(['--full', '--max-pages', '1'])).code).toBe(0);
    expect(pagesAsked()).toEqual([1]);
    expect(await staged()).toBe(50);
  });

  it('5. an ICCID listed twice: production keeps the later-modified record; --json counts the duplicate', async () => {
    const listing = world.listed('sp1');
    // Page 1's first SIM again, modified later (page 5) with another status; and one twice on page 3.
    const twice = listing[0]!;
    const again = { ...twice, status: 'DEACTIVATED', ratePlan: 'IoT Pro 1GB', modifiedAt: iso(world.t0 - 2 * DAY) };
    const inPage = listing[120]!;
    const inPageAgain = { ...inPage, status: 'RETIRED', modifiedAt: iso(Date.parse(inPage.modifiedAt) + 1000) };
    // Newest first in the file: the listing's order is modification time.
    world.sims.sp1.unshift(again, inPageAgain);
    rewrite();
    const { result, doc } = await runJson();
    expect(result.code, result.stderr).toBe(0);
    const listed = world.listed('sp1');
    expect(listed).toHaveLength(222);
    expect(doc.providers[0]).toMatchObject({ staged: 222, pages: { read: 5 } });
    expect(doc.providers[0].promotion).toMatchObject({ create: 220, duplicates: 2, skipped: [] });
    const rows = await production();
    expect(rows).toHaveLength(220);
    expect(rows.find((r) => r.iccid === twice.iccid)).toEqual({ provider_id: 'sp1', iccid: twice.iccid, status: 'DEACTIVATED', rate_plan: 'IoT Pro 1GB', communication_plan: twice.communicationPlan });
    expect(rows.find((r) => r.iccid === inPage.iccid)!.status).toBe('RETIRED');
    expect(rows).toEqual(promoted('sp1', listed));
    // The run log says so too.
    const warnings = (await events(doc.providers[0].runId)).filter((e) => e.type === 'warning');
    expect(warnings.map((e) => e.message).join('\n')).toMatch(/2 ICCIDs listed more than once/);
  });

  it('6. bad records are skipped with the reason in --json and the run log, the others promoted, exit 0; production keeps a SIM\'s last good row', async () => {
    const listing = world.listed('sp1');
    const nullStatus = listing[7]!;
    world.sim('sp1', nullStatus.iccid).status = null;
    // Page 2's third record served without an iccid; page 4's first with its iccid as a number.
    world.faults = [
      { kind: 'bad-record', provider: 'sp1', page: 2, position: 3, flaw: 'missing-iccid' },
      { kind: 'bad-record', provider: 'sp1', page: 4, position: 1, flaw: 'numeric-iccid' },
      { kind: 'bad-record', provider: 'sp1', page: 5, position: 2, flaw: 'null-status' },
    ];
    rewrite();
    const { result, doc } = await runJson();
    expect(result.code, result.stderr).toBe(0);
    const spoiled = [listing[52]!, listing[150]!, listing[201]!];
    const p = doc.providers[0];
    expect(p.status).toBe('ok');
    expect(p.promotion.skipped).toHaveLength(4);
    expect(p.promotion.skipped[0]).toEqual({ ref: nullStatus.iccid, reason: expect.stringMatching(/status/) });
    expect(p.promotion.skipped[1]).toEqual({ ref: 'page 2, record 3', reason: expect.stringMatching(/iccid/) });
    expect(p.promotion.skipped[2]).toEqual({ ref: 'page 4, record 1', reason: expect.stringMatching(/iccid/) });
    expect(p.promotion.skipped[3]).toEqual({ ref: spoiled[2]!.iccid, reason: expect.stringMatching(/status/) });
    expect(p.promotion.create).toBe(216);
    const left = new Set([nullStatus.iccid, ...spoiled.map((s) => s.iccid)]);
    expect(await production()).toEqual(promoted('sp1', listing.filter((s) => !left.has(s.iccid))));
    const skips = (await events(p.runId)).filter((e) => e.type === 'skip');
    expect(skips.map((e) => e.ref)).toEqual([nullStatus.iccid, 'page 2, record 3', 'page 4, record 1', spoiled[2]!.iccid]);
    expect(skips[0]!.message).toMatch(/status/);
    const table = await runCli(['history', '--db', db.url, '--ref', nullStatus.iccid], {});
    expect(table.stdout).toContain('skip');

    // Later, a SIM already in production arrives without a status: skipped, its row kept.
    world.faults = [];
    rewrite();
    const good = listing[30]!;
    const upsert = await jasperApi(jasper.emulator).upsert('sp1', [
      { iccid: good.iccid, status: null, ratePlan: 'Changed', communicationPlan: 'Changed' },
      { iccid: listing[31]!.iccid, status: 'RETIRED', ratePlan: listing[31]!.ratePlan, communicationPlan: listing[31]!.communicationPlan },
    ]);
    expect(upsert.status, upsert.text).toBe(200);
    const beforeRows = await production();
    const second = await runJson();
    expect(second.result.code, second.result.stderr).toBe(0);
    expect(second.doc.providers[0].promotion).toMatchObject({ create: 0, update: 1, skipped: [{ ref: good.iccid, reason: expect.stringMatching(/status/) }] });
    const after = await production();
    expect(after.find((r) => r.iccid === good.iccid)).toEqual(beforeRows.find((r) => r.iccid === good.iccid));
    expect(after.find((r) => r.iccid === listing[31]!.iccid)!.status).toBe('RETIRED');
  });

  it('6b. INVENTORIES rule: iccid, status, ratePlan and communicationPlan are all required (absent, null or blank = missing): such a record is rejected whole', async () => {
    const listing = world.listed('sp1');
    const nullPlan = listing[5]!;
    world.sim('sp1', nullPlan.iccid).ratePlan = null;
    const blankComm = listing[6]!;
    world.sim('sp1', blankComm.iccid).communicationPlan = '   ';
    world.faults = [
      { kind: 'bad-record', provider: 'sp1', page: 2, position: 1, flaw: 'blank-ratePlan' },
      { kind: 'bad-record', provider: 'sp1', page: 3, position: 1, flaw: 'missing-communicationPlan' },
    ];
    rewrite();
    const { result, doc } = await runJson();
    expect(result.code, result.stderr).toBe(0);
    const rejected = [nullPlan, blankComm, listing[50]!, listing[100]!];
    expect(doc.providers[0].promotion.skipped.map((s: any) => s.ref)).toEqual(rejected.map((s) => s.iccid));
    const rejectedSet = new Set(rejected.map((s) => s.iccid));
    expect(await production()).toEqual(promoted('sp1', listing.filter((s) => !rejectedSet.has(s.iccid))));
  });

  it('6c. INVENTORIES rule: plan names are stored exactly as sent (no trim, no normalisation)', async () => {
    const padded = world.listed('sp1')[0]!;
    world.sim('sp1', padded.iccid).ratePlan = ' IoT Basic 10MB ';
    world.sim('sp1', padded.iccid).communicationPlan = 'Data  Only LTE ';
    rewrite();
    const result = await run();
    expect(result.code, result.stderr).toBe(0);
    expect((await production()).find((r) => r.iccid === padded.iccid)).toMatchObject({ rate_plan: ' IoT Basic 10MB ', communication_plan: 'Data  Only LTE ' });
  });

  it('6d. INVENTORIES rule: an unknown status is stored as sent, with a warning', async () => {
    const odd = world.listed('sp1')[1]!;
    world.sim('sp1', odd.iccid).status = 'NOT_A_KNOWN_STATUS';
    rewrite();
    const { result, doc } = await runJson();
    expect(result.code, result.stderr).toBe(0);
    expect((await production()).find((r) => r.iccid === odd.iccid)!.status).toBe('NOT_A_KNOWN_STATUS');
    // The warning: in the run log under the ICCID, or at least on stderr naming it.
    const warned = (await events(doc.providers[0].runId)).some((e) => e.ref === odd.iccid && (e.level === 'warn' || e.type === 'warning'));
    expect(warned || result.stderr.includes(odd.iccid), 'a warning about the unknown status NOT_A_KNOWN_STATUS').toBe(true);
  });

  it('6e. INVENTORIES rule: ICCIDs are strings of 19 or 20 digits: 18 and 21 digits are rejected, 19 and 20 accepted', async () => {
    const mk = (iccid: string, minutes: number): Sim => ({ iccid, status: 'ACTIVATED', ratePlan: 'IoT Basic 10MB', communicationPlan: 'Data Only LTE', modifiedAt: iso(world.t0 - 2 * DAY + minutes * MIN) });
    const digits = (n: number, last: string) => `8901260${'9'.repeat(n - 7 - last.length)}${last}`;
    const [ok19, ok20, short18, long21] = [digits(19, '19'), digits(20, '20'), digits(18, '18'), digits(21, '21')].map((iccid, i) => mk(iccid, i + 1)) as [Sim, Sim, Sim, Sim];
    expect([ok19, ok20, short18, long21].map((s) => s.iccid.length)).toEqual([19, 20, 18, 21]);
    world.sims.sp1.push(ok19, ok20, short18, long21);
    rewrite();
    const { result, doc } = await runJson();
    expect(result.code, result.stderr).toBe(0);
    expect(doc.providers[0].promotion.skipped.map((s: any) => s.ref).sort()).toEqual([short18.iccid, long21.iccid].sort());
    const iccids = (await production()).map((r) => r.iccid);
    expect(iccids).toContain(ok19.iccid);
    expect(iccids).toContain(ok20.iccid);
  });

  it('7. transient failures within the budget (two 400 40000029, one 503 HTML): the pass succeeds', async () => {
    world.faults = [
      { kind: 'rate-limit', provider: 'sp1', times: 2 },
      { kind: 'error', provider: 'sp1', status: 503, times: 1 },
    ];
    rewrite();
    const { result, doc } = await runJson();
    expect(result.code, result.stderr).toBe(0);
    expect(served('sp1').statuses).toEqual({ '400': 2, '503': 1, '200': 5 });
    expect(pagesAsked()).toEqual([1, 1, 1, 1, 2, 3, 4, 5]);
    expect(doc.providers[0].retries.count).toBe(3);
    expect(doc.providers[0].apiCalls).toEqual({ GetModifiedDevices: 8 });
    expect(await production()).toEqual(promoted('sp1', world.listed('sp1')));
    expect((await cursor())!.modifiedSince).not.toBeNull();
  });

  it('7b. past the retry budget (--retry-budget 1s, a 500 every time): exit 1, production and cursor untouched, a failed run recorded', async () => {
    expect((await run()).code).toBe(0);
    const p1 = await snapshot();
    const c1 = await cursor();
    world.faults = [{ kind: 'error', provider: 'sp1' }];
    rewrite();
    await jasperApi(jasper.emulator).upsert('sp1', [{ iccid: world.listed('sp1')[0]!.iccid, status: 'RETIRED', ratePlan: 'x', communicationPlan: 'y' }]);
    const started = Date.now();
    const { result, doc } = await runJson(['--retry-budget', '1s']);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(result.code, result.stderr).toBe(1);
    expect(doc.providers[0]).toMatchObject({ status: 'failed', exitCode: 1, promotion: null });
    expect(doc.providers[0].error).toMatch(/retry budget spent/);
    expect(doc.providers[0].retries.waitedMs).toBeLessThanOrEqual(1000);
    expect(served('sp1').requests).toBeGreaterThanOrEqual(1);
    expect(served('sp1').pages).toBe(0);
    expect(await snapshot()).toEqual(p1);
    expect((await cursor())!.modifiedSince).toBe(c1!.modifiedSince);
    expect((await runs()).at(-1)).toMatchObject({ status: 'failed', exit_code: 1 });
  });

  it('8. a 401 is a configuration error (78) naming sp1 and JASPER_API_KEY_SP1, never a key; a missing key variable is 78 too', async () => {
    for (const json of [false, true]) {
      const result = await run(json ? ['--json'] : [], { ...ENV, JASPER_API_KEY_SP1: WRONG_KEY });
      expect(result.code, result.stderr).toBe(78);
      const out = result.stdout + result.stderr;
      expect(out).toContain('sp1');
      expect(out).toContain('JASPER_API_KEY_SP1');
      expect(out).not.toContain(WRONG_KEY);
      expect(out).not.toContain(KEYS.sp1);
      expect(out).not.toContain(Buffer.from(`${USER}:${WRONG_KEY}`).toString('base64'));
      // Refused once: a 401 is not retried.
      expect(served('sp1').unauthorized).toBe(1);
      expect(served('sp1').requests).toBe(1);
    }
    expect(await production()).toEqual([]);
    expect(await cursor()).toBeNull();

    const missing = await run([], { JASPER_API_KEY_SP1: undefined, JASPER_API_KEY_SP2: KEYS.sp2 });
    expect(missing.code, missing.stderr).toBe(78);
    expect(missing.stderr).toContain('JASPER_API_KEY_SP1');
    expect(served('sp1').requests).toBe(0);
    const empty = await run([], { JASPER_API_KEY_SP1: '' });
    expect(empty.code, empty.stderr).toBe(78);
  });

  it('9. two providers, one failing: the other is promoted, exit 3; --service-provider runs one; an unknown one is 78', async () => {
    await saveProvider(db.knex(), provider('sp2'));
    // sp1 (first in order) refused: sp2 still runs.
    const { result, doc } = await runJson([], { ...ENV, JASPER_API_KEY_SP1: WRONG_KEY });
    expect(result.code, result.stderr).toBe(3);
    expect(doc.status).toBe('partial');
    expect(doc.providers.map((p: any) => [p.provider, p.status, p.exitCode])).toEqual([
      ['sp1', 'failed', 78],
      ['sp2', 'ok', 0],
    ]);
    expect(await production('sp1')).toEqual([]);
    expect(await production('sp2')).toEqual(promoted('sp2', world.listed('sp2')));
    expect(await cursor('sp1')).toBeNull();
    expect((await cursor('sp2'))!.modifiedSince).not.toBeNull();
    // Each provider has a run of its own.
    expect((await runs()).map((r) => [r.status, r.exit_code])).toEqual([
      ['failed', 78],
      ['ok', 0],
    ]);

    // sp2's last page fails every time, sp1 is fine: sp1 promoted, exit 3.
    world.faults = [{ kind: 'page', provider: 'sp2', page: 1 }];
    rewrite();
    const second = await run(['--retry-budget', '1s']);
    expect(second.code, second.stderr).toBe(3);
    expect(await production('sp1')).toEqual(promoted('sp1', world.listed('sp1')));
    expect(second.stderr).toMatch(/sp2/);
    world.faults = [];
    rewrite();

    const only = await run(['--service-provider', 'sp2']);
    expect(only.code, only.stderr).toBe(0);
    expect(new Set(proxy.calls.map((c) => c.provider))).toEqual(new Set(['sp2']));
    expect(served('sp1').requests).toBe(0);

    // A disabled provider is left out of a pass, but runs when named.
    await saveProvider(db.knex(), provider('sp2', { enabled: false }));
    expect((await run()).code).toBe(0);
    expect(new Set(proxy.calls.map((c) => c.provider))).toEqual(new Set(['sp1']));
    expect((await run(['--service-provider', 'sp2'])).code).toBe(0);
    expect(new Set(proxy.calls.map((c) => c.provider))).toEqual(new Set(['sp2']));

    const unknown = await run(['--service-provider', 'nope']);
    expect(unknown.code, unknown.stderr).toBe(78);
    expect(unknown.stderr).toContain('nope');
    expect(proxy.calls).toEqual([]);

    // Every provider failing the same way (sp2 enabled again): their code.
    await saveProvider(db.knex(), provider('sp2'));
    const allWrong = await runJson([], { JASPER_API_KEY_SP1: WRONG_KEY, JASPER_API_KEY_SP2: WRONG_KEY });
    expect(allWrong.result.code, allWrong.result.stderr).toBe(78);
    expect(allWrong.doc.providers.map((p: any) => p.exitCode)).toEqual([78, 78]);
  });

  it('9b. an unknown --service-provider with --json still prints the short configuration-error document', async () => {
    const result = await run(['--json', '--service-provider', 'nope']);
    expect(result.code, result.stderr).toBe(78);
    expect(parseJson(result)).toMatchObject({ schemaVersion: 1, command: 'jasper', status: 'failed', exitCode: 78 });
  });

  it('10. --dry-run: production, staging and cursor unchanged, no run recorded, the promotion shown', async () => {
    const first = await run(['--dry-run']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('Promotion (dry run: not applied): 220 to create, 0 to update, 0 unchanged, 0 skipped');
    expect(pagesAsked()).toEqual([1, 2, 3, 4, 5]);
    expect(await production()).toEqual([]);
    expect(await staged()).toBe(0);
    expect(await cursor()).toBeNull();
    expect(await runs()).toEqual([]);

    // A cut listing: the dry run reads the rest and shows the whole promotion, changing nothing.
    expect((await run(['--max-pages', '2'])).code).toBe(0);
    const cut = await cursor();
    const runsBefore = await runs();
    const { result, doc } = await runJson(['--dry-run']);
    expect(result.code, result.stderr).toBe(0);
    expect(pagesAsked()).toEqual([3, 4, 5]);
    expect(doc).toMatchObject({ dryRun: true, runId: null });
    expect(doc.providers[0]).toMatchObject({ runId: null, mode: 'resumed' });
    expect(doc.providers[0].promotion).toMatchObject({ create: 220 });
    expect(await staged()).toBe(100);
    expect(await cursor()).toEqual(cut);
    expect(await production()).toEqual([]);
    expect(await runs()).toEqual(runsBefore);

    // After a real pass, changes: the dry run shows them and applies none.
    expect((await run()).code).toBe(0);
    const p = await snapshot();
    const c = await cursor();
    const listing = world.listed('sp1');
    await jasperApi(jasper.emulator).upsert('sp1', [
      { iccid: listing[0]!.iccid, status: 'RETIRED', ratePlan: listing[0]!.ratePlan, communicationPlan: listing[0]!.communicationPlan },
      { iccid: iccidOf(1, 80_010), status: 'ACTIVATED', ratePlan: 'IoT Basic 10MB', communicationPlan: 'NB-IoT' },
    ]);
    const runsNow = await runs();
    const dry = await run(['--dry-run', '--detailed-exitcode']);
    expect(dry.code, dry.stderr).toBe(2);
    expect(dry.stdout).toMatch(new RegExp(`${listing[0]!.iccid}.*status: ${listing[0]!.status} -> RETIRED`));
    expect(dry.stdout).toMatch(new RegExp(`\\+.*${iccidOf(1, 80_010)}.*create \\(ACTIVATED\\)`));
    expect(dry.stdout).toContain('Promotion (dry run: not applied): 1 to create, 1 to update');
    expect(await snapshot()).toEqual(p);
    expect(await cursor()).toEqual(c);
    expect(await staged()).toBe(0);
    expect(await runs()).toEqual(runsNow);
  });

  it('11. an unreachable Control Center (a closed port) with --retry-budget 1s: exit 69, nothing changed', async () => {
    await saveProvider(db.knex(), provider('sp1', { apiBaseUrl: `http://127.0.0.1:${await closedPort()}/sp/sp1` }));
    const started = Date.now();
    const { result, doc } = await runJson(['--retry-budget', '1s']);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(result.code, result.stderr).toBe(69);
    expect(doc.providers[0]).toMatchObject({ status: 'failed', exitCode: 69 });
    expect(doc.providers[0].error).toMatch(/unreachable/);
    expect(result.stdout + result.stderr).not.toContain(KEYS.sp1);
    expect(await production()).toEqual([]);
    expect(await cursor()).toBeNull();
  });

  it('12. jasper providers add|list|remove through the CLI: list says whether each key is set, remove takes the SIMs along; a bad id or URL is 64', async () => {
    await db.knex()('jasper_service_providers').delete();
    const cli = (args: string[], env: Record<string, string | undefined> = {}) => runCli(['jasper', 'providers', ...args, '--db', db.url], env);
    const add1 = await cli(['add', 'sp1', '--url', `${proxy.url}/sp/sp1/`, '--username', USER, '--name', 'Operator One', '--billing-end-day', '15', '--billing-end-hour', '6']);
    expect(add1.code, add1.stderr).toBe(0);
    expect(add1.stdout).toContain('JASPER_API_KEY_SP1');
    const add2 = await cli(['add', 'sp2', '--url', `${proxy.url}/sp/sp2`, '--username', USER]);
    expect(add2.code, add2.stderr).toBe(0);
    const stored = await db.knex()('jasper_service_providers').orderBy('id').select('id', 'name', 'api_base_url', 'username', 'billing_end_day', 'billing_end_hour');
    expect(stored.map((r: Record<string, unknown>) => ({ ...r, billing_end_day: Number(r.billing_end_day), billing_end_hour: Number(r.billing_end_hour) }))).toEqual([
      { id: 'sp1', name: 'Operator One', api_base_url: `${proxy.url}/sp/sp1`, username: USER, billing_end_day: 15, billing_end_hour: 6 },
      { id: 'sp2', name: null, api_base_url: `${proxy.url}/sp/sp2`, username: USER, billing_end_day: 1, billing_end_hour: 0 },
    ]);

    const list = await cli(['list'], { JASPER_API_KEY_SP1: KEYS.sp1 });
    expect(list.code, list.stderr).toBe(0);
    const lines = list.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^sp1\t.*JASPER_API_KEY_SP1 set/);
    expect(lines[1]).toMatch(/^sp2\t.*JASPER_API_KEY_SP2 NOT set/);
    expect(list.stdout + list.stderr).not.toContain(KEYS.sp1);

    // Both synced; sp1 also has a cut listing staged.
    expect((await run()).code).toBe(0);
    expect((await run(['--service-provider', 'sp1', '--full', '--max-pages', '1'])).code).toBe(0);
    expect(await production('sp1')).toHaveLength(220);
    expect(await staged('sp1')).toBe(50);
    const remove = await cli(['remove', 'sp1']);
    expect(remove.code, remove.stderr).toBe(0);
    expect(await production('sp1')).toEqual([]);
    expect(await staged('sp1')).toBe(0);
    expect(await cursor('sp1')).toBeNull();
    expect((await db.knex()('jasper_service_providers').select('id')).map((r: { id: string }) => r.id)).toEqual(['sp2']);
    expect(await production('sp2')).toEqual(promoted('sp2', world.listed('sp2')));
    expect((await cli(['remove', 'sp1'])).code).toBe(64);

    for (const bad of [
      ['add', 'SP3', '--url', 'https://rws.example.com', '--username', USER],
      ['add', 'sp 3', '--url', 'https://rws.example.com', '--username', USER],
      ['add', 'sp3!', '--url', 'https://rws.example.com', '--username', USER],
      ['add', 'sp3', '--url', 'not a url', '--username', USER],
      ['add', 'sp3', '--url', 'ftp://rws.example.com', '--username', USER],
      ['add', 'sp3', '--url', 'https://user:secret@rws.example.com', '--username', USER],
      ['add', 'sp3', '--url', 'https://rws.example.com', '--username', USER, '--billing-end-day', '32'],
      ['add', 'sp3', '--url', 'https://rws.example.com', '--username', USER, '--billing-end-hour', '24'],
    ]) {
      const refused = await cli(bad);
      expect(refused.code, `${bad.join(' ')}: ${refused.stderr}`).toBe(64);
      expect(refused.stderr).not.toContain('secret');
    }
    expect((await db.knex()('jasper_service_providers').select('id')).map((r: { id: string }) => r.id)).toEqual(['sp2']);
  });

  it('12b. jasper providers list --json prints one JSON document: each provider, its key variable and whether it is set, never the key', async () => {
    await saveProvider(db.knex(), provider('sp2'));
    for (const args of [
      ['jasper', 'providers', 'list', '--json', '--db', db.url],
      ['jasper', 'providers', 'list', '--db', db.url, '--json'],
    ]) {
      const result = await runCli(args, { JASPER_API_KEY_SP1: KEYS.sp1 });
      expect(result.code, result.stderr).toBe(0);
      const doc = parseJson(result);
      expect(doc.providers.map((p: any) => [p.id, p.apiKeyVariable, p.apiKeySet])).toEqual([
        ['sp1', 'JASPER_API_KEY_SP1', true],
        ['sp2', 'JASPER_API_KEY_SP2', false],
      ]);
      expect(result.stdout).not.toContain(KEYS.sp1);
    }
  });

  it('cursor older than a year (Control Center refuses one): the pass falls back to a full sync', async () => {
    await db.knex()('jasper_cursors').insert({ provider_id: 'sp1', modified_since: iso(world.t0 - 400 * DAY), updated_at: iso(world.t0 - 400 * DAY) });
    const { result, doc } = await runJson();
    expect(result.code, `${doc.providers[0]?.error ?? ''} ${result.stderr}`).toBe(0);
    expect(doc.providers[0].mode).toBe('full');
    expect(Math.abs(Date.parse(proxy.calls[0]!.modifiedSince) - fullSyncSince(Date.now()))).toBeLessThan(5 * MIN);
    expect(await production()).toEqual(promoted('sp1', world.listed('sp1')));
  });

  it.runIf(backend === 'sqlite')('13. a provider whose lock is held does not block another provider\'s pass', async () => {
    await saveProvider(db.knex(), provider('sp2'));
    // sp1's first request is never answered: its pass holds sp1's lock meanwhile.
    world.faults = [{ kind: 'timeout', provider: 'sp1', times: 1 }];
    rewrite();
    jasper.emulator.resetStats();
    const holder = spawnCli(['jasper', '--db', db.url, '--lock-dir', lockDir, '--service-provider', 'sp1', '--request-timeout', '20s'], ENV);
    const held = collect(holder);
    try {
      await waitFor(() => (jasper.emulator.stats().providers['sp1']?.faults.timeout ?? 0) >= 1, "sp1's pass to wait on its first page");
      const other = await runJson(['--service-provider', 'sp2']);
      expect(other.result.code, other.result.stderr).toBe(0);
      expect(await production('sp2')).toEqual(promoted('sp2', world.listed('sp2')));
      // sp1 itself is locked: 75 for it alone; a pass of all providers runs sp2 and says 3.
      const same = await run(['--service-provider', 'sp1']);
      expect(same.code, same.stderr).toBe(75);
      expect(same.stderr).toMatch(/already running/);
      const all = await runJson();
      expect(all.result.code, all.result.stderr).toBe(3);
      expect(all.doc.providers.map((p: any) => [p.provider, p.status, p.exitCode])).toEqual([
        ['sp1', 'locked', 75],
        ['sp2', 'ok', 0],
      ]);
    } finally {
      holder.kill('SIGTERM');
      const second = setTimeout(() => holder.kill('SIGTERM'), 1000);
      await held;
      clearTimeout(second);
    }
    // The lock is free again.
    const after = await run(['--service-provider', 'sp1']);
    expect(after.code, after.stderr).toBe(0);
    expect(await production('sp1')).toEqual(promoted('sp1', world.listed('sp1')));
  });

  it.runIf(backend === 'sqlite')('13b. SIGTERM during a page in flight ends the pass at once (143), without waiting for the request timeout', async () => {
    world.faults = [{ kind: 'timeout', provider: 'sp1', times: 1 }];
    rewrite();
    jasper.emulator.resetStats();
    const child = spawnCli(['jasper', '--db', db.url, '--lock-dir', lockDir, '--request-timeout', '8s'], ENV);
    const done = collect(child);
    await waitFor(() => (jasper.emulator.stats().providers['sp1']?.faults.timeout ?? 0) >= 1, 'the pass to wait on its first page');
    const signalled = Date.now();
    child.kill('SIGTERM');
    const result = await done;
    const took = Date.now() - signalled;
    expect(result.code, result.stderr).toBe(143);
    expect(await production()).toEqual([]);
    expect(took, `exit ${took} ms after SIGTERM`).toBeLessThan(4000);
  });

  it.runIf(backend === 'sqlite')('one month and one day back is a calendar month clamped to the shorter month: from 2026-03-31T02:15:07Z, 2026-02-27T02:15:07Z', async () => {
    // The CLI's clock set to 2026-03-31T02:15:07Z (a preloaded module shifts Date); the emulator keeps the real one.
    const fakeNow = Date.UTC(2026, 2, 31, 2, 15, 7);
    const preload = join(lockDir, 'fake-now.mjs');
    writeFileSync(
      preload,
      `const RealDate = Date;
const offset = ${fakeNow} - RealDate.now();
class FakeDate extends RealDate {
  constructor(...args) { if (args.length === 0) super(RealDate.now() + offset); else super(...args); }
  static now() { return RealDate.now() + offset; }
}
globalThis.Date = FakeDate;
`,
    );
    const sim = (n: number, modifiedAt: string): Sim => ({ iccid: iccidOf(1, n), status: 'ACTIVATED', ratePlan: 'IoT Basic 10MB', communicationPlan: 'Data Only LTE', modifiedAt });
    world.sims.sp1 = [sim(1, '2026-02-20T00:00:00Z'), sim(2, '2026-02-28T00:00:00Z'), sim(3, '2026-03-15T00:00:00Z')];
    rewrite();
    proxy.calls.length = 0;
    const child = spawn(process.execPath, [CLI, 'jasper', '--db', db.url, '--lock-dir', lockDir, '--json'], {
      env: childEnv({ ...ENV, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${pathToFileURL(preload).href}`.trim() }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const result = await collect(child);
    expect(result.code, result.stderr).toBe(0);
    expect(parseJson(result).startedAt).toMatch(/^2026-03-31T02:15:/);
    expect(proxy.calls[0]!.modifiedSince).toMatch(/^2026-02-27T02:15:0\dZ$/);
    expect((await production()).map((r) => r.iccid)).toEqual([iccidOf(1, 2), iccidOf(1, 3)]);
  });
});
