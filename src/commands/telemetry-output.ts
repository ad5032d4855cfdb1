import { Chalk } from 'chalk';
import Table from 'cli-table3';
import type { Logger, LogFormat } from '../run/log.js';
import { COMPACT, runJsonHead, runLineHead } from '../run/output.js';
import { peakRssBytes } from '../run/peak-rss.js';
import { writeStdout } from '../run/stdout.js';
import type { TelemetryResult } from './telemetry-run.js';
import type { PartitionTally } from './telemetry-tally.js';

export interface TelemetryPrintOptions {
  readonly json: boolean;
  readonly color: boolean;
  readonly logFormat: LogFormat;
  readonly detailedExitcode: boolean;
}

/** Prints a `telemetry` run: the `--json` document, one record line under --log-format json, or the tables. */
export async function printTelemetryResult(result: TelemetryResult, opts: TelemetryPrintOptions, log: Logger): Promise<void> {
  if (opts.json) {
    writeStdout(JSON.stringify(telemetryJson(result), null, 2) + '\n');
    return;
  }
  if (result.status === 'failed' || result.status === 'locked' || result.status === 'interrupted') log.error(result.error ?? result.status);
  if (opts.logFormat === 'json') {
    writeStdout(JSON.stringify({ ...runLineHead(result, 'run'), totals: totals(result.partitions), skipped: countsOf(result), stoppedBy: result.stoppedBy, error: result.error }) + '\n');
    return;
  }
  if (result.status === 'locked') return;
  writeStdout(renderTelemetryTable(result, opts.color) + '\n');
}

const sum = (partitions: readonly PartitionTally[], f: (p: PartitionTally) => number) => partitions.reduce((n, p) => n + f(p), 0);

function totals(partitions: readonly PartitionTally[]) {
  return {
    read: sum(partitions, (p) => p.read),
    stored: sum(partitions, (p) => p.stored),
    alreadyStored: sum(partitions, (p) => p.alreadyStored),
    skipped: sum(partitions, (p) => p.skipped),
    pruned: sum(partitions, (p) => p.pruned),
  };
}

const countsOf = (result: TelemetryResult) => Object.fromEntries(Object.entries(result.skipped).map(([reason, t]) => [reason, t.count]));

/** The `--json` document of `telemetry` (README, JSON output): stable, free of secrets. */
export function telemetryJson(result: TelemetryResult) {
  return {
    ...runJsonHead(result),
    hub: result.hub,
    totals: totals(result.partitions),
    partitions: result.partitions.map((p) => ({
      partitionId: p.partitionId,
      lastSequenceNumber: p.lastSequenceNumber,
      checkpoint: { from: p.fromSequenceNumber, to: p.toSequenceNumber },
      read: p.read,
      stored: p.stored,
      alreadyStored: p.alreadyStored,
      skipped: p.skipped,
      pruned: p.pruned,
      expired: p.expired,
      end: p.end,
      ownedBy: p.ownedBy,
      error: p.error,
    })),
    skipped: result.skipped,
    stoppedBy: result.stoppedBy,
    apiCalls: { total: result.managementCalls, operations: { management: result.managementCalls } },
    peakRssBytes: peakRssBytes(),
    error: result.error,
  };
}

function renderTelemetryTable(result: TelemetryResult, color: boolean): string {
  const c = new Chalk({ level: color ? 1 : 0 });
  const lines: string[] = [];
  const style = { head: color ? ['bold'] : [], border: color ? ['grey'] : [] };
  const right = (n: number) => ({ hAlign: 'right' as const, content: n.toLocaleString('en-US') });
  const seq = (n: number | null) => (n === null || n < 0 ? '-' : n.toLocaleString('en-US'));
  if (result.partitions.length > 0) {
    const table = new Table({ head: ['partition', 'checkpoint', 'read', 'stored', 'skipped', 'end'], style, wordWrap: false, chars: COMPACT });
    for (const p of result.partitions) {
      const end = p.end === 'failed' ? c.red(`failed: ${p.error ?? ''}`) : p.end === 'owned elsewhere' ? c.dim(`read by another run${p.ownedBy ? ` (${p.ownedBy})` : ''}`) : p.end;
      table.push([p.partitionId, `${seq(p.fromSequenceNumber)} -> ${seq(p.toSequenceNumber)}`, right(p.read), right(p.stored), right(p.skipped), end]);
    }
    lines.push(table.toString());
  }
  const reasons = Object.entries(result.skipped);
  if (reasons.length > 0) {
    const table = new Table({ head: ['skipped because', 'events', 'e.g.'], style, wordWrap: false, chars: COMPACT });
    for (const [reason, t] of reasons) table.push([reason, right(t.count), t.samples.slice(0, 3).join(', ')]);
    lines.push(table.toString());
  }
  const t = totals(result.partitions);
  const seconds = ((result.finishedAt.getTime() - result.startedAt.getTime()) / 1000).toFixed(2);
  const stopped = result.stoppedBy === null ? '' : `; stopped early (${result.stoppedBy}), the next run continues from the checkpoints`;
  const already = t.alreadyStored > 0 ? `, ${t.alreadyStored.toLocaleString('en-US')} already stored` : '';
  const pruned = t.pruned > 0 ? `, ${t.pruned.toLocaleString('en-US')} older rows pruned (newest 100 per device kept)` : '';
  if (result.dryRun) lines.push(c.dim(`Dry run: ${t.read.toLocaleString('en-US')} events read, ${t.stored.toLocaleString('en-US')} would be stored; nothing written (${seconds}s)${stopped}.`));
  else if (result.status !== 'failed' || t.read > 0)
    lines.push(c.dim(`${t.stored.toLocaleString('en-US')} of ${t.read.toLocaleString('en-US')} events stored${already}${pruned}; run ${result.runId ?? '-'}, ${seconds}s${stopped}.`));
  if (result.error && result.status === 'failed') lines.push(c.red(result.error));
  return lines.join('\n');
}
