/**
 * The `jasper` tables on SQLite and PostgreSQL: providers saved and removed with everything of
 * theirs, the cursor and its resume point read back as written, pages staged in listing order (a
 * page staged twice stays once), and a promotion that writes production in bulk.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { planPromotion, type StagedSim } from '../../src/reconcile/jasper.js';
import { applyPromotion, clearStaging, listProviders, loadSims, readCursor, readStaging, removeProvider, saveProvider, stagePage, writeCursor, type ServiceProvider } from '../../src/store/jasper.js';
import { migrateLatest } from '../../src/store/migrate.js';
import { BACKENDS, createTestDatabase, type TestDatabase } from '../support/backends.js';

const SP: ServiceProvider = { id: 'sp1', name: 'EU', apiBaseUrl: 'https://rws-eu.example', username: 'api', billingEndDay: 15, billingEndHour: 6, enabled: true };
const iccid = (n: number) => `89012600000000${String(n).padStart(5, '0')}`;
const record = (page: number, position: number, n: number, status = 'ACTIVATED'): StagedSim => ({ pageNumber: page, position, iccid: iccid(n), status, ratePlan: 'rp', communicationPlan: 'cp' });

describe.each(BACKENDS)('jasper store on %s', (backend) => {
  let db: TestDatabase;

  beforeEach(async () => {
    db = await createTestDatabase(backend);
    await migrateLatest(db.knex());
    await saveProvider(db.knex(), SP);
  });

  afterEach(async () => {
    await db.drop();
  });

  it('saves a provider, changes it by id, and lists them', async () => {
    await saveProvider(db.knex(), { ...SP, username: 'other', enabled: false });
    await saveProvider(db.knex(), { ...SP, id: 'sp0', name: null });
    expect(await listProviders(db.knex())).toEqual([
      { ...SP, id: 'sp0', name: null },
      { ...SP, username: 'other', enabled: false },
    ]);
  });

  it('reads back the cursor and the resume point as written; none at first', async () => {
    expect(await readCursor(db.knex(), 'sp1')).toEqual({ modifiedSince: null, resume: null });
    const at = new Date('2026-11-30T10:00:00.000Z');
    const resume = { modifiedSince: new Date('2026-11-01T00:00:00.000Z'), startedAt: at, page: 7 };
    await writeCursor(db.knex(), 'sp1', { modifiedSince: at, resume });
    expect(await readCursor(db.knex(), 'sp1')).toEqual({ modifiedSince: at, resume });
    await writeCursor(db.knex(), 'sp1', { modifiedSince: at, resume: null });
    expect(await readCursor(db.knex(), 'sp1')).toEqual({ modifiedSince: at, resume: null });
  });

  it('stages pages in listing order, a page staged twice once, and clears one provider only', async () => {
    await saveProvider(db.knex(), { ...SP, id: 'sp2' });
    await stagePage(db.knex(), 'sp1', [record(2, 0, 3), record(2, 1, 4)]);
    await stagePage(db.knex(), 'sp1', [record(1, 0, 1), record(1, 1, 2)]);
    await stagePage(db.knex(), 'sp1', [record(2, 0, 3), record(2, 1, 4)]);
    await stagePage(db.knex(), 'sp2', [record(1, 0, 9), { ...record(1, 1, 0), iccid: null, status: null }]);
    expect((await readStaging(db.knex(), 'sp1')).map((r) => r.iccid)).toEqual([iccid(1), iccid(2), iccid(3), iccid(4)]);
    await clearStaging(db.knex(), 'sp1');
    expect(await readStaging(db.knex(), 'sp1')).toEqual([]);
    expect(await readStaging(db.knex(), 'sp2')).toEqual([record(1, 0, 9), { ...record(1, 1, 0), iccid: null, status: null }]);
  });

  it('promotes in bulk: inserts new ICCIDs, updates changed ones, leaves the others as they were', async () => {
    const first = planPromotion(Array.from({ length: 1200 }, (_, i) => record(1 + Math.floor(i / 50), i % 50, i)), new Map());
    await db.knex().transaction((trx) => applyPromotion(trx, 'sp1', first, new Date('2026-12-01T00:00:00Z')));
    const stored = await loadSims(db.knex(), 'sp1');
    expect(stored.size).toBe(1200);
    const second = planPromotion([record(1, 0, 5, 'DEACTIVATED'), record(1, 1, 2000)], stored);
    expect([second.create.length, second.update.length]).toEqual([1, 1]);
    await db.knex().transaction((trx) => applyPromotion(trx, 'sp1', second, new Date('2026-12-02T00:00:00Z')));
    const after = await loadSims(db.knex(), 'sp1');
    expect(after.size).toBe(1201);
    expect(after.get(iccid(5))?.status).toBe('DEACTIVATED');
    expect(after.get(iccid(6))?.status).toBe('ACTIVATED');
    const touched = await db.knex()('jasper_devices').where('updated_at', '>', '2026-12-01T12:00:00.000Z').count({ n: '*' }).first();
    expect(Number(touched!.n)).toBe(2);
  });

  it('removes a provider with its cursor, staging and SIMs; false for one that is not there', async () => {
    await writeCursor(db.knex(), 'sp1', { modifiedSince: new Date(), resume: null });
    await stagePage(db.knex(), 'sp1', [record(1, 0, 1)]);
    await db.knex().transaction((trx) => applyPromotion(trx, 'sp1', planPromotion([record(1, 0, 1)], new Map()), new Date()));
    expect(await removeProvider(db.knex(), 'sp1')).toBe(true);
    for (const table of ['jasper_devices', 'jasper_device_staging', 'jasper_cursors', 'jasper_service_providers']) {
      expect(Number((await db.knex()(table).count({ n: '*' }).first())!.n), table).toBe(0);
    }
    expect(await removeProvider(db.knex(), 'sp1')).toBe(false);
  });
});
