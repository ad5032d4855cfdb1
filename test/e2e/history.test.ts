/**
 * `history` reads what passes wrote, newest first, and never creates a database, a folder or a
 * schema on the way.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrateLatest } from '../../src/store/migrate.js';
import { recordRun, type RunEvent } from '../../src/store/runlog.js';
import { BACKENDS, createTestDatabase, type TestDatabase } from '../support/backends.js';
import { parseJson, runCli } from '../support/cli.js';

async function seedRun(db: TestDatabase, finishedAt: Date, events: RunEvent[], command = 'devices'): Promise<number> {
  return recordRun(db.knex(), { command, status: 'ok', dryRun: false, startedAt: finishedAt, finishedAt, exitCode: 0, summary: {}, error: null }, events);
}

const skips = (n: number, prefix = 'd'): RunEvent[] =>
  Array.from({ length: n }, (_, i) => ({ level: 'info', type: 'skip', ref: `${prefix}-${i}`, message: `skip ${prefix}-${i}` }));

async function tableNames(db: TestDatabase): Promise<string[]> {
  const k = db.knex();
  if (db.backend === 'sqlite') return (await k('sqlite_master').where('type', 'table').pluck('name')) as string[];
  return (await k('information_schema.tables').where('table_schema', 'public').pluck('table_name')) as string[];
}

describe('history never creates a SQLite database', () => {
  let scratch: string;
  beforeEach(() => {
    scratch = mkdtempSync(join(tmpdir(), 'portal-sync-history-'));
  });
  afterEach(() => rmSync(scratch, { recursive: true, force: true }));

  it('a missing file or folder is exit 78, naming it and the migrate command', async () => {
    const inFolder = join(scratch, 'typo.db');
    const missingFile = await runCli(['history', '--db', `sqlite:${inFolder}`], {});
    expect(missingFile.code).toBe(78);
    expect(missingFile.stderr).toContain(`error: sqlite:${inFolder} does not exist: to create it, run \`portal-sync migrate --db sqlite:${inFolder}\``);
    const deep = join(scratch, 'x', 'typo.db');
    const missingFolder = await runCli(['history', '--db', `sqlite:${deep}`], {});
    expect(missingFolder.code).toBe(78);
    expect(missingFolder.stderr).toContain(`sqlite:${deep} does not exist (nor does its folder ${join(scratch, 'x')})`);
    expect(missingFolder.stdout).toBe('');
    expect(readdirSync(scratch)).toEqual([]);
  });

  it('sqlite://./name.db is refused (64) with what to write instead, and creates nothing at the root', async () => {
    const name = `portal-sync-test-${process.pid}-${Date.now()}.db`;
    try {
      const result = await runCli(['history', '--db', `sqlite://./${name}`], {});
      expect(result.code).toBe(64);
      expect(result.stderr).toContain(`write sqlite:./${name} (a path relative to the current folder) or sqlite:///abs/path.db (an absolute path)`);
      expect(existsSync(`/${name}`)).toBe(false);
    } finally {
      rmSync(`/${name}`, { force: true });
    }
  });

  it('--db ./foo.db is quoted as typed, with the form that works', async () => {
    const result = await runCli(['history', '--db', './foo.db'], {});
    expect(result.code).toBe(64);
    expect(result.stderr).toContain('error: --db must be sqlite:<path> or postgres://..., got "./foo.db" (did you mean sqlite:./foo.db?)');
  });

  it('a file that is not a database stays untouched', async () => {
    const file = join(scratch, 'notes.db');
    writeFileSync(file, 'not a database at all, but long enough to have a header of sorts....................');
    const result = await runCli(['history', '--db', `sqlite:${file}`], {});
    expect(result.code).toBe(78);
    expect(readdirSync(scratch)).toEqual(['notes.db']);
  });
});

describe.each(BACKENDS)('history on %s', (backend) => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createTestDatabase(backend);
  });
  afterEach(() => db.drop());

  const history = (...args: string[]) => runCli(['history', '--db', db.url, ...args], {});

  it('a database without the portal-sync schema is exit 78, and stays without it', async () => {
    if (backend === 'sqlite') writeFileSync(db.url.slice('sqlite:'.length), '');
    const result = await history();
    expect(result.code).toBe(78);
    expect(result.stderr).toMatch(/has no portal-sync schema: run `portal-sync migrate --db (sqlite|postgres):/);
    expect(result.stdout).toBe('');
    expect(await tableNames(db)).toEqual([]);
  });

  it('lists runs and events newest first, and says how many more a cut list left out', async () => {
    await migrateLatest(db.knex());
    const now = Date.now();
    for (let i = 0; i < 22; i++) await seedRun(db, new Date(now - (22 - i) * 1000), i === 0 ? skips(25) : []);

    const runs = parseJson(await history('--json'));
    expect(runs.runs).toHaveLength(20);
    expect(runs.runs[0].id).toBeGreaterThan(runs.runs[19].id);
    expect(runs.more).toBe(2);
    expect((await history()).stdout).toMatch(/\n\.\.\. 2 more \(use --limit\)\n$/);

    const events = parseJson(await history('--type', 'skip', '--json'));
    expect(events.events).toHaveLength(20);
    // The 20 newest: the last recorded first, the 5 oldest left out and counted.
    expect(events.events[0].ref).toBe('d-24');
    expect(events.events[19].ref).toBe('d-5');
    expect(events.more).toBe(5);
    const table = await history('--type', 'skip', '--limit', '3');
    expect(table.stdout.indexOf('d-24')).toBeLessThan(table.stdout.indexOf('d-23'));
    expect(table.stdout).toMatch(/\n\.\.\. 22 more \(use --limit\)\n$/);

    const whole = parseJson(await history('--type', 'skip', '--limit', '25', '--json'));
    expect(whole.more).toBe(0);
    expect((await history('--type', 'skip', '--limit', '25')).stdout).not.toContain('more');
  });

  it('refuses a --command or --type it does not know (64), listing the valid ones', async () => {
    await migrateLatest(db.knex());
    const command = await history('--command', 'bogus');
    expect(command.code).toBe(64);
    expect(command.stderr).toMatch(/--command must be one of devices, edge, concentrators, gateway-ids,.* history.*; got "bogus"/);
    const type = await history('--type', 'bogus');
    expect(type.code).toBe(64);
    expect(type.stderr).toContain(
      '--type must be one of skip, fail, warning, create, update, delete, guard, stale, conflict, listing, deletes-withheld, error, interrupted, action, withheld, discrepancy, override, validation; got "bogus"',
    );
    expect((await history('--command', 'edge')).code).toBe(0);
    expect((await history('--type', 'deletes-withheld')).code).toBe(0);
  });

  it.runIf(backend === 'sqlite')('reads a SQLite file without writing to it', async () => {
    await migrateLatest(db.knex());
    await seedRun(db, new Date(), skips(1));
    await db.knex().destroy();
    const file = db.url.slice('sqlite:'.length);
    const before = { mtimeMs: statSync(file).mtimeMs, bytes: readFileSync(file) };
    const result = await history('--json');
    expect(result.code).toBe(0);
    expect(parseJson(result).runs).toHaveLength(1);
    expect(statSync(file).mtimeMs).toBe(before.mtimeMs);
    expect(readFileSync(file).equals(before.bytes)).toBe(true);
  });
});
