import { Option, type Command } from 'commander';
import Table from 'cli-table3';
import { resolveDb, UsageError } from '../config.js';
import { describeDbError } from '../store/db.js';
import { countEvents, countRuns, EVENT_TYPES, getRun, listEvents, listRuns, type StoredEvent, type StoredRun } from '../store/runlog.js';
import { EXIT } from '../run/exit.js';
import { COMPACT } from '../run/output.js';
import { openExistingStore } from './open-store.js';

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

const DEFAULT_LIMIT = 20;
/** `--run` without `--limit` shows the whole run, up to this many events. */
const RUN_EVENTS_LIMIT = 100_000;

export function registerHistory(program: Command, run: (action: () => Promise<number>) => Promise<void>): void {
  program
    .command('history')
    .description('list recent runs, or the events of one run (--run) or matching --ref/--type, newest first')
    .option('--db <url>', 'portal database (env PORTAL_SYNC_DB, then DATABASE_URL); read only, never created')
    .option('--command <name>', 'only runs of this command (devices, edge, ...)')
    .option('--run <id>', 'show the events of this run')
    .option('--ref <ref>', 'only events about this record (a device id...)')
    .option('--type <type>', `only events of this type: ${EVENT_TYPES.join(', ')}`)
    .option('--since <date>', 'from this date or ISO instant')
    .option('--until <date>', 'before this date or ISO instant')
    .option('--limit <n>', `at most this many rows (default ${DEFAULT_LIMIT}; with --run, the whole run)`)
    .addOption(new Option('--log-format <format>', 'errors on stderr as text or json lines').choices(['text', 'json']).default('text'))
    .option('--json', 'print JSON on stdout')
    .addHelpText(
      'after',
      '\nExamples:\n  portal-sync history --command devices\n  portal-sync history --run 42\n  portal-sync history --ref dev-000017 --since 2026-11-01',
    )
    // The program's own subcommands are the names a run can be recorded under: a typo is refused, not answered with nothing.
    .action((opts: HistoryOptions, self: Command) => run(() => history(opts, (self.parent?.commands ?? []).map((c) => c.name()))));
}

interface Query {
  runId: number | undefined;
  command: string | undefined;
  ref: string | undefined;
  type: string | undefined;
  since: Date | undefined;
  until: Date | undefined;
  limit: number;
}

/** Every flag checked before the database is opened: a usage error (64) never waits for a connection. */
function parseQuery(opts: HistoryOptions, commandNames: readonly string[]): Query {
  const runId = opts.run === undefined ? undefined : Number(opts.run);
  if (runId !== undefined && !Number.isInteger(runId)) throw new UsageError('--run must be a run id (a number)');
  const limit = opts.limit === undefined ? (runId === undefined ? DEFAULT_LIMIT : RUN_EVENTS_LIMIT) : Number(opts.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError('--limit must be a positive whole number');
  return {
    runId,
    command: oneOf('--command', opts.command, commandNames),
    ref: opts.ref,
    type: oneOf('--type', opts.type, EVENT_TYPES),
    since: parseDate(opts.since, '--since'),
    until: parseDate(opts.until, '--until'),
    limit,
  };
}

function oneOf(flag: string, value: string | undefined, known: readonly string[]): string | undefined {
  if (value === undefined || known.includes(value)) return value;
  throw new UsageError(`${flag} must be one of ${known.join(', ')}; got "${value}"`);
}

async function history(opts: HistoryOptions, commandNames: readonly string[]): Promise<number> {
  const query = parseQuery(opts, commandNames);
  const target = resolveDb(opts.db, process.env);
  const db = await openExistingStore(target, 'read');
  try {
    if (query.runId !== undefined || query.ref || query.type) {
      const runRow = query.runId === undefined ? null : await getRun(db, query.runId);
      if (query.runId !== undefined && !runRow) {
        process.stderr.write(`error: no run ${query.runId} in ${target.display}\n`);
        return EXIT.failed;
      }
      const { rows: events, more } = await page(query.limit, (limit) => listEvents(db, { ...query, limit }), () => countEvents(db, query));
      if (opts.json) process.stdout.write(JSON.stringify({ run: runRow, events, more }, null, 2) + '\n');
      else process.stdout.write((runRow ? runTable([runRow]) + '\n' : '') + eventTable(events) + moreLine(more));
      return EXIT.ok;
    }
    const { rows: runs, more } = await page(query.limit, (limit) => listRuns(db, { ...query, limit }), () => countRuns(db, query));
    if (opts.json) process.stdout.write(JSON.stringify({ runs, more }, null, 2) + '\n');
    else process.stdout.write((runs.length ? runTable(runs) : 'No runs recorded yet.') + moreLine(more));
    return EXIT.ok;
  } catch (error) {
    throw new Error(`cannot read the run log in ${target.display}: ${describeDbError(target, error)}`, { cause: error });
  } finally {
    await db.destroy();
  }
}

/**
 * At most `limit` rows and how many more match. One row past the limit says whether the list was
 * cut; only then does a COUNT run, so an uncut list costs one query.
 */
async function page<T>(limit: number, list: (limit: number) => Promise<T[]>, count: () => Promise<number>): Promise<{ rows: T[]; more: number }> {
  const rows = await list(limit + 1);
  if (rows.length <= limit) return { rows, more: 0 };
  // Rows pruned between the two queries must not make it say none: one more row was seen.
  return { rows: rows.slice(0, limit), more: Math.max(1, (await count()) - limit) };
}

function moreLine(more: number): string {
  return more > 0 ? `\n... ${more} more (use --limit)\n` : '\n';
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
