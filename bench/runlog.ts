/**
 * `node dist/bench/runlog.js`: how fast the run log grows, and how long `prune` takes to trim it.
 *
 * - growth: passes of a 100,000-device fleet with 1% skipped record 1,000 skip events each; the
 *   bytes they take (table and indexes) per pass and per row.
 * - prune: 1,000,000 events older than the cut (1,000 runs of 1,000), 10,000 newer ones kept;
 *   the wall time of `portal-sync prune --older-than 30d` as its own process.
 *
 * A measurement, not a target: it prints figures and checks only that the counts are right.
 * BENCH_BACKENDS=sqlite,postgres and BENCH_PG_URL as for `npm run bench`.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Knex } from 'knex';
import { openKnex, parseDbUrl } from '../src/store/db.js';
import { migrateLatest } from '../src/store/migrate.js';
import { recordRun, type RunEvent } from '../src/store/runlog.js';
import { BACKENDS, scratchDatabase } from './support.js';

const CLI = fileURLToPath(new URL('../../bin/portal-sync', import.meta.url));

const FLEET = 100_000;
const SKIPPED = FLEET / 100;
const PASSES = 20;
const OLD_EVENTS = 1_000_000;
const EVENTS_PER_RUN = 1_000;
const NEW_EVENTS = 10_000;
const DAY = 86_400_000;

// The reasons a real pass gives, in the proportions a real fleet might have them.
const REASONS = [
  'no modelId tag',
  'unknown model "m-retired-2023"',
  'no deviceName tag',
  'malformed twin: desired.RXDelay is not an integer',
  'invalid value: tags.layerId is 300 characters long; at most 255 fit',
];

function skips(): RunEvent[] {
  return Array.from({ length: SKIPPED }, (_, i) => ({
    level: 'info',
    type: 'skip',
    ref: `sensor-${String(i * 97).padStart(6, '0')}`,
    message: REASONS[i % REASONS.length]!,
  }));
}

/** Bytes of `sync_events` with its indexes. */
async function eventBytes(db: Knex, backend: string): Promise<number> {
  if (backend === 'postgres') {
    const { rows } = (await db.raw(`SELECT pg_total_relation_size('sync_events') AS n`)) as { rows: Array<{ n: number }> };
    return Number(rows[0]!.n);
  }
  const rows = (await db.raw(`SELECT sum(pgsize) AS n FROM dbstat WHERE name = 'sync_events' OR name IN (SELECT name FROM sqlite_master WHERE tbl_name = 'sync_events')`)) as Array<{ n: number }>;
  return Number(rows[0]!.n);
}

async function growth(backend: string): Promise<void> {
  const scratch = await scratchDatabase(backend);
  const db = openKnex(parseDbUrl(scratch.url));
  try {
    await migrateLatest(db);
    // One pass first: the first pages of a table and its indexes are not what a pass adds later.
    const record = (at: Date) =>
      recordRun(db, { command: 'devices', status: 'ok', dryRun: false, startedAt: at, finishedAt: at, exitCode: 0, summary: {}, error: null }, skips());
    await record(new Date());
    const before = await eventBytes(db, backend);
    for (let i = 0; i < PASSES; i++) await record(new Date());
    const perPass = ((await eventBytes(db, backend)) - before) / PASSES;
    const perDay = perPass * 288;
    console.log(
      `growth  ${backend.padEnd(8)} ${SKIPPED} rows/pass  ${(perPass / 1024).toFixed(0)} KiB/pass  ${(perPass / SKIPPED).toFixed(0)} B/row  ` +
        `every 5 min: ${(perDay / 1024 / 1024).toFixed(0)} MiB/day, ${((perDay * 365) / 1024 ** 3).toFixed(1)} GiB/year`,
    );
  } finally {
    await db.destroy();
    await scratch.drop();
  }
}

