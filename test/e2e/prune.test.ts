/** `prune` trims the run log by age, in bounded batches, and creates nothing on the way. */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrateLatest } from '../../src/store/migrate.js';
import { recordRun, type RunEvent } from '../../src/store/runlog.js';
import { BACKENDS, createTestDatabase, type TestDatabase } from '../support/backends.js';
import { parseJson, runCli } from '../support/cli.js';

const DAY = 86_400_000;

async function seedRun(db: TestDatabase, finishedAt: Date, events: RunEvent[]): Promise<number> {
  return recordRun(db.knex(), { command: 'devices', status: 'ok', dryRun: false, startedAt: finishedAt, finishedAt, exitCode: 0, summary: {}, error: null }, events);
}

const skips = (n: number, prefix: string): RunEvent[] =>
  Array.from({ length: n }, (_, i) => ({ level: 'info', type: 'skip', ref: `${prefix}-${i}`, message: `skip ${prefix}-${i}` }));

describe('prune never creates a database', () => {
  let scratch: string;
  beforeEach(() => {
    scratch = mkdtempSync(join(tmpdir(), 'portal-sync-prune-'));
  });
  afterEach(() => rmSync(scratch, { recursive: true, force: true }));

  it('a missing SQLite file is exit 78, naming it and the migrate command', async () => {
    const file = join(scratch, 'x', 'typo.db');
    const result = await runCli(['prune', '--db', `sqlite:${file}`, '--older-than', '30d'], {});
    expect(result.code).toBe(78);
    expect(result.stderr).toContain(`sqlite:${file} does not exist (nor does its folder ${join(scratch, 'x')}): to create it, run \`portal-sync migrate --db sqlite:${file}\``);
    expect(readdirSync(scratch)).toEqual([]);
  });
});

describe.each(BACKENDS)('prune on %s', (backend) => {
  let db: TestDatabase;
  let now: number;
  beforeEach(async () => {
    db = await createTestDatabase(backend);
    await migrateLatest(db.knex());
    now = Date.now();
    await seedRun(db, new Date(now - 40 * DAY), skips(3, 'old'));
    await seedRun(db, new Date(now - 35 * DAY), []);
    await seedRun(db, new Date(now - 10 * DAY), skips(2, 'mid'));
    await seedRun(db, new Date(now), skips(1, 'new'));
  });
  afterEach(() => db.drop());

  const prune = (...args: string[]) => runCli(['prune', '--db', db.url, ...args], {});

  it('a database without the portal-sync schema is exit 78, and stays without it', async () => {
    const empty = await createTestDatabase(backend);
    try {
      if (backend === 'sqlite') writeFileSync(empty.url.slice('sqlite:'.length), '');
      const result = await runCli(['prune', '--db', empty.url, '--older-than', '1d'], {});
      expect(result.code).toBe(78);
      expect(result.stderr).toMatch(/has no portal-sync schema: run `portal-sync migrate --db /);
      expect(await empty.knex().schema.hasTable('portal_sync_migrations')).toBe(false);
    } finally {
      await empty.drop();
    }
  });
  const count = async (table: string) => Number((await db.knex()(table).count({ n: '*' }).first())!.n);

  it('deletes events older than the cut and the runs left without events, and says how many', async () => {
    const result = await prune('--older-than', '30d');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/: deleted 3 events and 2 runs recorded before \d{4}-\d\d-\d\dT[\d:.]+Z\.\n$/);
    expect(((await db.knex()('sync_events').orderBy('ref').pluck('ref')) as string[])).toEqual(['mid-0', 'mid-1', 'new-0']);
    expect(await count('sync_runs')).toBe(2);
    const again = parseJson(await prune('--older-than', '30d', '--json'));
    expect(again).toMatchObject({ dryRun: false, olderThan: '30d', events: 0, runs: 0 });
    expect(new Date(again.before).getTime()).toBeCloseTo(now - 30 * DAY, -5);
  });

  it('--dry-run counts and deletes nothing', async () => {
    const doc = parseJson(await prune('--older-than', '5d', '--dry-run', '--json'));
    expect(doc).toMatchObject({ dryRun: true, events: 5, runs: 3 });
    expect(await count('sync_events')).toBe(6);
    expect(await count('sync_runs')).toBe(4);
    expect((await prune('--older-than', '5d', '--dry-run')).stdout).toMatch(/would delete 5 events and 3 runs .*\(dry run: nothing deleted\)\.\n$/);
  });

  it('refuses a missing or bad --older-than (64)', async () => {
    for (const args of [[], ['--older-than', '30'], ['--older-than', '0d'], ['--older-than', 'soon']]) {
      const result = await prune(...args);
      expect(result.code, args.join(' ')).toBe(64);
    }
    expect(await count('sync_events')).toBe(6);
  });
});
