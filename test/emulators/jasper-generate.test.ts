/**
 * The Control Center generator (`--generate sims=N,jasperProviders=P`): its spec, determinism and
 * shape; a 100,000-SIM fleet served page after page; `seedJasperProviders` on SQLite and PostgreSQL.
 */
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import {
  COMMUNICATION_PLANS,
  generateJasper,
  parseJasperGenerateSpec,
  RATE_PLANS,
  seedJasperProviders,
  splitJasperSpec,
  startJasperEmulator,
  SPREAD_DAYS,
  STATUSES,
  type JasperEmulator,
} from '../../src/emulators/jasper/index.js';
import { migrateLatest } from '../../src/store/migrate.js';
import { BACKENDS, createTestDatabase, type TestDatabase } from '../support/backends.js';
import { jasperApi } from '../support/jasper.js';

const NOW = Date.parse('2026-11-25T12:34:56.789Z');
const digest = (v: unknown) => createHash('sha256').update(JSON.stringify(v)).digest('hex');

describe('spec', () => {
  it('parses sims and jasperProviders (default 1) and refuses the rest', () => {
    expect(parseJasperGenerateSpec('sims=100000')).toEqual({ sims: 100000, providers: 1 });
    expect(parseJasperGenerateSpec(' sims = 10 , jasperProviders = 3 ')).toEqual({ sims: 10, providers: 3 });
    expect(parseJasperGenerateSpec('sims=0,jasperProviders=2')).toEqual({ sims: 0, providers: 2 });
    for (const [spec, message] of [
      ['sims=ten', 'sims must be a non-negative integer'],
      ['sims=-1', 'sims must be a non-negative integer'],
      ['sims=1,sims=2', '"sims" is given twice'],
      ['jasperProviders=2', 'jasperProviders needs sims=N'],
      ['sims=1,jasperProviders=0', 'jasperProviders must be an integer from 1 to 1000'],
      ['sims=1,jasperProviders=1001', 'jasperProviders must be an integer from 1 to 1000'],
      ['sims=20000000', 'more than 10000000'],
      ['sims=1,devices=2', 'unknown key "devices"'],
    ] as const) {
      expect(() => parseJasperGenerateSpec(spec), spec).toThrow(message);
    }
  });

  it('splitJasperSpec takes its keys out of a whole --generate spec and leaves the rest as it was', () => {
    expect(splitJasperSpec('devices=5,sims=10,customers=3,jasperProviders=2')).toEqual({ rest: 'devices=5,customers=3', jasper: 'sims=10,jasperProviders=2' });
    expect(splitJasperSpec('things=3')).toEqual({ rest: 'things=3', jasper: undefined });
    expect(splitJasperSpec('sims=4')).toEqual({ rest: '', jasper: 'sims=4' });
  });
});

describe('generateJasper', () => {
  it('is deterministic for a spec, a seed and a now; another seed or now gives another fleet', () => {
    const a = generateJasper({ sims: 5000, providers: 3 }, { seed: 7, now: NOW });
    expect(digest(generateJasper({ sims: 5000, providers: 3 }, { seed: 7, now: NOW }))).toBe(digest(a));
    expect(digest(generateJasper({ sims: 5000, providers: 3 }, { seed: 8, now: NOW }))).not.toBe(digest(a));
    expect(digest(generateJasper({ sims: 5000, providers: 3 }, { seed: 7, now: NOW + 1000 }))).not.toBe(digest(a));
  });

  it('P providers sp1.. with their own user name and key; N SIMs dealt over them; ICCIDs 8901260 + 12 digits, unique', () => {
    const g = generateJasper({ sims: 10_001, providers: 4 }, { now: NOW });
    const providers = g.section.providers;
    expect(providers.map((p) => p.id)).toEqual(['sp1', 'sp2', 'sp3', 'sp4']);
    expect(providers.map((p) => p.devices.length)).toEqual([2501, 2500, 2500, 2500]);
    expect(new Set(providers.map((p) => p.username)).size).toBe(4);
    expect(new Set(providers.map((p) => p.apiKey)).size).toBe(4);
    for (const p of providers) expect(p.apiKey).toMatch(/^jasper-[0-9a-f]{32}$/);
    const all = providers.flatMap((p) => p.devices);
    expect(all.every((d) => /^8901260\d{12}$/.test(d.iccid))).toBe(true);
    expect(new Set(all.map((d) => d.iccid)).size).toBe(10_001);
    expect(generateJasper({ sims: 3 }, { now: NOW }).section.providers.map((p) => p.id)).toEqual(['sp1']);
    expect(generateJasper({ sims: 0, providers: 2 }, { now: NOW }).section.providers.map((p) => p.devices)).toEqual([[], []]);
  });

  it('statuses mostly ACTIVATED, a few plans (one with a dash and a trailing space), modifiedAt whole seconds over the last 28 days (inside the shortest full-sync window)', () => {
    const n = 20_000;
    const g = generateJasper({ sims: n, providers: 2 }, { now: NOW });
    const all = g.section.providers.flatMap((p) => p.devices);
    const count = (pick: (d: (typeof all)[number]) => string) => {
      const m = new Map<string, number>();
      for (const d of all) m.set(pick(d), (m.get(pick(d)) ?? 0) + 1);
      return m;
    };
    const statuses = count((d) => d.status);
    expect([...statuses.keys()].sort()).toEqual([...STATUSES].sort());
    expect(statuses.get('ACTIVATED')! / n).toBeGreaterThan(0.8);
    for (const s of ['DEACTIVATED', 'INVENTORY', 'TEST_READY']) expect(statuses.get(s)! / n).toBeGreaterThan(0.02);
    expect(Object.fromEntries(statuses)).toEqual(g.statuses);
    expect([...count((d) => d.ratePlan).keys()].sort()).toEqual([...RATE_PLANS].sort());
    expect(RATE_PLANS).toContain('M2M Europe – 5 GB ');
    expect([...count((d) => d.communicationPlan).keys()].sort()).toEqual([...COMMUNICATION_PLANS].sort());
    const times = all.map((d) => Date.parse(d.modifiedAt));
    const nowS = Math.floor(NOW / 1000) * 1000;
    expect(Math.max(...times)).toBeLessThanOrEqual(nowS);
    expect(SPREAD_DAYS).toBe(28);
    expect(Math.min(...times)).toBeGreaterThan(nowS - 28 * 86_400_000);
    expect(all.every((d) => d.modifiedAt.endsWith('.000Z'))).toBe(true);
    // Spread: every one of the 28 days has some.
    expect(new Set(times.map((t) => Math.floor((nowS - t) / 86_400_000))).size).toBe(28);
  });
});

