import type { Knex } from 'knex';
import { clientOf } from './db.js';
import { mapLazily, toBool, toIso } from './rows.js';
import { declaredColumn } from './schema.js';
import { columns, insertRows } from './sql.js';

const EVENT_TABLE = columns({ run_id: 'integer', at: 'timestamptz', level: 'text', type: 'text', ref: 'text', message: 'text' });

export type RunStatus = 'ok' | 'partial' | 'failed' | 'refused' | 'interrupted';
export type EventLevel = 'info' | 'warn' | 'error';

/**
 * Every type of event a run records: `history --type` accepts these and nothing else, so a typo is
 * an error instead of an empty list. A new type of event belongs here.
 */
export const EVENT_TYPES = [
  'skip',
  'fail',
  'warning',
  'create',
  'update',
  'delete',
  'guard',
  'stale',
  'conflict',
  'listing',
  'deletes-withheld',
  'error',
  'interrupted',
  'action',
  'withheld',
  'discrepancy',
  'override',
  'validation',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

export interface RunEvent {
  level: EventLevel;
  type: string;
  ref: string | null;
  message: string;
}

export interface RunRecord {
  command: string;
  status: RunStatus;
  dryRun: boolean;
  startedAt: Date;
  finishedAt: Date;
  exitCode: number;
  summary: unknown;
  error: string | null;
}

export interface StoredRun extends Omit<RunRecord, 'startedAt' | 'finishedAt'> {
  id: number;
  startedAt: string;
  finishedAt: string | null;
}

export interface StoredEvent extends RunEvent {
  id: number;
  runId: number;
  at: string;
}

/** Writes a run and its events; call it inside the pass's transaction so the log matches the data. */
export async function recordRun(db: Knex | Knex.Transaction, run: RunRecord, events: readonly RunEvent[]): Promise<number> {
  const inserted: Array<{ id: number } | number> = await db('sync_runs')
    .insert({
      command: run.command,
      status: run.status,
      dry_run: run.dryRun,
      started_at: run.startedAt.toISOString(),
      finished_at: run.finishedAt.toISOString(),
      exit_code: run.exitCode,
      summary: JSON.stringify(run.summary),
      error: run.error === null ? null : withoutNul(run.error),
    })
    .returning('id');
  const first = inserted[0]!;
  const runId = typeof first === 'number' ? first : Number(first.id);
  const at = run.finishedAt.toISOString();
  const rows = mapLazily(events, (e) => [runId, at, e.level, e.type, e.ref === null ? null : storableRef(e.ref), withoutNul(e.message)]);
  await insertRows(db, clientOf(db), 'sync_events', EVENT_TABLE, rows);
  return runId;
}

/**
 * What a run did after its commit (remote actions): its events added, its status, exit code and
 * summary brought up to date. Outside the pass's transaction, which is over by then.
 */
export async function completeRun(
  db: Knex,
  runId: number,
  run: Pick<RunRecord, 'status' | 'exitCode' | 'summary' | 'finishedAt' | 'error'>,
  events: readonly RunEvent[],
): Promise<void> {
  await db.transaction(async (trx) => {
    await trx('sync_runs')
      .where('id', runId)
      .update({
        status: run.status,
        exit_code: run.exitCode,
        finished_at: run.finishedAt.toISOString(),
        summary: JSON.stringify(run.summary),
        error: run.error === null ? null : withoutNul(run.error),
      });
    const at = run.finishedAt.toISOString();
    const rows = mapLazily(events, (e) => [runId, at, e.level, e.type, e.ref === null ? null : storableRef(e.ref), withoutNul(e.message)]);
    await insertRows(trx, clientOf(trx), 'sync_events', EVENT_TABLE, rows);
  });
}

/** The column limit of `sync_events.ref`: a record whose key cannot be stored still gets its event. */
const REF_LENGTH = declaredColumn('sync_events', 'ref').spec.length!;

/** A key as an event's ref: NUL shown as `\0`, cut to the column's length with an ellipsis. */
export function storableRef(ref: string): string {
  const clean = withoutNul(ref);
  const characters = [...clean];
  return characters.length <= REF_LENGTH ? clean : characters.slice(0, REF_LENGTH - 1).join('') + '…';
}

/** PostgreSQL text cannot hold NUL; a message quoting a bad value must still be recorded. */
function withoutNul(text: string): string {
  return text.includes('\u0000') ? text.replace(/\u0000/g, '\\0') : text;
}

export interface RunFilter {
  command?: string;
  since?: Date;
  until?: Date;
  limit?: number;
}

/** Newest first. */
export async function listRuns(db: Knex, filter: RunFilter): Promise<StoredRun[]> {
  const q = db('sync_runs').select('*').orderBy('id', 'desc').limit(filter.limit ?? 20);
  const rows: Array<Record<string, unknown>> = await whereRun(q, filter);
  return rows.map(toStoredRun);
}

/** How many runs match, whatever the limit. */
export async function countRuns(db: Knex, filter: RunFilter): Promise<number> {
  return countOf(await whereRun(db('sync_runs'), filter).count({ n: '*' }));
}

function whereRun<Q extends Knex.QueryBuilder>(q: Q, filter: RunFilter): Q {
  if (filter.command) q.where('command', filter.command);
  if (filter.since) q.where('started_at', '>=', filter.since.toISOString());
  if (filter.until) q.where('started_at', '<', filter.until.toISOString());
  return q;
}

export async function getRun(db: Knex, id: number): Promise<StoredRun | null> {
  const row: Record<string, unknown> | undefined = await db('sync_runs').where('id', id).first();
  return row ? toStoredRun(row) : null;
}

export interface EventFilter {
  runId?: number;
  command?: string;
  ref?: string;
  type?: string;
  since?: Date;
  until?: Date;
  limit?: number;
}

/** Newest first, as runs are: a cut list shows what happened last. */
export async function listEvents(db: Knex, filter: EventFilter): Promise<StoredEvent[]> {
  const q = db('sync_events as e').select('e.*').orderBy('e.id', 'desc').limit(filter.limit ?? 1000);
  const rows: Array<Record<string, unknown>> = await whereEvent(db, q, filter);
  return rows.map((r) => ({
    id: Number(r.id),
    runId: Number(r.run_id),
    at: toIso(r.at) ?? '',
    level: r.level as EventLevel,
    type: String(r.type),
    ref: r.ref === null ? null : String(r.ref),
    message: String(r.message),
  }));
}

/** How many events match, whatever the limit. */
export async function countEvents(db: Knex, filter: EventFilter): Promise<number> {
  return countOf(await whereEvent(db, db('sync_events as e'), filter).count({ n: '*' }));
}

function whereEvent<Q extends Knex.QueryBuilder>(db: Knex, q: Q, filter: EventFilter): Q {
  if (filter.runId !== undefined) q.where('e.run_id', filter.runId);
  if (filter.command) q.whereIn('e.run_id', db('sync_runs').select('id').where('command', filter.command));
  if (filter.ref) q.where('e.ref', filter.ref);
  if (filter.type) q.where('e.type', filter.type);
  if (filter.since) q.where('e.at', '>=', filter.since.toISOString());
  if (filter.until) q.where('e.at', '<', filter.until.toISOString());
  return q;
}

function countOf(rows: Array<Record<string, unknown>>): number {
  return Number(rows[0]?.n ?? 0);
}

/** Rows one DELETE of `pruneEvents` removes at most: short statements, short locks, whatever the table's size. */
export const PRUNE_BATCH = 10_000;

export interface PruneCounts {
  events: number;
  runs: number;
}

/**
 * Deletes the events recorded before `before`, then the runs that finished before it and have no
 * event left: the run log keeps what happened since the cut, whole. Works in id ranges of at most
 * `batchSize` rows, each DELETE its own statement (and transaction), so pruning a huge table never
 * holds one long lock over the passes that keep writing to it.
 */
export async function pruneEvents(db: Knex, before: Date, batchSize = PRUNE_BATCH): Promise<PruneCounts> {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive whole number, got ${batchSize}`);
  const cut = before.toISOString();
  const events = await deleteInIdRanges(db, 'sync_events', batchSize, (q) => oldEvents(q, cut));
  const runs = await deleteInIdRanges(db, 'sync_runs', batchSize, (q) => oldRuns(db, q, cut));
  return { events, runs };
}

/** What `pruneEvents` would delete now, changing nothing. */
export async function countPrunable(db: Knex, before: Date): Promise<PruneCounts> {
  const cut = before.toISOString();
  const events = countOf(await oldEvents(db('sync_events'), cut).count({ n: '*' }));
  const runs = countOf(await oldRuns(db, db('sync_runs'), cut).count({ n: '*' }));
  return { events, runs };
}

function oldEvents(q: Knex.QueryBuilder, cut: string): Knex.QueryBuilder {
  return q.where('at', '<', cut);
}

/** Finished before the cut, with no event at or after it: nothing of the run outlives the prune. */
function oldRuns(db: Knex, q: Knex.QueryBuilder, cut: string): Knex.QueryBuilder {
  return q
    .whereRaw('coalesce(finished_at, started_at) < ?', [cut])
    .whereNotExists(db('sync_events').select(db.raw('1')).whereRaw('sync_events.run_id = sync_runs.id').where('sync_events.at', '>=', cut));
}

async function deleteInIdRanges(db: Knex, table: string, batchSize: number, only: (q: Knex.QueryBuilder) => Knex.QueryBuilder): Promise<number> {
  const bounds = (await only(db(table)).min({ lo: 'id' }).max({ hi: 'id' }).first()) as { lo: unknown; hi: unknown } | undefined;
  if (bounds?.lo === null || bounds?.lo === undefined) return 0;
  const last = Number(bounds.hi);
  let deleted = 0;
  for (let from = Number(bounds.lo); from <= last; ) {
    // The range ends `batchSize` rows further along the primary key, not at `from + batchSize`: it
    // holds at most that many rows, and sparse ids (earlier prunes) never mean many empty statements.
    const next: { id: unknown } | undefined = await db(table).select('id').where('id', '>=', from).orderBy('id').offset(batchSize).first();
    const to = next === undefined ? last + 1 : Math.min(Number(next.id), last + 1);
    deleted += Number(await only(db(table).where('id', '>=', from).andWhere('id', '<', to)).del());
    from = to;
  }
  return deleted;
}

function toStoredRun(r: Record<string, unknown>): StoredRun {
  return {
    id: Number(r.id),
    command: String(r.command),
    status: r.status as RunStatus,
    dryRun: toBool(r.dry_run) === true,
    startedAt: toIso(r.started_at) ?? '',
    finishedAt: toIso(r.finished_at),
    exitCode: Number(r.exit_code),
    summary: r.summary ? JSON.parse(String(r.summary)) : null,
    error: r.error === null || r.error === undefined ? null : String(r.error),
  };
}
