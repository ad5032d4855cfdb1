/**
 * What a `jasper` pass shows and pushes: per service provider, where its listing stands and what the
 * promotion changes (the diff table, up to --max-rows), or the whole in `--json`; one record line
 * under --log-format json; the run metrics of each provider's run. Never an API key.
 */
import { Chalk } from 'chalk';
import Table from 'cli-table3';
import type { PassConfig } from '../config.js';
import type { Logger } from '../run/log.js';
import { COMPACT, runJsonHead, runLineHead } from '../run/output.js';
import { peakRssBytes } from '../run/peak-rss.js';
import { pushRunMetricsOrWarn, runMetricsHead } from '../run/push-run-metrics.js';
import { writeStdout } from '../run/stdout.js';
import type { JasperResult, ProviderResult } from './jasper-run.js';

export function jasperJson(result: JasperResult) {
  return {
    ...runJsonHead(result),
    providers: result.providers.map((p) => ({
      provider: p.provider,
      status: p.status,
      exitCode: p.exitCode,
      runId: p.runId,
      mode: p.mode,
      modifiedSince: p.modifiedSince,
      pages: p.pages,
      staged: p.staged,
      promotion: p.promotion
        ? {
            create: p.promotion.create.length,
            update: p.promotion.update.length,
            unchanged: p.promotion.unchanged,
            skipped: p.promotion.skipped,
            duplicates: p.promotion.duplicates,
            unknownStatus: p.promotion.unknownStatus,
            changes: [
              ...p.promotion.create.map((s) => ({ action: 'create', iccid: s.iccid, status: s.status, ratePlan: s.ratePlan, communicationPlan: s.communicationPlan })),
              ...p.promotion.update.map((u) => ({ action: 'update', iccid: u.sim.iccid, fields: u.changes })),
            ],
          }
        : null,
      apiCalls: p.apiCalls,
      retries: p.retries,
      error: p.error,
    })),
    peakRssBytes: peakRssBytes(),
    error: result.error,
  };
}

export function printJasperResults(result: JasperResult, config: PassConfig, log: Logger): void {
  if (config.json) {
    writeStdout(JSON.stringify(jasperJson(result), null, 2) + '\n');
    return;
  }
  for (const p of result.providers) if (p.status !== 'ok' && p.error) log.error(`service provider ${p.provider}: ${p.error}`);
  if (result.providers.length === 0 && result.error) log.error(result.error);
  if (config.logFormat === 'json') {
    const providers = result.providers.map((p) => ({ provider: p.provider, status: p.status, pages: p.pages, create: p.promotion?.create.length ?? 0, update: p.promotion?.update.length ?? 0, error: p.error }));
    writeStdout(JSON.stringify({ ...runLineHead(result, 'pass'), providers, error: result.error }) + '\n');
    return;
  }
  for (const p of result.providers) writeStdout(renderProvider(p, config, result.dryRun) + '\n');
}

function renderProvider(p: ProviderResult, config: Pick<PassConfig, 'color' | 'maxRows'>, dryRun: boolean): string {
  const chalk = new Chalk({ level: config.color ? 1 : 0 });
  const out: string[] = [];
  const listing = p.pages.complete ? 'complete' : p.pages.resumeAt !== null ? `not complete: resumes at page ${p.pages.resumeAt}` : 'not started';
  const pages = p.pages.read === 0 ? 'no page read' : `pages ${p.pages.from}-${p.pages.from + p.pages.read - 1}`;
  out.push(`jasper${dryRun ? ' (dry run)' : ''}: service provider ${p.provider}: ${p.mode ?? 'not run'}${p.modifiedSince ? ` since ${p.modifiedSince}` : ''}, ${pages} (listing ${listing}), ${p.staged} records`);
  const promotion = p.promotion;
  if (promotion) {
    const rows: string[][] = [
      ...promotion.create.map((s) => [chalk.green('+'), s.iccid, `create (${s.status})`]),
      ...promotion.update.map((u) => [chalk.yellow('~'), u.sim.iccid, u.changes.map((c) => `${c.field}: ${c.old ?? 'null'} -> ${c.new ?? 'null'}`).join(', ')]),
      ...promotion.skipped.map((s) => [chalk.red('!'), s.ref, `skipped: ${s.reason}`]),
    ];
    if (rows.length > 0) {
      const table = new Table({ head: ['', 'iccid', 'change'], style: { head: [], border: [] }, chars: COMPACT, wordWrap: true });
      for (const row of rows.slice(0, config.maxRows)) table.push(row);
      out.push(table.toString());
      if (rows.length > config.maxRows) out.push(`... and ${rows.length - config.maxRows} more (--max-rows, or --json for every change)`);
    }
    const [created, updated] = dryRun ? ['to create', 'to update'] : ['created', 'updated'];
    out.push(
      `Promotion${dryRun ? ' (dry run: not applied)' : ''}: ${promotion.create.length} ${created}, ${promotion.update.length} ${updated}, ${promotion.unchanged} unchanged, ` +
        `${promotion.skipped.length} skipped, ${promotion.duplicates} listed twice (the newest kept).`,
    );
  }
  const calls = Object.values(p.apiCalls).reduce((a, b) => a + b, 0);
  out.push(`${p.status}${p.runId !== null ? ` (run ${p.runId})` : ''}, ${calls} API call${calls === 1 ? '' : 's'}${p.retries.count > 0 ? `, ${p.retries.count} retried (waited ${(p.retries.waitedMs / 1000).toFixed(1)} s)` : ''}${p.error ? `: ${p.error}` : ''}`);
  return out.join('\n');
}

/** The run metrics of the pass, its providers summed, to the `jasper` group. */
export async function pushJasperMetrics(url: string, result: JasperResult, log: Logger): Promise<void> {
  const sum = (f: (p: ProviderResult) => number) => result.providers.reduce((n, p) => n + f(p), 0);
  const calls: Record<string, number> = {};
  for (const p of result.providers) for (const [op, n] of Object.entries(p.apiCalls)) calls[op] = (calls[op] ?? 0) + n;
  await pushRunMetricsOrWarn(
    url,
    {
      ...runMetricsHead(result),
      changes: { create: sum((p) => p.promotion?.create.length ?? 0), update: sum((p) => p.promotion?.update.length ?? 0), delete: 0 },
      records: { unchanged: sum((p) => p.promotion?.unchanged ?? 0), skipped: sum((p) => p.promotion?.skipped.length ?? 0), failed: result.providers.filter((p) => p.status !== 'ok').length },
      apiCalls: calls,
    },
    log,
  );
}
