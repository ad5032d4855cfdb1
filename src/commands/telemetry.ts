import { Option, type Command } from 'commander';
import { DEFAULT_CONSUMER_GROUP } from '../providers/eventhub/consumer-group.js';
import type { TelemetryOptions } from './telemetry-run.js';

const TELEMETRY_HELP = `
Reads every partition of the IoT Hub's Event Hubs-compatible endpoint from the portal's checkpoint
(or from --start when it has none) up to the last event it held when the run began, stores the
LoRaWAN uplinks of known LoRaWAN devices in lorawan_telemetry (the newest 100 per device are kept),
and commits each batch together with its checkpoint: a run killed at any point loses nothing and
stores nothing twice. Skipped events (malformed body, unknown device, not a LoRaWAN device, module
event, not device telemetry) are counted per reason in the run's events.

Environment: EVENTHUB_CONNECTION_STRING (Built-in endpoints > Event Hub-compatible endpoint),
PORTAL_SYNC_DB, PORTAL_SYNC_PUSHGATEWAY.

Examples:
  portal-sync telemetry --dry-run
  portal-sync telemetry --max-seconds 300 --lock postgres
  portal-sync telemetry --consumer-group portal --start latest --json
`;

/** `telemetry`: LoRaWAN telemetry from Event Hubs, exactly once into the portal. */
export function registerTelemetry(program: Command, run: (action: () => Promise<number>) => Promise<void>): void {
  program
    .command('telemetry')
    .description("drain the IoT Hub's Event Hubs-compatible endpoint into the portal's LoRaWAN telemetry, then exit")
    .option('--eventhub-name <name>', 'the Event Hub-compatible name, when EVENTHUB_CONNECTION_STRING has no EntityPath')
    .option('--consumer-group <name>', 'consumer group of the endpoint (create it in the hub; keep it for this tool alone)', DEFAULT_CONSUMER_GROUP)
    .addOption(new Option('--start <position>', 'where partitions without a checkpoint start').choices(['earliest', 'latest']).default('earliest'))
    .option('--max-events <n>', 'stop after this many events (the next run continues from the checkpoints)')
    .option('--max-seconds <n>', 'stop after this many seconds (the next run continues from the checkpoints)')
    .option('--batch-size <n>', 'events per batch and transaction (1-5000)', '2500')
    .option('--max-retries <n>', 'retries of a failed Event Hubs operation before its partition is given up for this run', '3')
    .option('--db <url>', 'portal database: sqlite:<path> or postgres://... (env PORTAL_SYNC_DB, then DATABASE_URL)')
    .option('--dry-run', 'read and sort the events; store nothing, move no checkpoint')
    .option('--json', 'print one JSON document on stdout instead of the tables')
    .option('--detailed-exitcode', 'exit 2 when events were stored')
    .addOption(new Option('--lock <kind>', 'file lock in --lock-dir, or a PostgreSQL advisory lock').choices(['file', 'postgres']))
    .option('--lock-dir <dir>', 'folder of the file locks (env PORTAL_SYNC_LOCK_DIR)')
    .option('--pushgateway <url>', 'push run metrics to this Prometheus Pushgateway (env PORTAL_SYNC_PUSHGATEWAY)')
    .addOption(new Option('--log-format <format>', 'logs on stderr as text or json lines').choices(['text', 'json']).default('text'))
    .option('--no-progress', 'no progress line on stderr, even on a terminal')
    .addHelpText('after', TELEMETRY_HELP)
    .action((opts: TelemetryOptions) => run(async () => (await import('./telemetry-run.js')).runTelemetry(opts, process.env)));
}
