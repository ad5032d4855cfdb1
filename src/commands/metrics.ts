import { Option, type Command } from 'commander';
import { DEFAULT_PAGE_BUDGET, DEFAULT_REQUEST_TIMEOUT } from '../config.js';
import type { MetricsPushOptions } from './metrics-push.js';

const PUSH_HELP = `
Gauges: iot_hub_portal_device_count, iot_hub_portal_connected_device_count,
  iot_hub_portal_edge_device_count, iot_hub_portal_connected_edge_device_count,
  iot_hub_portal_failed_deployment_count, iot_hub_portal_concentrator_count
Pushed under job="iot_hub_portal", instance="<--instance-label>" (default: the hub's host name on
Azure, "<account>/<region>" on AWS); the run's own portal_sync_* metrics under
job="portal_sync", command="metrics-push-<provider>". A gauge that could not be measured is left
out (its last pushed value stays) and the run ends partial (exit 3).

Environment: IOTHUB_CONNECTION_STRING (azure), the AWS SDK's AWS_REGION, credentials chain and
AWS_ENDPOINT_URL_* (aws), PORTAL_SYNC_PUSHGATEWAY, PORTAL_SYNC_DB.

Examples:
  portal-sync metrics push --provider azure --dry-run
  portal-sync metrics push --provider azure --pushgateway http://pushgateway:9091 --lock postgres
  portal-sync metrics push --provider aws --textfile /var/lib/node_exporter/textfile/portal.prom
  portal-sync metrics push --provider azure --source db --format prometheus
`;

/** `metrics push`: the portal's fleet gauges for Prometheus. */
export function registerMetrics(program: Command, run: (action: () => Promise<number>) => Promise<void>): void {
  const metrics = program.command('metrics').description("the portal's fleet gauges for Prometheus (see 'metrics push --help')");
  metrics
    .command('push')
    .description('measure the fleet gauges once and push them to a Pushgateway, write them to a textfile, or print them')
    .addOption(new Option('--provider <provider>', 'the fleet to measure').choices(['azure', 'aws']).makeOptionMandatory())
    .addOption(new Option('--source <source>', 'measure with the provider\'s API, or from the portal database (no API call)').choices(['provider', 'db']).default('provider'))
    .option('--instance-label <value>', 'the instance label of the gauges\' group: a stable name of the hub or account')
    .option('--textfile <path>', "write the gauges for node_exporter's textfile collector (a .prom file, replaced atomically)")
    .addOption(new Option('--format <format>', 'stdout: a table, or the Prometheus exposition text').choices(['table', 'prometheus']).default('table'))
    .option('--db <url>', 'portal database: sqlite:<path> or postgres://... (env PORTAL_SYNC_DB, then DATABASE_URL)')
    .option('--dry-run', 'measure and print the gauges; push, write and record nothing')
    .option('--json', 'print one JSON document on stdout instead of the table')
    .addOption(new Option('--lock <kind>', 'file lock in --lock-dir, or a PostgreSQL advisory lock').choices(['file', 'postgres']))
    .option('--lock-dir <dir>', 'folder of the file locks (env PORTAL_SYNC_LOCK_DIR)')
    .option('--pushgateway <url>', 'push the gauges and the run metrics to this Prometheus Pushgateway (env PORTAL_SYNC_PUSHGATEWAY)')
    .addOption(new Option('--log-format <format>', 'logs on stderr as text or json lines').choices(['text', 'json']).default('text'))
    .option('--max-retries <n>', 'retries of a throttled or failed request before its gauge is withheld', '5')
    .option('--request-timeout <duration>', 'longest one request may take (500ms, 30s, 2m)', DEFAULT_REQUEST_TIMEOUT)
    .option('--page-budget <duration>', 'Azure: longest one query page may take, all its attempts included', DEFAULT_PAGE_BUDGET)
    .option('--rate <n/unit>', 'pace requests to the provider, e.g. 10/min')
    .addHelpText('after', PUSH_HELP)
    .action((opts: MetricsPushOptions) => run(async () => (await import('./metrics-push.js')).runMetricsPush(opts, process.env)));
}
