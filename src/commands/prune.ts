import { Option, type Command } from 'commander';
import { resolveDb, UsageError } from '../config.js';
import { DurationError, parseDuration } from '../duration.js';
import { describeDbError } from '../store/db.js';
import { countPrunable, pruneEvents, PRUNE_BATCH } from '../store/runlog.js';
import { EXIT } from '../run/exit.js';
import { openExistingStore } from './open-store.js';

interface PruneOptions {
  olderThan: string;
  db?: string;
  dryRun?: boolean;
  json?: boolean;
}

export function registerPrune(program: Command, run: (action: () => Promise<number>) => Promise<void>): void {
  program
    .command('prune')
    .description('delete run-log events older than a duration, and the runs left without events (sync_events grows with every pass)')
    .requiredOption('--older-than <duration>', 'what to delete: recorded more than this long ago (30d, 12h, ...)')
    .option('--db <url>', 'portal database (env PORTAL_SYNC_DB, then DATABASE_URL); never created nor migrated')
    .option('--dry-run', 'count what would be deleted; delete nothing')
    .addOption(new Option('--log-format <format>', 'errors on stderr as text or json lines').choices(['text', 'json']).default('text'))
    .option('--json', 'print {"events": n, "runs": n, ...} on stdout')
    .addHelpText('after', '\nExamples:\n  portal-sync prune --older-than 30d\n  portal-sync prune --older-than 90d --dry-run --db postgres://portal@db/portal')
    .action((opts: PruneOptions) => run(() => prune(opts)));
}

function cutOf(olderThan: string, now: Date): Date {
  let ms: number;
  try {
    ms = parseDuration(olderThan);
  } catch (error) {
    if (error instanceof DurationError) throw new UsageError(`--older-than: ${error.message}`);
    throw error;
  }
  // Zero would empty the run log: nobody means that by "older than".
  if (ms <= 0) throw new UsageError(`--older-than must be longer than 0, got "${olderThan}"`);
  const cut = new Date(now.getTime() - ms);
  if (Number.isNaN(cut.getTime())) throw new UsageError(`--older-than "${olderThan}" reaches before any date`);
  return cut;
}

async function prune(opts: PruneOptions): Promise<number> {
  const before = cutOf(opts.olderThan, new Date());
  const target = resolveDb(opts.db, process.env);
  const dryRun = opts.dryRun === true;
  const db = await openExistingStore(target, dryRun ? 'read' : 'write');
  try {
    const counts = dryRun ? await countPrunable(db, before) : await pruneEvents(db, before, PRUNE_BATCH);
    if (opts.json) {
      const doc = { database: target.display, dryRun, olderThan: opts.olderThan, before: before.toISOString(), ...counts };
      process.stdout.write(JSON.stringify(doc) + '\n');
    } else {
      const verb = dryRun ? 'would delete' : 'deleted';
      const tail = dryRun ? ' (dry run: nothing deleted)' : '';
      process.stdout.write(`${target.display}: ${verb} ${plural(counts.events, 'event')} and ${plural(counts.runs, 'run')} recorded before ${before.toISOString()}${tail}.\n`);
    }
    return EXIT.ok;
  } catch (error) {
    throw new Error(`cannot prune the run log in ${target.display}: ${describeDbError(target, error)}`, { cause: error });
  } finally {
    await db.destroy();
  }
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