async function seedOldEvents(db: Knex, backend: string): Promise<void> {
  const runs = OLD_EVENTS / EVENTS_PER_RUN;
  const old = new Date(Date.now() - 60 * DAY).toISOString();
  const recent = new Date().toISOString();
  const reasons = REASONS.map((r) => `'${r.replace(/'/g, "''")}'`);
  if (backend === 'postgres') {
    await db.raw(`INSERT INTO sync_runs (command, status, dry_run, started_at, finished_at, exit_code, summary)
      SELECT 'devices', 'ok', false, ?::timestamptz, ?::timestamptz, 0, '{}' FROM generate_series(1, ?)`, [old, old, runs]);
    await db.raw(`INSERT INTO sync_events (run_id, at, level, type, ref, message)
      SELECT 1 + (n - 1) / ?, ?::timestamptz, 'info', 'skip', 'sensor-' || lpad((n % ?)::text, 6, '0'), (ARRAY[${reasons.join(',')}])[1 + n % ${REASONS.length}]
      FROM generate_series(1, ?) AS n`, [EVENTS_PER_RUN, old, FLEET, OLD_EVENTS]);
  } else {
    await db.raw(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
      INSERT INTO sync_runs (command, status, dry_run, started_at, finished_at, exit_code, summary)
      SELECT 'devices', 'ok', 0, ?, ?, 0, '{}' FROM n`, [runs, old, old]);
    const pick = REASONS.map((r, i) => `WHEN ${i} THEN '${r.replace(/'/g, "''")}'`).join(' ');
    await db.raw(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
      INSERT INTO sync_events (run_id, at, level, type, ref, message)
      SELECT 1 + (i - 1) / ${EVENTS_PER_RUN}, ?, 'info', 'skip', 'sensor-' || substr('000000' || (i % ${FLEET}), -6), CASE i % ${REASONS.length} ${pick} END FROM n`,
      // Constants inline: a bound JS number is a REAL to SQLite, and `/` would not divide whole numbers.
      [OLD_EVENTS, old]);
  }
  const kept: RunEvent[] = Array.from({ length: NEW_EVENTS }, (_, i) => ({ level: 'info', type: 'skip', ref: `sensor-${i}`, message: REASONS[0]! }));
  await recordRun(db, { command: 'devices', status: 'ok', dryRun: false, startedAt: new Date(recent), finishedAt: new Date(recent), exitCode: 0, summary: {}, error: null }, kept);
}

async function pruneTime(backend: string): Promise<void> {
  const scratch = await scratchDatabase(backend);
  const db = openKnex(parseDbUrl(scratch.url));
  try {
    await migrateLatest(db);
    const seeding = Date.now();
    await seedOldEvents(db, backend);
    if (backend === 'postgres') await db.raw('ANALYZE sync_events');
    const seeded = (Date.now() - seeding) / 1000;
    const started = process.hrtime.bigint();
    const doc = JSON.parse(execFileSync(process.execPath, [CLI, 'prune', '--db', scratch.url, '--older-than', '30d', '--json'], { encoding: 'utf8' }));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const left = Number((await db('sync_events').count({ n: '*' }).first())!.n);
    const ok = doc.events === OLD_EVENTS && doc.runs === OLD_EVENTS / EVENTS_PER_RUN && left === NEW_EVENTS;
    console.log(
      `prune   ${backend.padEnd(8)} ${doc.events.toLocaleString('en-US')} events and ${doc.runs} runs deleted in ${seconds.toFixed(2)} s ` +
        `(${Math.round(doc.events / seconds).toLocaleString('en-US')} rows/s, process start included; seeding took ${seeded.toFixed(1)} s)  ${ok ? 'ok' : `WRONG: ${left} events left`}`,
    );
    if (!ok) process.exitCode = 1;
  } finally {
    await db.destroy();
    await scratch.drop();
  }
}

for (const backend of BACKENDS) {
  await growth(backend);
  await pruneTime(backend);
}
