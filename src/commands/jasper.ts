import { Option, type Command } from 'commander';
import { resolveDb, UsageError } from '../config.js';
import { envSuffix } from '../providers/jasper/client.js';
import { EXIT } from '../run/exit.js';
import { writeStdout } from '../run/stdout.js';
import { describeDbError, openKnex } from '../store/db.js';
import { listProviders, removeProvider, saveProvider } from '../store/jasper.js';
import { migrateLatest } from '../store/migrate.js';
import { withPassOptions } from './common.js';
import type { JasperOptions } from './jasper-run.js';

const HELP = `
Reads, for each enabled service provider (jasper providers list), the SIMs modified since its cursor
from the Cisco Control Center REST API (a full sync of one month and one day the first time, or with
--full), stages each page as it arrives, and only once the listing is complete validates the staged
records (one per ICCID: the newest) and promotes them to jasper_devices in one transaction that
moves the cursor. A listing cut short (--max-pages, a failure past the retry budget) changes no
production row and resumes at its next page next time.

Environment: JASPER_API_KEY_<ID> for each provider (its id upper-cased, other characters as _),
PORTAL_SYNC_DB, PORTAL_SYNC_PUSHGATEWAY.

Examples:
  portal-sync jasper providers add sp1 --url https://rws-eu.jasper.com --username api-user
  JASPER_API_KEY_SP1=... portal-sync jasper --dry-run
  portal-sync jasper --service-provider sp1 --max-pages 200
  portal-sync jasper --full --json
`;

const PROVIDER_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;

interface ProviderAddOptions {
  db?: string;
  url: string;
  username: string;
  name?: string;
  billingEndDay?: string;
  billingEndHour?: string;
  disabled?: boolean;
}

