/**
 * What a `navixy-customers` pass shows and pushes: the diff table (every plan line with its outcome,
 * up to --max-rows), the `--json` document (every line), one record line under --log-format json,
 * and its gauges on the Pushgateway. No hash anywhere: plan lines carry references and ids only.
 */
import { Chalk } from 'chalk';
import Table from 'cli-table3';
import type { PassConfig } from '../config.js';
import type { NavixyLine } from '../reconcile/navixy.js';
import type { Logger } from '../run/log.js';
import type { CommandGauge } from '../run/metrics.js';
import { COMPACT, runJsonHead, runLineHead } from '../run/output.js';
import { peakRssBytes } from '../run/peak-rss.js';
import { writeStdout } from '../run/stdout.js';
import { pushRunMetricsOrWarn, runMetricsHead } from '../run/push-run-metrics.js';
import type { NavixyActionResult, NavixyOutcome } from './navixy-act.js';
import type { NavixyResult } from './navixy-run.js';

const MARKER: Record<NavixyLine['kind'], string> = { close: '-', establish: '+', skip: '~', override: '=', 'stale-override': '!' };

interface ShownLine {
  readonly line: NavixyLine;
  readonly outcome: NavixyOutcome | null;
}

/** Every plan line, with the outcome of its action when it has one. */
function linesOf(result: NavixyResult): ShownLine[] {
  const outcomes = new Map<NavixyLine, NavixyActionResult['outcome']>(result.actions.map((a) => [a.line, a.outcome]));
  return (result.plan?.lines ?? []).map((line) => ({ line, outcome: outcomes.get(line) ?? null }));
}

function reasonOf(line: NavixyLine): string {
  switch (line.kind) {
    case 'close':
      return `${line.reason}: ${line.detail}`;
    case 'establish':
    case 'skip':
      return line.reason;
    case 'override':
      return `${line.mode} override${line.reason ? `: ${line.reason}` : ''}`;
    case 'stale-override':
      return `stale ${line.mode} override: no such customer`;
  }
}

function outcomeText(outcome: NavixyOutcome | null): string {
  if (outcome === null) return '';
  if (outcome.status === 'done') return outcome.message;
  if (outcome.status === 'failed') return `FAILED: ${outcome.error}`;
  return `not done: ${outcome.reason}`;
}

export function navixyJson(result: NavixyResult) {
  return {
    ...runJsonHead(result),
    customers: result.customers,
    counts: result.plan?.counts ?? null,
    guard: result.plan ? { refused: result.plan.guard.refused, wouldClose: result.plan.guard.wouldClose, activeConnections: result.plan.guard.active } : null,
    lines: linesOf(result).map(({ line, outcome }) => ({
      kind: line.kind,
      ref: line.ref,
      ...(line.kind === 'close' ? { connectionId: line.connectionId, reason: line.reason, detail: line.detail } : {}),
      ...(line.kind === 'establish' || line.kind === 'skip' ? { reason: line.reason } : {}),
      ...(line.kind === 'override' ? { mode: line.mode, reason: line.reason } : {}),
      ...(line.kind === 'stale-override' ? { mode: line.mode } : {}),
      ...(outcome ? { outcome } : {}),
    })),
    validation: result.validation
      ? {
          ok: result.validation.ok,
          problems: result.validation.problems,
          problemCount: result.validation.problemCount,
          consecutiveDiscrepantPasses: result.validation.consecutiveDiscrepantPasses,
          counts: result.validation.counts,
        }
      : null,
    apiCalls: result.apiCalls,
    peakRssBytes: peakRssBytes(),
    error: result.error,
  };
}

export function printNavixyResult(result: NavixyResult, config: PassConfig, log: Logger): void {
  if (config.json) {
    writeStdout(JSON.stringify(navixyJson(result), null, 2) + '\n');
    return;
  }
  if (result.plan === null) log.error(result.error ?? result.status);
  if (config.logFormat === 'json') {
    writeStdout(JSON.stringify({ ...runLineHead(result, 'pass'), counts: result.plan?.counts ?? null, validation: navixyJson(result).validation, apiCalls: result.apiCalls, error: result.error }) + '\n');
    return;
  }
  if (result.plan !== null) writeStdout(renderNavixyTable(result, config) + '\n');
}

