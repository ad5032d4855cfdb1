import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrateLatest } from '../../src/store/migrate.js';
import { countPrunable, pruneEvents, recordRun, type RunEvent } from '../../src/store/runlog.js';
import { BACKENDS, createTestDatabase, type TestDatabase } from '../support/backends.js';

const DAY = 86_400_000;

describe.each(BACKENDS)('run log retention on %s', (backend) => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createTestDatabase(backend);
    await migrateLatest(db.knex());
  });
  afterEach(() => db.drop());

  const seed = (daysAgo: number, events: number) => {
    const at = new Date(Date.now() - daysAgo * DAY);
    const list: RunEvent[] = Array.from({ length: events }, (_, i) => ({ level: 'info', type: 'skip', ref: `d-${i}`, message: 'no modelId tag' }));
    return recordRun(db.knex(), { command: 'devices', status: 'ok', dryRun: false, startedAt: at, finishedAt: at, exitCode: 0, summary: {}, error: null }, list);
  };

  it('deletes in statements of at most batchSize rows, however sparse the ids', async () => {
    const k = db.knex();
    await seed(50, 30);
    await seed(40, 7);
    await seed(1, 4);
    // Holes in the ids, as earlier prunes leave them.
    await k('sync_events').whereIn('id', [2, 3, 5, 8, 13, 21, 34]).del();
    const cut = new Date(Date.now() - 30 * DAY);
    expect(await countPrunable(k, cut)).toEqual({ events: 30, runs: 2 });

    const deletes: number[] = [];
    const onResponse = (response: unknown, query: { sql: string }) => {
      if (/^delete from .?sync_events/i.test(query.sql)) deletes.push(typeof response === 'number' ? response : Number((response as { rowCount?: number }).rowCount));
    };
    k.on('query-response', onResponse);
    const counts = await pruneEvents(k, cut, 4);
    k.off('query-response', onResponse);

    expect(counts).toEqual({ events: 30, runs: 2 });
    expect(deletes.reduce((a, b) => a + b, 0)).toBe(30);
    expect(Math.max(...deletes)).toBeLessThanOrEqual(4);
    // 30 rows at 4 a statement: 8 statements, not one per id of the range.
    expect(deletes).toHaveLength(8);
    expect(await k('sync_events').count({ n: '*' }).first()).toMatchObject({ n: 4 });
    expect(await countPrunable(k, cut)).toEqual({ events: 0, runs: 0 });
  });

  it('keeps a run whose events are not all older than the cut', async () => {
    const k = db.knex();
    const runId = await seed(40, 2);
    // An event of that run recorded later (the pass that wrote it ended after the cut).
    await k('sync_events').insert({ run_id: runId, at: new Date().toISOString(), level: 'info', type: 'skip', ref: 'late', message: 'late' });
    expect(await pruneEvents(k, new Date(Date.now() - 30 * DAY))).toEqual({ events: 2, runs: 0 });
    expect(await k('sync_runs').pluck('id')).toEqual([runId]);
  });

  it('refuses a batch size that would loop forever', async () => {
    await expect(pruneEvents(db.knex(), new Date(), 0)).rejects.toThrow(RangeError);
  });
});
