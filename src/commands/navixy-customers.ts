import type { Command } from 'commander';
import { DEFAULT_NAVIXY_CONCURRENCY } from '../providers/forwarder/config.js';
import { withPassOptions } from './common.js';
import type { NavixyCommandOptions } from './navixy-run.js';

const HELP = `
Makes the data-forwarding service's connections match the eligible customers of the customer
database (provider Navixy, state active, a Navixy hash, at least one gateway): closes the extra ones
first (suspended, removed, unknown or other customers, rotated hashes, duplicates), then opens the
missing ones, each verified by reading it back; then checks that the active connections are exactly
the eligible customers. Customers in navixy_overrides are left alone. Every discrepancy, action,
skip and the validation go to the run log: \`portal-sync history --ref <customer>\`.

Environment: NAVIXY_FORWARDER_URL, NAVIXY_FORWARDER_TOKEN, PORTAL_SYNC_CUSTOMERS_DB, PORTAL_SYNC_DB.

Examples:
  portal-sync navixy-customers --dry-run
  portal-sync navixy-customers --customers-db postgres://reader@crm/customers --json
  portal-sync history --ref cust-000042
`;

/** `navixy-customers`: customer database -> data-forwarding connections. */
export function registerNavixyCustomers(program: Command, run: (action: () => Promise<number>) => Promise<void>): void {
  withPassOptions(
    program
      .command('navixy-customers')
      .description('customer database -> Navixy data-forwarding connections (open the missing, close the extra)')
      .option('--customers-db <url>', 'the customer database, read only (env PORTAL_SYNC_CUSTOMERS_DB; default: the portal database)')
      .option('--forwarder-url <url>', 'the data-forwarding service (env NAVIXY_FORWARDER_URL; its token: NAVIXY_FORWARDER_TOKEN)')
      .option('--max-retries <n>', 'retries of a failed read of the forwarding service (0-20)', '5')
      .option('--request-timeout <duration>', 'one request to the forwarding service, from sending it to its answer', '30s')
      .option('--concurrency <n>', "customers acted on at once (1-32); each customer's requests stay in order", String(DEFAULT_NAVIXY_CONCURRENCY)),
  )
    .addHelpText('after', HELP)
    .action((opts: NavixyCommandOptions) => run(async () => (await import('./navixy-run.js')).runNavixyCustomers(opts, process.env)));
}
