import { Chalk } from 'chalk';
import Table from 'cli-table3';
import { FLEET_GAUGES, type FleetGauge } from '../run/fleet-gauges.js';
import { renderFleetGauges } from '../run/fleet-metrics.js';
import type { Logger, LogFormat } from '../run/log.js';
import { COMPACT, runJsonHead, runLineHead } from '../run/output.js';
import { writeStdout } from '../run/stdout.js';
import type { MetricsPushResult } from './metrics-push.js';

export type FleetFormat = 'table' | 'prometheus';

export interface FleetPrintOptions {
  readonly json: boolean;
  readonly format: FleetFormat;
  readonly color: boolean;
  readonly logFormat: LogFormat;
}

/** Prints a `metrics push` run: the `--json` document, the exposition text, or a table of the gauges. */
export async function printFleetResult(result: MetricsPushResult, opts: FleetPrintOptions, log: Logger): Promise<void> {
  if (opts.json) {
    writeStdout(JSON.stringify(fleetJson(result), null, 2) + '\n');
    return;
  }
  const ended = result.status === 'failed' || result.status === 'locked' || result.status === 'interrupted';
  if (ended) log.error(result.error ?? result.status);
  if (opts.format === 'prometheus') {
    writeStdout(await renderFleetGauges(result.readings.values));
    return;
  }
  if (opts.logFormat === 'json') {
    writeStdout(JSON.stringify(fleetRecordLine(result)) + '\n');
    return;
  }
  if (result.status === 'locked') return;
  writeStdout(renderFleetTable(result, opts.color) + '\n');
}

/** The `--json` document of `metrics push` (README, JSON output): stable, free of secrets. */
export function fleetJson(result: MetricsPushResult) {
  return {
    ...runJsonHead(result),
    provider: result.provider,
    source: result.source,
    instance: result.instance,
    gauges: result.readings.values,
    withheld: result.readings.withheld.map((w) => ({ gauges: w.gauges, kind: w.kind, reason: w.reason })),
    pushed: result.pushed,
    textfile: result.textfile,
    apiCalls: { total: Object.values(result.apiCalls).reduce((a, b) => a + b, 0), operations: result.apiCalls },
    quota: { throttledRequests: result.quota.throttled, waitSeconds: Math.round(result.quota.waitMs) / 1000 },
    error: result.error,
  };
}

/** One record per run under `--log-format json`, as the sync commands write. */
function fleetRecordLine(result: MetricsPushResult): Record<string, unknown> {
  return {
    ...runLineHead(result, 'run'),
    instance: result.instance,
    gauges: result.readings.values,
    withheld: result.readings.withheld.flatMap((w) => w.gauges),
    apiCalls: Object.values(result.apiCalls).reduce((a, b) => a + b, 0),
    error: result.error,
  };
}

function renderFleetTable(result: MetricsPushResult, color: boolean): string {
  const c = new Chalk({ level: color ? 1 : 0 });
  const lines: string[] = [];
  if (result.status !== 'failed' || Object.keys(result.readings.values).length > 0 || result.readings.withheld.length > 0) {
    const why = new Map<FleetGauge, { kind: string; reason: string }>();
    for (const w of result.readings.withheld) for (const g of w.gauges) why.set(g, w);
    const noted = result.readings.withheld.length > 0;
    const table = new Table({
      head: noted ? ['gauge', 'value', ''] : ['gauge', 'value'],
      style: { head: color ? ['bold'] : [], border: color ? ['grey'] : [] },
      wordWrap: false,
      chars: COMPACT,
    });
    for (const { name } of FLEET_GAUGES) {
      const value = result.readings.values[name];
      const withheld = why.get(name);
      if (value !== undefined) table.push([name, { hAlign: 'right', content: value.toLocaleString('en-US') }, ...(noted ? [''] : [])]);
      else if (withheld) table.push([c.dim(name), '', (withheld.kind === 'failed' ? c.red : c.dim)(`${withheld.kind === 'failed' ? 'withheld' : 'unavailable'}: ${withheld.reason}`)]);
    }
    lines.push(table.toString());
  }
  lines.push(deliveryLine(result, c));
  if (result.error && result.status === 'failed') lines.push(c.red(result.error));
  return lines.filter((l) => l !== '').join('\n');
}

function deliveryLine(result: MetricsPushResult, c: InstanceType<typeof Chalk>): string {
  const calls = Object.values(result.apiCalls).reduce((a, b) => a + b, 0);
  const seconds = ((result.finishedAt.getTime() - result.startedAt.getTime()) / 1000).toFixed(2);
  const where = [
    ...(result.pushed ? [`pushed to ${result.pushed.url} (job=${result.pushed.job}, instance=${result.pushed.instance})`] : []),
    ...(result.textfile
      ? [`written to ${result.textfile.path}${result.textfile.carriedOver.length > 0 ? ` (kept from the previous file: ${result.textfile.carriedOver.join(', ')})` : ''}`]
      : []),
  ];
  if (result.dryRun) return c.dim(`Dry run: nothing pushed or written (${calls.toLocaleString('en-US')} API calls, ${seconds}s).`);
  if (result.status === 'failed') return '';
  const sent = where.length > 0 ? where.join('; ') : 'printed only (no --pushgateway or --textfile)';
  return c.dim(`Gauges ${sent}; run ${result.runId ?? '-'}, ${calls.toLocaleString('en-US')} API call${calls === 1 ? '' : 's'}, ${seconds}s.`);
}