describe('a 100,000-SIM fleet', () => {
  let emu: JasperEmulator | undefined;
  afterEach(async () => {
    await emu?.close();
    emu = undefined;
  });

  it('is served in 2,000 pages of 50: every SIM exactly once, in order, lastPage only on the last', async () => {
    const g = generateJasper({ sims: 100_000 }, { now: NOW });
    emu = await startJasperEmulator({ fixture: g.section, now: () => NOW });
    const api = jasperApi(emu);
    // The shortest full sync: one month and one day back from 1 March is 29 days.
    const since = new Date(Math.floor(NOW / 1000) * 1000 - 29 * 86_400_000).toISOString();
    const started = performance.now();
    const { devices, pages } = await api.listAll('sp1', since);
    const ms = performance.now() - started;
    expect(pages).toBe(2000);
    expect(devices).toHaveLength(100_000);
    const expected = [...g.section.providers[0]!.devices].sort((a, b) => (a.modifiedAt < b.modifiedAt ? -1 : a.modifiedAt > b.modifiedAt ? 1 : a.iccid < b.iccid ? -1 : 1));
    expect(devices.map((d) => d.iccid)).toEqual(expected.map((d) => d.iccid));
    expect((await api.stats()).providers.sp1).toMatchObject({ pages: 2000, devicesServed: 100_000 });
    // Reported, not asserted (the O(page) code path is asserted in jasper.test.ts).
    console.info(`jasper emulator: 2,000 pages of 50 over HTTP in ${Math.round(ms)} ms (${(ms / 2000).toFixed(2)} ms a page)`);
  }, 120_000);
});

describe.each(BACKENDS)('seedJasperProviders on %s', (backend) => {
  let db: TestDatabase;
  afterEach(async () => {
    await db?.drop();
  });

  it('upserts each provider by id (base URL, user name, billing end day 1 hour 0, enabled), leaving others alone', async () => {
    db = await createTestDatabase(backend);
    const knex = db.knex();
    await migrateLatest(knex);
    await knex('jasper_service_providers').insert({ id: 'mine', name: 'Kept', api_base_url: 'https://example.invalid', username: 'u', billing_end_day: 15, billing_end_hour: 6, enabled: false });
    await knex('jasper_service_providers').insert({ id: 'sp1', name: 'Old', api_base_url: 'http://127.0.0.1:1/sp/sp1', username: 'old', billing_end_day: 20, billing_end_hour: 3, enabled: false });
    const n = await seedJasperProviders(knex, [
      { id: 'sp1', name: 'Service provider 1', username: 'api-user-sp1', baseUrl: 'http://127.0.0.1:4000/sp/sp1' },
      { id: 'sp2', name: 'Service provider 2', username: 'api-user-sp2', baseUrl: 'http://127.0.0.1:4000/sp/sp2' },
    ]);
    expect(n).toBe(2);
    const rows = await knex('jasper_service_providers').select('id', 'name', 'api_base_url', 'username', 'billing_end_day', 'billing_end_hour', 'enabled').orderBy('id');
    expect(rows.map((r) => ({ ...r, enabled: Boolean(r.enabled) }))).toEqual([
      { id: 'mine', name: 'Kept', api_base_url: 'https://example.invalid', username: 'u', billing_end_day: 15, billing_end_hour: 6, enabled: false },
      { id: 'sp1', name: 'Service provider 1', api_base_url: 'http://127.0.0.1:4000/sp/sp1', username: 'api-user-sp1', billing_end_day: 1, billing_end_hour: 0, enabled: true },
      { id: 'sp2', name: 'Service provider 2', api_base_url: 'http://127.0.0.1:4000/sp/sp2', username: 'api-user-sp2', billing_end_day: 1, billing_end_hour: 0, enabled: true },
    ]);
    expect(await seedJasperProviders(knex, [])).toBe(0);
  });
});