export function renderNavixyTable(result: NavixyResult, config: Pick<PassConfig, 'color' | 'maxRows'>): string {
  const chalk = new Chalk({ level: config.color ? 1 : 0 });
  const plan = result.plan!;
  const c = plan.counts;
  const out: string[] = [];
  out.push(
    `${result.command}${result.dryRun ? ' (dry run)' : ''}: ${result.customers} customers, ${c.eligible} eligible, ${c.inStep} in step; ` +
      `${c.connections} active connections: ${c.missing} missing, ${c.extra} extra (${c.suspendedWithConnection} of suspended or removed customers); ` +
      `${c.skipped} skipped, ${c.overridden} overridden`,
  );
  const lines = linesOf(result);
  if (lines.length > 0) {
    const table = new Table({ head: ['', 'customer', 'connection', 'reason', 'outcome'], style: { head: [], border: [] }, chars: COMPACT, wordWrap: true });
    const colour = (line: NavixyLine, text: string) =>
      line.kind === 'close' ? chalk.red(text) : line.kind === 'establish' ? chalk.green(text) : line.kind === 'skip' ? chalk.yellow(text) : text;
    for (const { line, outcome } of lines.slice(0, config.maxRows)) {
      table.push([colour(line, `${MARKER[line.kind]} ${line.kind}`), line.ref, line.kind === 'close' ? line.connectionId : '', reasonOf(line), outcomeText(outcome)]);
    }
    out.push(table.toString());
    if (lines.length > config.maxRows) out.push(`... and ${lines.length - config.maxRows} more (--max-rows, or --json for every line)`);
  }
  if (plan.guard.refused) out.push(chalk.red(result.error ?? 'refused by the mass-delete guard'));
  if (result.validation) {
    const v = result.validation;
    out.push(
      v.ok
        ? `validation: passed (${v.counts.connections} active connections for ${v.counts.eligible} eligible customers)`
        : chalk.red(`validation: FAILED (${v.consecutiveDiscrepantPasses} pass${v.consecutiveDiscrepantPasses === 1 ? '' : 'es'} in a row): ${v.problems.slice(0, 5).join('; ')}${v.problemCount > 5 ? `; and ${v.problemCount - 5} more` : ''}`),
    );
  }
  const calls = Object.entries(result.apiCalls).map(([op, n]) => `${op} ${n}`);
  out.push(`API calls: ${calls.length > 0 ? calls.join(', ') : 'none'}`);
  return out.join('\n');
}

/** The gauges of the connections as the pass left them (its validation), beside the run's own metrics. */
export function navixyGauges(result: NavixyResult): CommandGauge[] {
  const v = result.validation;
  if (v === null) return [];
  const failures = (kind: 'establish' | 'close') => result.actions.filter((a) => a.line.kind === kind && a.outcome.status === 'failed').length;
  const one = (name: string, help: string, value: number): CommandGauge => ({ name, help, values: [{ value }] });
  return [
    one('portal_sync_navixy_eligible_customers', 'Eligible Navixy customers in the customer database (overrides excluded).', v.counts.eligible),
    one('portal_sync_navixy_active_connections', 'Active forwarding connections after the last pass (overridden customers excluded).', v.counts.connections),
    one('portal_sync_navixy_missing_connections', 'Eligible customers still without a connection on their current hash after the last pass.', v.counts.missing),
    one('portal_sync_navixy_extra_connections', 'Active connections that should not be, still there after the last pass.', v.counts.extra),
    one('portal_sync_navixy_suspended_with_connection', 'Suspended or removed customers still connected after the last pass.', v.counts.suspendedWithConnection),
    one('portal_sync_navixy_skipped_customers', 'Customers skipped with a reason (no hash, no gateway, unknown state, duplicate hash).', v.counts.skipped),
    {
      name: 'portal_sync_navixy_action_failures',
      help: 'Establishes and closes of the last pass that failed.',
      values: [
        { labels: { action: 'establish' }, value: failures('establish') },
        { labels: { action: 'close' }, value: failures('close') },
      ],
    },
    one('portal_sync_navixy_validation_ok', 'Whether the connections matched the eligible customers after the last pass (1) or not (0).', v.ok ? 1 : 0),
    one('portal_sync_navixy_consecutive_discrepant_passes', 'Passes in a row, up to the last, whose validation failed: alert when above 2.', v.consecutiveDiscrepantPasses),
  ];
}

export function pushNavixyMetrics(url: string, result: NavixyResult, log: Logger): Promise<void> {
  const count = (kind: 'establish' | 'close', status: NavixyOutcome['status']) => result.actions.filter((a) => a.line.kind === kind && a.outcome.status === status).length;
  return pushRunMetricsOrWarn(
    url,
    {
      ...runMetricsHead(result),
      changes: { create: count('establish', 'done'), update: 0, delete: count('close', 'done') },
      records: { unchanged: result.plan?.counts.inStep ?? 0, skipped: result.plan?.counts.skipped ?? 0, failed: result.actions.filter((a) => a.outcome.status === 'failed').length },
      apiCalls: result.apiCalls,
      gauges: navixyGauges(result),
    },
    log,
  );
}
