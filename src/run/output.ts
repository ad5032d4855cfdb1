import { Chalk, type ChalkInstance } from 'chalk';
import Table from 'cli-table3';
import { hasChanges, type FieldChange } from '../reconcile/index.js';
import { describeFieldChange } from './field-diff.js';
import type { PassResult } from './pass.js';
import { countActions, type ActionResult } from './remote-actions.js';

export const JSON_SCHEMA_VERSION = 1;

/** No rule between rows: a plan of many rows stays readable. */
export const COMPACT = { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' };

/**
 * The `--json` document: stable, documented in the README. Secret values are never included.
 * Written in pieces, one change per line, so a pass of 100,000 creates never builds one huge string.
 */
export function writeJson(result: PassResult, write: (chunk: string) => void): void {
  const plan = result.plan;
  const head = {
    ...runJsonHead(result),
    summary: result.summary,
    applied: result.applied
      ? {
          create: result.applied.created.length,
          update: result.applied.updated.length,
          delete: result.applied.deleted.length,
          conflicts: result.applied.conflicts,
        }
      : null,
  };
  const tail = {
    skipped: plan ? plan.skipped.map((s) => ({ ref: s.key, reason: s.reason })) : [],
    failed: [
      ...(plan ? plan.failed.map((f) => ({ ref: f.key, error: f.error })) : []),
      ...(result.applied ? result.applied.failed.map((f) => ({ ref: f.key, error: f.error })) : []),
      ...(result.listingError ? [{ ref: null, error: result.listingError }] : []),
    ],
    stale: plan ? plan.stale.map((s) => ({ ref: s.key, remoteVersion: s.remoteVersion, storedVersion: s.storedVersion })) : [],
    warnings: plan ? plan.warnings.map((w) => ({ ref: w.key, message: w.message })) : [],
    deletesWithheld: plan?.deletesWithheld ?? null,
    remoteActions: result.actions.map(actionJson),
    guard: plan ? plan.guard : null,
    apiCalls: { total: Object.values(result.apiCalls).reduce((a, b) => a + b, 0), operations: result.apiCalls },
    quota: { throttledRequests: result.quota.throttled, waitSeconds: Math.round(result.quota.waitMs) / 1000 },
    peakRssBytes: result.peakRssBytes,
    error: result.error,
  };
  const headText = JSON.stringify(head, null, 2);
  write(headText.slice(0, -2) + ',\n  "changes": [');
  let first = true;
  const change = (c: unknown) => {
    write((first ? '\n    ' : ',\n    ') + JSON.stringify(c));
    first = false;
  };
  if (plan) {
    for (const c of plan.create) change({ action: 'create', ref: c.key, version: c.version });
    for (const u of plan.update) {
      change({
        action: 'update',
        ref: u.desired.key,
        version: u.desired.version,
        cause: u.cause,
        fields: u.changes.map((f) => (f.secret ? { field: f.field, secret: true } : { field: f.field, old: f.old ?? null, new: f.new ?? null })),
      });
    }
    for (const d of plan.delete) change({ action: 'delete', ref: d.key, version: d.version });
  }
  write(first ? '],\n' : '\n  ],\n');
  write(JSON.stringify(tail, null, 2).slice(2) + '\n');
}


/** One remote action in the JSON document: what, on which ref, and its outcome. */
function actionJson({ action, outcome }: ActionResult) {
  const base = { kind: action.kind, ref: action.ref, description: action.description, outcome: outcome.status };
  switch (outcome.status) {
    case 'done':
      return { ...base, message: outcome.message };
    case 'failed':
      return { ...base, error: outcome.error };
    case 'skipped':
      return { ...base, reason: outcome.reason };
  }
}

/** The marker of a remote action in the diff table: something the pass does on the remote side, not to a row. */
export const ACTION_MARKER = '>';

export interface TableOptions {
  color: boolean;
  maxRows: number;
  /** Columns the table may take, or null for no limit (output to a file). */
  width?: number | null;
}

/** Borders and padding of a three-column table: `│ m │ key │ change │`. */
const TABLE_OVERHEAD = 10;

/** How wide the key and change columns may be: keys get up to a third, changes the rest. */
function columnWidths(rows: ReadonlyArray<{ key: string; text: string }>, noun: string, width: number | null | undefined) {
  if (!width) return { key: Infinity, change: Infinity };
  const available = Math.max(20, width - TABLE_OVERHEAD - 1);
  const longestKey = Math.max(noun.length, ...rows.map((r) => [...r.key].length));
  const key = Math.min(longestKey, Math.max(12, Math.floor(available / 3)));
  return { key, change: Math.max(8, available - key) };
}

/** `text` cut to `width` characters with an ellipsis. */
function fit(text: string, width: number): string {
  if (text.length <= width) return text;
  const characters = [...text];
  return characters.length <= width ? text : characters.slice(0, width - 1).join('') + '…';
}

/** The diff for people: one row per change, long lists cut, and a summary line always. */
export function renderTable(result: PassResult, opts: TableOptions): string {
  const c = new Chalk({ level: opts.color ? 1 : 0 });
  const lines: string[] = [];
  const plan = result.plan;
  if (plan) {
    type Row = { marker: string; key: string; text: string; paint: (s: string) => string };
    const rows: Row[] = [];
    const shownKey = (key: string) => {
      const name = result.nameOf?.(key) ?? null;
      return name === null || name === key ? key : `${name} (${key})`;
    };
    const row = (marker: string, key: string, text: string, paint: (s: string) => string) => rows.push({ marker, key: shownKey(key), text, paint });
    // Members of a set (gateway ids) have no fields and no version: they are added and removed.
    const member = (fields: object) => Object.keys(fields).length === 0;
    const versioned = result.versioned !== false;
    for (const d of plan.create) row('+', d.key, member(d.fields) ? 'add' : versioned ? `create (version ${d.version})` : 'create', c.green);
    for (const u of plan.update) row('~', u.desired.key, describeChanges(u.changes), (s) => s);
    for (const d of plan.delete) row('-', d.key, member(d.fields) ? 'remove' : versioned ? `delete (stored version ${d.version})` : 'delete', c.red);
    for (const a of result.actions) row(ACTION_MARKER, a.action.ref, describeAction(a, result.dryRun), a.outcome.status === 'failed' ? c.red : c.magenta);
    for (const s of plan.skipped) row('!', s.key, `skipped: ${s.reason}`, c.dim);
    for (const w of plan.warnings) row('?', w.key, `warning: ${w.message}`, c.yellow);
    for (const f of [...plan.failed, ...(result.applied?.failed ?? [])]) row('x', f.key, `failed: ${f.error}`, c.red);
    for (const s of plan.stale) row('=', s.key, `kept: stored version ${s.storedVersion} is newer than ${s.remoteVersion}`, c.dim);
    const MARKER_PAINT: Record<string, (s: string) => string> = {
      '+': c.green,
      '~': c.yellow,
      '-': c.red,
      '!': c.dim,
      '?': c.yellow,
      x: c.red,
      '=': c.dim,
      [ACTION_MARKER]: c.magenta,
    };
    if (rows.length > 0) {
      const shown = rows.slice(0, opts.maxRows);
      const widths = columnWidths(shown, result.noun, opts.width);
      const table = new Table({
        head: ['', result.noun, 'change'],
        style: { head: opts.color ? ['bold'] : [], border: opts.color ? ['grey'] : [] },
        // Cells are cut to fit beforehand: a row never wraps, whatever the terminal.
        wordWrap: false,
        chars: COMPACT,
      });
      for (const r of shown) {
        table.push([MARKER_PAINT[r.marker]!(r.marker), fit(r.key, widths.key), r.paint(r.text.split('\n').map((l) => fit(l, widths.change)).join('\n'))]);
      }
      lines.push(table.toString());
      if (rows.length > opts.maxRows) lines.push(`... and ${(rows.length - opts.maxRows).toLocaleString('en-US')} more`);
    }
  }
  lines.push(summaryLine(result, c));
  if (result.listingError) {
    lines.push(c.red(`The listing did not complete (${result.listingError}): no ${result.noun} was deleted.`));
  }
  if (plan?.guard.refused) {
    lines.push(c.red(result.error ?? 'mass-delete guard refused the pass'));
  } else if (result.status === 'locked' || result.status === 'failed' || result.status === 'interrupted') {
    lines.push(c.red(result.error ?? result.status));
  }
  if (result.applied && result.applied.conflicts.length > 0) {
    lines.push(c.yellow(`${result.applied.conflicts.length} row(s) left as another writer had changed them meanwhile.`));
  }
  if (plan && !plan.guard.refused && result.status !== 'failed') {
    const seconds = ((result.finishedAt.getTime() - result.startedAt.getTime()) / 1000).toFixed(2);
    lines.push(
      result.dryRun
        ? c.dim('Dry run: nothing was changed.')
        : c.dim(
            `${hasChanges(plan) ? 'Applied' : 'Done'} in ${seconds}s (run ${result.runId ?? '-'}, ${plural(totalCalls(result), 'API call')}${quotaNote(result)}).`,
          ),
    );
  }
  return lines.join('\n');
}

/** `; 339 throttled, 100.8 s waited on the quota` when the provider throttled the pass. */
function quotaNote(result: PassResult): string {
  if (result.quota.throttled === 0) return '';
  return `; ${result.quota.throttled.toLocaleString('en-US')} throttled, ${(result.quota.waitMs / 1000).toFixed(1)} s waited on the quota`;
}

function summaryLine(result: PassResult, c: ChalkInstance): string {
  const s = result.summary;
  const n = (x: number) => x.toLocaleString('en-US');
  if (!result.plan) return '';
  const tail = [`${n(s.unchanged)} unchanged`, `${n(s.skipped)} skipped`, ...(s.failed > 0 ? [`${n(s.failed)} failed`] : [])].join(', ');
  const actions = result.actions.length;
  if (s.create + s.update + s.delete + actions === 0) return `${c.bold('No changes.')} ${tail}.`;
  const remote = actions === 0 ? '' : `, ${plural(actions, 'remote action')}${actionTally(result.actions, result.dryRun)}`;
  return `${c.bold('Plan:')} ${n(s.create)} to create, ${n(s.update)} to update, ${n(s.delete)} to delete${remote}, ${tail}.`;
}

/** A remote action's row: what it does, then (unless the plan is only shown) what became of it. */
function describeAction({ action, outcome }: ActionResult, dryRun: boolean): string {
  switch (outcome.status) {
    case 'done':
      return `${action.description}: done, ${outcome.message}`;
    case 'failed':
      return `${action.description}: failed: ${outcome.error}`;
    case 'skipped':
      return dryRun ? action.description : `${action.description}: not done (${outcome.reason})`;
  }
}

/** ` (2 done, 1 failed)` after the count of actions, once they ran. */
function actionTally(actions: readonly ActionResult[], dryRun: boolean): string {
  if (dryRun) return '';
  const counts = countActions(actions);
  const parts = [
    ...(counts.done > 0 ? [`${counts.done} done`] : []),
    ...(counts.failed > 0 ? [`${counts.failed} failed`] : []),
    ...(counts.skipped > 0 ? [`${counts.skipped} not done`] : []),
  ];
  return ` (${parts.join(', ')})`;
}

function describeChanges(changes: readonly FieldChange[]): string {
  return changes.flatMap(describeFieldChange).join('\n');
}

function totalCalls(result: PassResult): number {
  return Object.values(result.apiCalls).reduce((a, b) => a + b, 0);
}

function plural(n: number, noun: string): string {
  return `${n.toLocaleString('en-US')} ${noun}${n === 1 ? '' : 's'}`;
}

/**
 * The one line a run writes on stdout under `--log-format json` without `--json`: a log pipeline
 * gets one parseable record per run, in the shape of the JSON log lines on stderr.
 */
export function runRecordLine(result: PassResult): Record<string, unknown> {
  return {
    ...runLineHead(result, 'pass'),
    summary: result.summary,
    applied: result.applied
      ? { create: result.applied.created.length, update: result.applied.updated.length, delete: result.applied.deleted.length, conflicts: result.applied.conflicts.length }
      : null,
    ...(result.actions.length > 0 ? { remoteActions: countActions(result.actions) } : {}),
    apiCalls: totalCalls(result),
    error: result.error,
  };
}

/** What every command's one-line run record starts with (`--log-format json` without `--json`). */
export interface RunLineFacts {
  readonly command: string;
  readonly status: string;
  readonly dryRun: boolean;
  readonly exitCode: number;
  readonly runId: number | null;
  readonly startedAt: Date;
  readonly finishedAt: Date;
}

/** What every command's `--json` document starts with, in this order. */
export function runJsonHead(run: RunLineFacts) {
  return {
    schemaVersion: JSON_SCHEMA_VERSION,
    command: run.command,
    status: run.status,
    dryRun: run.dryRun,
    exitCode: run.exitCode,
    runId: run.runId,
    startedAt: run.startedAt.toISOString(),
    finishedAt: run.finishedAt.toISOString(),
    durationMs: run.finishedAt.getTime() - run.startedAt.getTime(),
  };
}

export function runLineHead(run: RunLineFacts, noun: string): Record<string, unknown> {
  const failed = run.status === 'failed' || run.status === 'locked' || run.status === 'refused' || run.status === 'interrupted';
  return {
    time: run.finishedAt.toISOString(),
    level: failed ? 'error' : run.status === 'partial' ? 'warn' : 'info',
    command: run.command,
    msg: `${run.command} ${run.dryRun ? 'dry run' : noun} ${run.status}`,
    status: run.status,
    dryRun: run.dryRun,
    exitCode: run.exitCode,
    runId: run.runId,
    durationMs: run.finishedAt.getTime() - run.startedAt.getTime(),
  };
}