/** `jasper`: Cisco Control Center devices through staging tables; `jasper providers add|list|remove`. */
export function registerJasper(program: Command, run: (action: () => Promise<number>) => Promise<void>): void {
  const jasper = withPassOptions(
    program
      .command('jasper')
      .description('Cisco Control Center (Jasper) SIMs of each service provider, through staging tables')
      .option('--service-provider <id>', 'run this service provider only (enabled or not)')
      .option('--full', 'a full sync: clear the staging, read the changes of one month and one day back')
      .option('--max-pages <n>', 'stop after this many pages; the next pass resumes at the next one (nothing is promoted before the listing is complete)')
      .option('--retry-budget <duration>', 'time the retries of one provider may wait in all (5xx, timeouts, rate limits) before its pass stops', '2m')
      .option('--request-timeout <duration>', 'one request, from sending it to the end of its answer', '30s')
      .option('--rate <n/unit>', "pace the requests (one at a time in any case), e.g. 1/s, under Cisco's fair-use policy"),
  )
    .addHelpText('after', HELP)
    .action((opts: JasperOptions) => run(async () => (await import('./jasper-run.js')).runJasper(opts, process.env)));

  const providers = jasper.command('providers').description('the service providers `jasper` reads (their API keys stay in the environment)');
  providers
    .command('add <id>')
    .description('add a service provider, or change the one of that id')
    .requiredOption('--url <url>', 'its Control Center API base URL, e.g. https://rws-eu.jasper.com')
    .requiredOption('--username <name>', 'the API user name (its API key: env JASPER_API_KEY_<ID>)')
    .option('--name <name>', 'a name for people')
    .option('--billing-end-day <day>', 'day of the month its billing period ends (1-31)', '1')
    .option('--billing-end-hour <hour>', 'hour (UTC) of that day it ends (0-23)', '0')
    .option('--disabled', 'keep it, but leave it out of `jasper` passes')
    .option('--db <url>', 'portal database (env PORTAL_SYNC_DB, then DATABASE_URL)')
    .action((id: string, opts: ProviderAddOptions, command: Command) =>
      run(() =>
        withDb(dbOf(command), async (db) => {
          if (!PROVIDER_ID.test(id)) throw new UsageError('a service provider id is 1-64 lower-case letters, digits, - and _, starting with a letter or digit');
          let url: URL;
          try {
            url = new URL(opts.url);
            if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error();
          } catch {
            throw new UsageError('--url must be an http(s) URL');
          }
          if (url.username || url.password) throw new UsageError('--url must not hold credentials: the API key goes in JASPER_API_KEY_<ID>');
          const day = Number(opts.billingEndDay ?? 1);
          const hour = Number(opts.billingEndHour ?? 0);
          if (!Number.isInteger(day) || day < 1 || day > 31) throw new UsageError('--billing-end-day must be 1 to 31');
          if (!Number.isInteger(hour) || hour < 0 || hour > 23) throw new UsageError('--billing-end-hour must be 0 to 23');
          await saveProvider(db, { id, name: opts.name ?? null, apiBaseUrl: url.href.replace(/\/+$/, ''), username: opts.username, billingEndDay: day, billingEndHour: hour, enabled: opts.disabled !== true });
          writeStdout(`service provider ${id} saved; its API key is read from JASPER_API_KEY_${envSuffix(id)}\n`);
          return EXIT.ok;
        }),
      ),
    );
  providers
    .command('list')
    .description('the service providers, and whether each one has its API key in the environment')
    .option('--json', 'one JSON document')
    .option('--db <url>', 'portal database (env PORTAL_SYNC_DB, then DATABASE_URL)')
    .addOption(new Option('--log-format <format>', 'errors on stderr as text or json lines').choices(['text', 'json']).default('text'))
    .action((_opts: { db?: string; json?: boolean }, command: Command) =>
      run(() =>
        withDb(dbOf(command), async (db) => {
          const opts = command.optsWithGlobals() as { json?: boolean };
          const list = (await listProviders(db)).map((p) => ({ ...p, apiKeyVariable: `JASPER_API_KEY_${envSuffix(p.id)}`, apiKeySet: Boolean(process.env[`JASPER_API_KEY_${envSuffix(p.id)}`]) }));
          if (opts.json) writeStdout(JSON.stringify({ providers: list }, null, 2) + '\n');
          else if (list.length === 0) writeStdout('no service provider: add one with `portal-sync jasper providers add`\n');
          else {
            for (const p of list) {
              writeStdout(
                `${p.id}\t${p.enabled ? 'enabled' : 'disabled'}\t${p.apiBaseUrl}\tuser ${p.username}\tbilling ends day ${p.billingEndDay} ${String(p.billingEndHour).padStart(2, '0')}:00 UTC\t` +
                  `${p.apiKeyVariable} ${p.apiKeySet ? 'set' : 'NOT set'}${p.name ? `\t${p.name}` : ''}\n`,
              );
            }
          }
          return EXIT.ok;
        }),
      ),
    );
  providers
    .command('remove <id>')
    .description('remove a service provider with its cursor, staging and SIM rows')
    .option('--db <url>', 'portal database (env PORTAL_SYNC_DB, then DATABASE_URL)')
    .action((id: string, _opts: { db?: string }, command: Command) =>
      run(() =>
        withDb(dbOf(command), async (db) => {
          if (!(await removeProvider(db, id))) throw new UsageError(`no service provider ${id}`);
          writeStdout(`service provider ${id} removed\n`);
          return EXIT.ok;
        }),
      ),
    );
}

/**
 * --db wherever it was typed: `jasper --db x providers list` and `jasper providers list --db x` alike.
 * Commander gives an option the parent command also has (--db, --json, --log-format) to the parent.
 */
function dbOf(command: Command): string | undefined {
  return (command.optsWithGlobals() as { db?: string }).db;
}

async function withDb(url: string | undefined, work: (db: import('knex').Knex) => Promise<number>): Promise<number> {
  const target = resolveDb(url, process.env);
  const db = openKnex(target);
  try {
    try {
      await migrateLatest(db);
    } catch (error) {
      throw new Error(`cannot prepare ${target.display}: ${describeDbError(target, error)}`, { cause: error });
    }
    return await work(db);
  } finally {
    await db.destroy();
  }
}
