import { Command, Option } from 'commander';
import { ConfigError, resolvePassConfig, UsageError, type CommonOptions, type PassConfig } from '../config.js';
import { exitCodeOf } from '../run/exit-code.js';
import { reportUnrunPass } from './report-unrun.js';
import type { Inventory } from '../run/inventory.js';
import { createLogger, type Logger } from '../run/log.js';
import { JSON_SCHEMA_VERSION, renderTable, runRecordLine, writeJson } from '../run/output.js';
import { handleInterrupts } from '../run/interrupt.js';
import { runPass, type PassResult } from '../run/pass.js';
import { writeStdout } from '../run/stdout.js';
import { pushRunMetricsOrWarn, runMetricsHead } from '../run/push-run-metrics.js';

/** Adds the options every pass command shares (DESIGN.md, command-line contract). */
export function withPassOptions(command: Command): Command {
  return command
    .option('--db <url>', 'portal database: sqlite:<path> or postgres://... (env PORTAL_SYNC_DB, then DATABASE_URL)')
    .option('--dry-run', 'compute and print the plan; change nothing')
    .option('--json', 'print one JSON document on stdout instead of the table')
    .option('--detailed-exitcode', 'exit 2 when the pass had changes (planned or applied)')
    .option('--allow-mass-delete', 'lift the mass-delete guard for this pass')
    .option('--max-delete-share <share>', 'largest share of a table (over 10 rows) one pass may delete', '0.5')
    .addOption(new Option('--lock <kind>', 'file lock in --lock-dir, or a PostgreSQL advisory lock').choices(['file', 'postgres']))
    .option('--lock-dir <dir>', 'folder of the file locks (env PORTAL_SYNC_LOCK_DIR)')
    .option('--pushgateway <url>', 'push run metrics to this Prometheus Pushgateway (env PORTAL_SYNC_PUSHGATEWAY)')
    .addOption(new Option('--log-format <format>', 'logs on stderr as text or json lines').choices(['text', 'json']).default('text'))
    .option('--max-rows <n>', 'rows of the diff table before "... and N more"', '50')
    .option('--no-progress', 'no progress line on stderr, even on a terminal')
    .option('--max-duration <duration>', 'stop the listing past this time from the start (as partial: applied, nothing deleted)')
    .option('--keep-events <duration>', 'prune run-log events older than this after each pass, or "forever" (env PORTAL_SYNC_KEEP_EVENTS)', '30d');
}

/**
 * A pass whose configuration was refused still reports: a scheduler reading --json gets one document
 * saying why nothing ran, and the run is recorded and its metrics pushed where possible.
 */
export async function reportConfigFailure(name: string, opts: CommonOptions, error: unknown, startedAt: Date): Promise<void> {
  if (opts.json && (error instanceof ConfigError || error instanceof UsageError)) {
    const doc = { schemaVersion: JSON_SCHEMA_VERSION, command: name, status: 'failed', dryRun: opts.dryRun === true, exitCode: exitCodeOf(error), error: error.message };
    writeStdout(JSON.stringify(doc, null, 2) + '\n');
  }
  const log = createLogger({ format: opts.logFormat === 'json' ? 'json' : 'text', command: name });
  await reportUnrunPass(name, opts, process.env, error, startedAt, log);
}

/** Runs one pass of `inventory` and prints, pushes and returns the exit code. */
export async function runPassCommand(
  name: string,
  opts: CommonOptions,
  /** Loaded when the command runs: each pass's provider SDK is loaded by its own command only. */
  makeInventory: () => Inventory | Promise<Inventory>,
): Promise<number> {
  const startedAt = new Date();
  let config: PassConfig;
  let inventory: Inventory;
  try {
    config = resolvePassConfig(name, opts, process.env, process.stdout.isTTY === true);
    inventory = await makeInventory();
  } catch (error) {
    await reportConfigFailure(name, opts, error, startedAt);
    throw error;
  }
  const log = createLogger({ format: config.logFormat, command: name });
  if (config.dbIsDefault) log.info(`portal database: ${config.db.display} (the default; set --db or PORTAL_SYNC_DB to choose)`);
  const interruption = handleInterrupts();
  const result = await runPass(inventory, config, log, interruption);
  printResult(result, config, log);
  if (config.pushgateway && !config.dryRun && result.status !== 'locked') {
    await pushMetrics(config.pushgateway, result, log);
  }
  if (interruption.received() !== null || result.listingError !== null) {
    // A request abandoned mid-page (a signal, --max-duration, a side listing that failed) would hold
    // the process for its whole timeout: flush and leave.
    await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
    process.exit(result.exitCode);
  }
  return result.exitCode;
}

function printResult(result: PassResult, config: PassConfig, log: Logger): void {
  if (config.json) {
    writeJson(result, writeStdout);
    return;
  }
  if (!result.plan) {
    // Nothing was planned (lock held, provider unreachable): one clear line, on stderr.
    log.error(result.error ?? result.status);
  }
  // Under a log pipeline (--log-format json) a box-drawn table would be noise: one record per run instead.
  if (config.logFormat === 'json') writeStdout(JSON.stringify(runRecordLine(result)) + '\n');
  else if (result.plan) writeStdout(renderTable(result, { color: config.color, maxRows: config.maxRows, width: terminalWidth() }) + '\n');
}

/** The table's width: the terminal's, or COLUMNS when set (a wider pager); unbounded otherwise. */
function terminalWidth(): number | null {
  if (process.stdout.isTTY && process.stdout.columns) return process.stdout.columns;
  const columns = Number(process.env.COLUMNS);
  return Number.isInteger(columns) && columns > 20 ? columns : null;
}

function pushMetrics(url: string, result: PassResult, log: Logger): Promise<void> {
  return pushRunMetricsOrWarn(
    url,
    {
      ...runMetricsHead(result),
      changes: result.applied
        ? { create: result.applied.created.length, update: result.applied.updated.length, delete: result.applied.deleted.length }
        : { create: 0, update: 0, delete: 0 },
      records: { unchanged: result.summary.unchanged, skipped: result.summary.skipped, failed: result.summary.failed },
      apiCalls: result.apiCalls,
      quota: { throttled: result.quota.throttled, waitSeconds: result.quota.waitMs / 1000 },
    },
    log,
  );
}
