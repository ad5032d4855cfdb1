import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import {
  DEFAULT_PAGE_BUDGET,
  DEFAULT_REQUEST_TIMEOUT,
  resolveAwsConfig,
  resolveDuration,
  resolveIotHubConfig,
  type AwsOptions,
  type CommonOptions,
  type IotHubOptions,
} from './config.js';
import { runPassCommand, withPassOptions } from './commands/common.js';
import { registerEmulate } from './commands/emulate.js';
import { registerHistory } from './commands/history.js';
import { registerMetrics } from './commands/metrics.js';
import { registerTelemetry } from './commands/telemetry.js';
import { registerNavixyCustomers } from './commands/navixy-customers.js';
import { registerJasper } from './commands/jasper.js';
import { registerMigrate } from './commands/migrate.js';
import { registerPrune } from './commands/prune.js';
import { EXIT } from './run/exit.js';
import { exitCodeOf } from './run/exit-code.js';
import { createLogger, type LogFormat } from './run/log.js';
import { toleratePipeClose } from './run/stdout.js';

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

const EXIT_CODES_HELP = `
Exit codes:
  0   ok                          1   failed, nothing applied (or mass-delete guard refused)
  2   ok with changes (only with --detailed-exitcode)
  3   partial: applied, but some records or pages failed
  64  usage error                 69  provider or database unreachable
  75  lock held, try later        78  configuration error
  130 interrupted by SIGINT       143 interrupted by SIGTERM (before the commit: nothing applied)`;

/** Options every AWS pass command takes, as commander hands them over. */
export type AwsCommandOptions = CommonOptions & AwsOptions;

const AWS_ENVIRONMENT_HELP = `
Environment (the AWS SDK's own):
  AWS_REGION                       region of the account (or the region of the AWS_PROFILE profile)
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE
                                   credentials, read by the SDK's default credentials chain
  AWS_ENDPOINT_URL_IOT             IoT Core endpoint override, e.g. the emulator's http://127.0.0.1:<port>
  AWS_ENDPOINT_URL_IOT_DATA_PLANE  IoT data plane endpoint (default: DescribeEndpoint iot:Data-ATS)
  AWS_ENDPOINT_URL_GREENGRASSV2    Greengrass V2 endpoint override
  AWS_ENDPOINT_URL                 endpoint override for every AWS service
`;

/**
 * The log format asked for anywhere on the command line: every line on stderr honours it, from the
 * first one (a usage error found before any command runs included).
 */
export function logFormatOf(argv: readonly string[]): LogFormat {
  const at = argv.indexOf('--log-format');
  const value = at >= 0 ? argv[at + 1] : argv.find((a) => a.startsWith('--log-format='))?.slice('--log-format='.length);
  return value === 'json' ? 'json' : 'text';
}

