import { Option, type Command } from 'commander';
import Table from 'cli-table3';
import { ConfigError, resolveDb, UsageError } from '../config.js';
import { describeDbError, openKnex } from '../store/db.js';
import { migrateLatest } from '../store/migrate.js';
import { getRun, listEvents, listRuns, type StoredEvent, type StoredRun } from '../store/runlog.js';
import { EXIT } from '../run/exit.js';
import { COMPACT } from '../run/output.js';

interface HistoryOptions {
  db?: string;
  command?: string;
  run?: string;
  ref?: string;
  type?: string;
  since?: string;
  until?: string;
  limit?: string;
  json?: boolean;
}

export function registerHistory(program: Command, run: (action: () => Promise<number>) => Promise<void>): void {
  program
    .command('history')
    .description('list recent runs, or the events of one run (--run) or matching --ref/--type')
    .option('--db <url>', 'portal database (env PORTAL_SYNC_DB, then DATABASE_URL)')
    .option('--command <name>', 'only runs of this command')
    .option('--run <id>', 'show the events of this run')
    .option('--ref <ref>', 'only events about this record (a device id...)')
    .option('--type <type>', 'only events of this type: skip, fail, delete, guard, stale, conflict, listing, deletes-withheld, error')
    .option('--since <date>', 'from this date or ISO instant')
    .option('--until <date>', 'before this date or ISO instant')
    .option('--limit <n>', 'at most this many rows', '20')
    .addOption(new Option('--log-format <format>', 'errors on stderr as text or json lines').choices(['text', 'json']).default('text'))
    .option('--json', 'print JSON on stdout')
    .addHelpText(
      'after',
      '\nExamples:\n  portal-sync history --command devices\n  portal-sync history --run 42\n  portal-sync history --ref dev-000017 --since 2026-11-01',
    )
    .action((opts: HistoryOptions) => run(() => history(opts)));
}

async function history(opts: HistoryOptions): Promise<number> {
  const target = resolveDb(opts.db, process.env);
  const limit = Number(opts.limit ?? 20);
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError('--limit must be a positive whole number');
  const since = parseDate(opts.since, '--since');
  const until = parseDate(opts.until, '--until');
  const runId = opts.run === undefined ? undefined : Number(opts.run);
  if (runId !== undefined && !Number.isInteger(runId)) throw new UsageError('--run must be a run id (a number)');
  const db = openKnex(target);
  try {
    await migrateLatest(db);
    if (runId !== undefined || opts.ref || opts.type) {
      const runRow = runId === undefined ? null : await getRun(db, runId);
      if (runId !== undefined && !runRow) {
        process.stderr.write(`error: no run ${runId} in ${target.display}\n`);
        return EXIT.failed;
      }
      const events = await listEvents(db, {
        runId,
        command: opts.command,
        ref: opts.ref,
        type: opts.type,
        since,
        until,
        limit: runId === undefined ? limit : 100_000,
      });
      if (opts.json) process.stdout.write(JSON.stringify({ run: runRow, events }, null, 2) + '\n');
      else process.stdout.write((runRow ? runTable([runRow]) + '\n' : '') + eventTable(events) + '\n');
      return EXIT.ok;
    }
    const runs = await listRuns(db, { command: opts.command, since, until, limit });
    if (opts.json) process.stdout.write(JSON.stringify({ runs }, null, 2) + '\n');
    else process.stdout.write((runs.length ? runTable(runs) : 'No runs recorded yet.') + '\n');
    return EXIT.ok;
  } catch (error) {
    throw new Error(`cannot read the run log in ${target.display}: ${describeDbError(target, error)}`, { cause: error });
  } finally {
    await db.destroy();
  }
}

function parseDate(value: string | undefined, flag: string): Date | undefined {
  if (value === undefined) return undefined;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw new UsageError(`${flag} must be a date such as 2026-11-23 or an ISO instant`);
  return date;
}

function runTable(runs: StoredRun[]): string {
  const table = new Table({ head: ['run', 'command', 'status', 'started', 'seconds', 'create', 'update', 'delete', 'skipped', 'failed', 'exit'], style: { head: [], border: [] }, chars: COMPACT });
  for (const r of runs) {
    const s = (r.summary ?? {}) as Record<string, number>;
    const seconds = r.finishedAt ? ((Date.parse(r.finishedAt) - Date.parse(r.startedAt)) / 1000).toFixed(1) : '';
    table.push([r.id, r.command, r.status, r.startedAt, seconds, s.create ?? '', s.update ?? '', s.delete ?? '', s.skipped ?? '', s.failed ?? '', r.exitCode]);
  }
  return table.toString();
}

function eventTable(events: StoredEvent[]): string {
  if (events.length === 0) return 'No matching events.';
  const table = new Table({ head: ['run', 'at', 'level', 'type', 'ref', 'message'], style: { head: [], border: [] }, wordWrap: true, chars: COMPACT });
  for (const e of events) table.push([e.runId, e.at, e.level, e.type, e.ref ?? '', e.message]);
  return table.toString();
}