export function buildProgram(setExitCode: (code: number) => void, logFormat: LogFormat = 'text'): Command {
  const writeErr = (text: string) => {
    if (logFormat === 'text') process.stderr.write(text);
    else for (const line of text.split('\n')) if (line.trim() !== '') createLogger({ format: 'json' }).error(line.replace(/^error: /, ''));
  };
  const program = new Command('portal-sync')
    .description("Keeps an IoT portal's SQL database in step with Azure IoT Hub, AWS IoT, Navixy and Cisco Jasper")
    .version(packageVersion(), '-V, --version')
    // One line and where to look, not the whole help: the error must stay visible in a cron mail.
    .showHelpAfterError("(see 'portal-sync --help', or 'portal-sync <command> --help')")
    .configureOutput({ writeErr })
    .addHelpText('after', EXIT_CODES_HELP)
    .exitOverride();

  const run = async (action: () => Promise<number>): Promise<void> => {
    try {
      setExitCode(await action());
    } catch (error) {
      const log = createLogger({ format: logFormat });
      log.error(error instanceof Error ? error.message : String(error));
      if (process.env.PORTAL_SYNC_DEBUG && error instanceof Error && error.stack) log.debug(error.stack);
      setExitCode(exitCodeOf(error));
    }
  };

  // Each pass loads its inventory, and with it its provider's SDK, only when it runs: a devices pass
  // never loads the AWS SDK, and --help loads neither.
  const azure = (name: string, description: string, examples: string[]) =>
    withPassOptions(
      program
        .command(name)
        .description(description)
        .option('--page-size <n>', 'twins per query page (1-1000)', '100')
        .option('--max-retries <n>', 'retries of a throttled or failed page before the pass gives up on it', '5')
        .option('--request-timeout <duration>', 'longest one HTTP request may take (500ms, 30s, 2m)', DEFAULT_REQUEST_TIMEOUT)
        .option('--page-budget <duration>', 'longest one page may take, all its attempts and waits included', DEFAULT_PAGE_BUDGET)
        .option('--rate <n/unit>', "pace queries, e.g. 10/min, leaving the rest of the hub's quota to others (env PORTAL_SYNC_IOTHUB_RATE)")
        .addHelpText(
          'after',
          '\nEnvironment:\n  IOTHUB_CONNECTION_STRING  service connection string of the hub (needs registry read)\n' +
            "  IOTHUB_ENDPOINT           base URL override, e.g. the emulator's http://127.0.0.1:<port>\n" +
            `\nExamples:\n${examples.map((e) => `  ${e}`).join('\n')}`,
        ),
    );
  type AzureOptions = CommonOptions & IotHubOptions;

  azure('devices', 'reconcile Azure IoT Hub devices (standard and LoRaWAN) into the portal database', [
    'portal-sync devices --dry-run',
    'portal-sync devices --db postgres://portal@db/portal --lock postgres --json',
  ]).action((opts: AzureOptions) =>
    run(() =>
      runPassCommand('devices', opts, async () => (await import('./commands/devices.js')).devicesInventory(resolveIotHubConfig(opts, process.env))),
    ),
  );
  azure('edge', 'reconcile Azure IoT Edge devices, their modules and connection state', [
    'portal-sync edge --dry-run',
    'portal-sync edge --page-size 500 --pushgateway http://pushgateway:9091',
  ]).action((opts: AzureOptions) =>
    run(() => runPassCommand('edge', opts, async () => (await import('./commands/edge.js')).edgeInventory(resolveIotHubConfig(opts, process.env)))),
  );
  azure('concentrators', 'reconcile LoRaWAN concentrators (twins tagged deviceType = LoRa Concentrator)', [
    'portal-sync concentrators --dry-run',
  ]).action((opts: AzureOptions) =>
    run(() =>
      runPassCommand('concentrators', opts, async () =>
        (await import('./commands/concentrators.js')).concentratorsInventory(resolveIotHubConfig(opts, process.env)),
      ),
    ),
  );
  azure('gateway-ids', 'replace the set of LoRaWAN gateway ids (devices running LoRaWanNetworkSrvModule)', [
    'portal-sync gateway-ids --out /var/lib/lorawan/gateway-ids.json',
  ])
    .option('--out <file>', 'also write the set as a sorted JSON array, atomically (temp file + rename)')
    .action((opts: AzureOptions & { out?: string }) =>
      run(() =>
        runPassCommand('gateway-ids', opts, async () =>
          (await import('./commands/gateway-ids.js')).gatewayIdsInventory(resolveIotHubConfig(opts, process.env), opts.out ?? null),
        ),
      ),
    );

  /**
   * An AWS pass command: every pass option, the AWS client's own, and the AWS environment in its
   * help. `things` and `greengrass` are declared with it too; each adds its options and action.
   */
  const aws = (name: string, description: string, examples: string[]) =>
    withPassOptions(
      program
        .command(name)
        .description(description)
        .option('--max-retries <n>', 'retries of a throttled or failed request before the pass gives up on it', '5')
        .option('--request-timeout <duration>', 'longest one request may take (500ms, 30s, 2m)', DEFAULT_REQUEST_TIMEOUT)
        .option('--rate <n/unit>', "pace each AWS operation, e.g. 10/s, leaving the rest of its quota to others (AWS meters each API on its own)")
        .addHelpText('after', `${AWS_ENVIRONMENT_HELP}\nExamples:\n${examples.map((e) => `  ${e}`).join('\n')}`),
    );

  aws('thing-types', 'reconcile AWS IoT thing types into device models; delete long-deprecated types in AWS', [
    'portal-sync thing-types --dry-run',
    'portal-sync thing-types --deprecation-grace 1h --json',
  ])
    .option('--deprecation-grace <duration>', 'a type deprecated longer ago than this is deleted in AWS with its dynamic thing group', '5m')
    .action((opts: AwsCommandOptions & { deprecationGrace?: string }) =>
      run(() =>
        runPassCommand('thing-types', opts, async () =>
          (await import('./commands/thing-types.js')).thingTypesInventory(resolveAwsConfig(opts, process.env), {
            graceMs: resolveDuration('--deprecation-grace', opts.deprecationGrace ?? '5m'),
          }),
        ),
      ),
    );

  aws('things', 'reconcile AWS IoT things into devices (standard types) and edge devices (Greengrass core types)', [
    'portal-sync things --dry-run',
    'portal-sync things --concurrency 16 --json',
    'portal-sync things --full',
  ])
    .option('--full', 'ask DescribeThing and GetThingShadow for every thing, not only for new or changed ones')
    .option('--concurrency <n>', 'per-thing calls in flight at once (1-64)', '8')
    .action((opts: AwsCommandOptions & { full?: boolean }) =>
      run(() =>
        runPassCommand('things', opts, async () =>
          (await import('./commands/things.js')).thingsInventory(resolveAwsConfig(opts, process.env), { full: opts.full === true }),
        ),
      ),
    );

  aws('greengrass', 'reconcile Greengrass V2 deployments to dynamic thing groups into edge device models', [
    'portal-sync greengrass --dry-run',
    'portal-sync greengrass --db postgres://portal@db/portal --json',
  ])
    .option('--concurrency <n>', 'DescribeThingGroup calls in flight at once (one per thing group and pass)', '8')
    .action((opts: AwsCommandOptions) =>
      run(() =>
        runPassCommand('greengrass', opts, async () => (await import('./commands/greengrass.js')).greengrassInventory(resolveAwsConfig(opts, process.env))),
      ),
    );

  registerTelemetry(program, run);
  registerNavixyCustomers(program, run);
  registerJasper(program, run);
  registerMetrics(program, run);
  registerMigrate(program, run);
  registerHistory(program, run);
  registerPrune(program, run);
  registerEmulate(program, run);
  for (const command of program.commands) command.exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<void> {
  toleratePipeClose(process.stdout);
  let exitCode = 0;
  const logFormat = logFormatOf(argv);
  const program = buildProgram((code) => (exitCode = code), logFormat);
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help, help and --version exit 0; everything else commander rejects (no command, unknown
      // option, bad choice) is a usage error.
      exitCode = error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    } else {
      createLogger({ format: logFormat }).error(error instanceof Error ? error.message : String(error));
      exitCode = exitCodeOf(error);
    }
  }
  process.exitCode = exitCode;
}
