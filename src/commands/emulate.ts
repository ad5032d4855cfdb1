import { Option, type Command } from 'commander';
import { ConfigError, resolveDb, resolveLogFormat, UsageError } from '../config.js';
import type { AwsEmulator, AwsQuotaSpec } from '../emulators/aws/index.js';
import type { EventHubFixtureInput } from '../emulators/eventhub/index.js';
import type { ForwarderEmulator, ForwarderFixtureInput } from '../emulators/forwarder/index.js';
import type { Fixture, IotHubEmulator, QuotaSpec } from '../emulators/iothub/index.js';
import type { JasperEmulator, JasperFixtureInput } from '../emulators/jasper/index.js';
import { describeDbError, openKnex } from '../store/db.js';
import { migrateLatest } from '../store/migrate.js';
import { upsertDeviceModels, upsertEdgeDeviceModels } from '../store/models.js';
import { EXIT } from '../run/exit.js';
import { createLogger, type Logger } from '../run/log.js';
import { writeStdout } from '../run/stdout.js';
import { formatExports, removeEnvFile, writeEnvFile } from './env-file.js';

interface EmulateOptions {
  fixture?: string;
  generate?: string;
  port?: string;
  awsPort?: string;
  eventhubPort?: string;
  forwarderPort?: string;
  jasperPort?: string;
  host?: string;
  /** `true` when given without a URL: the database the other commands use by default. */
  seedModels?: string | true;
  writeEnv?: string;
  logFormat?: string;
  quota?: string;
  timeScale?: string;
}

const EXAMPLE = `
Example (from the repository; the emulator runs in the background until killed):
  portal-sync emulate --fixture examples/fleet.json --seed-models sqlite:./portal-sync.db --write-env .portal-sync/emulator.env &
  until [ -f .portal-sync/emulator.env ] || ! kill -0 $! 2>/dev/null; do sleep 0.1; done
  . .portal-sync/emulator.env
  portal-sync devices --db sqlite:./portal-sync.db --dry-run
  kill $!

Not eval "$(portal-sync emulate ... &)": the emulator keeps the substitution's output open, so it
never returns. --write-env's file appears once every server listens (and the models are seeded).

An S1 unit's query quota, with an emulated minute per real second:
  portal-sync emulate --generate devices=100000 --quota queries=20/min --time-scale 60

LoRaWAN telemetry on the Event Hubs endpoint (events round-robin over the LoRaWAN devices):
  portal-sync emulate --generate devices=2000,lora=2000,events=200000,partitions=4

An AWS fleet (10% Greengrass core devices) at AWS IoT's published API rates:
  portal-sync emulate --generate things=50000,thingTypes=20,edge=5000 --quota aws --seed-models

Navixy customers (seeded into the customers table) and the forwarding service's connections, 1% out of step:
  portal-sync emulate --generate customers=50000,drift=1 --seed-models

Cisco Control Center SIMs of three service providers (seeded into jasper_service_providers; their API
keys are printed as JASPER_API_KEY_SP1..):
  portal-sync emulate --generate sims=100000,jasperProviders=3 --seed-models`;

export function registerEmulate(program: Command, run: (action: () => Promise<number>) => Promise<void>): void {
  program
    .command('emulate')
    .description('serve emulated providers on loopback and print the environment the other commands need')
    .option('--fixture <file>', 'fleet fixture (JSON, see README); re-read when the file changes')
    .option(
      '--generate <spec>',
      'generate a fleet instead, e.g. devices=100000,lora=10000 (IoT Hub) and/or things=50000,thingTypes=20,edge=5000,deployments=2 (AWS) ' +
        'and/or events=200000,partitions=4 (Event Hubs telemetry of the LoRaWAN devices) and/or customers=50000,drift=1 (Navixy customers and ' +
        'forwarding connections, drift% out of step) and/or sims=100000,jasperProviders=2 (Cisco Control Center SIMs over service providers ' +
        'sp1..); edge counts for each provider the spec names',
    )
    .option('--port <port>', 'IoT Hub emulator port (default: a free port)')
    .option('--aws-port <port>', 'AWS emulator port (default: a free port)')
    .option('--eventhub-port <port>', 'Event Hubs emulator AMQP port (default: a free port; its control server takes another)')
    .option('--forwarder-port <port>', 'Navixy forwarding service emulator port (default: a free port)')
    .option('--jasper-port <port>', 'Cisco Control Center (Jasper) emulator port, every service provider on it (default: a free port)')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option(
      '--seed-models [db url]',
      "write the fleet's device models (and its Navixy customers, replacing the customers table, and its Jasper service providers) into this portal database first " +
        '(without one: env PORTAL_SYNC_DB, then DATABASE_URL, then sqlite:./portal-sync.db)',
    )
    // Not --env-file: Node 20 takes that for its own option anywhere on the command line, script
    // arguments included (nodejs/node#54232), and exits 9 before this program runs when the file
    // does not exist yet, which is always the case here.
    .option('--write-env <file>', 'once ready, also write the export lines to this file (temp file + rename); removed on exit')
    .addOption(new Option('--log-format <format>', 'messages on stderr as text or json lines').choices(['text', 'json']).default('text'))
    .option(
      '--quota <spec>',
      'throttle as IoT Hub does, e.g. queries=20/min (S1) or queries=20/min,twinReads=100/s,configurations=20/min, and/or AWS: aws (its published ' +
        'per-API rates) or ListThings=10/s; rates per s, min or h; past one: ThrottlingException; overrides the fixture\'s quotas',
    )
    .option('--time-scale <n>', 'run the quota windows n times faster: one emulated minute lasts 60/n real seconds', '1')
    .addHelpText('after', EXAMPLE)
    .action((opts: EmulateOptions) => run(() => emulate(opts)));
}

function parsePort(text: string | undefined, option: string): number | undefined {
  const port = text === undefined ? undefined : Number(text);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) throw new UsageError(`${option} must be a port number`);
  return port;
}

async function emulate(opts: EmulateOptions): Promise<number> {
  const log = createLogger({ format: resolveLogFormat(opts.logFormat), command: 'emulate' });
  // The emulators are loaded only by this command, never by a pass.
  const { generateFleet, loraDeviceIds, normalizeFixture, parseGenerateSpec, parseTimeScale, startIotHubEmulator } = await import('../emulators/iothub/index.js');
  const { generateAwsFleet, parseAwsGenerateSpec, splitGenerateSpec, startAwsEmulator } = await import('../emulators/aws/index.js');
  const { generateEvents, parseEventHubGenerateSpec, splitEventHubSpec, startEventHubEmulator } = await import('../emulators/eventhub/index.js');
  const { generateForwarder, parseForwarderGenerateSpec, splitForwarderSpec, startForwarderEmulator } = await import('../emulators/forwarder/index.js');
  const { generateJasper, parseJasperGenerateSpec, splitJasperSpec, startJasperEmulator } = await import('../emulators/jasper/index.js');
  if (!opts.fixture && !opts.generate) throw new UsageError('emulate needs --fixture <file> or --generate <spec>');
  if (opts.fixture && opts.generate) throw new UsageError('emulate takes --fixture or --generate, not both');
  let fixture: Fixture | undefined;
  let awsFixture: Record<string, unknown> | undefined;
  let hubFixture: EventHubFixtureInput | undefined;
  let forwarderFixture: ForwarderFixtureInput | undefined;
  let jasperFixture: JasperFixtureInput | undefined;
  if (opts.generate) {
    try {
      // sims= and jasperProviders= are Control Center's, customers= and drift= the forwarding
      // service's, events= and partitions= the Event Hubs generator's; the rest is split between IoT
      // Hub and AWS.
      const sims = splitJasperSpec(opts.generate);
      jasperFixture = sims.jasper === undefined ? {} : { ...generateJasper(parseJasperGenerateSpec(sims.jasper)).section };
      const split = splitForwarderSpec(sims.rest);
      forwarderFixture = split.forwarder === undefined ? {} : { ...generateForwarder(parseForwarderGenerateSpec(split.forwarder)).section };
      const { rest, eventhub } = splitEventHubSpec(split.rest);
      const { azure, aws } = splitGenerateSpec(rest);
      fixture = azure === undefined ? normalizeFixture({}) : generateFleet(parseGenerateSpec(azure));
      awsFixture = aws === undefined ? {} : generateAwsFleet(parseAwsGenerateSpec(aws));
      hubFixture = eventhub === undefined ? {} : generateEvents(parseEventHubGenerateSpec(eventhub), loraDeviceIds(parseGenerateSpec(azure ?? '')));
    } catch (error) {
      throw new UsageError(`--generate: ${(error as Error).message}`);
    }
  }
  const port = parsePort(opts.port, '--port');
  const awsPort = parsePort(opts.awsPort, '--aws-port');
  const eventhubPort = parsePort(opts.eventhubPort, '--eventhub-port');
  const forwarderPort = parsePort(opts.forwarderPort, '--forwarder-port');
  const jasperPort = parsePort(opts.jasperPort, '--jasper-port');
  let quota: { hub?: QuotaSpec; aws?: AwsQuotaSpec } = {};
  let timeScale;
  try {
    quota = opts.quota === undefined ? {} : await parseQuotas(opts.quota);
  } catch (error) {
    throw new UsageError(`--quota: ${(error as Error).message}`);
  }
  try {
    timeScale = parseTimeScale(opts.timeScale ?? '1');
  } catch (error) {
    throw new UsageError(`--time-scale: ${(error as Error).message}`);
  }
  const started = new StartedEmulators();
  const emulator = await started.start('IoT Hub', () =>
    startIotHubEmulator({ fixturePath: opts.fixture, fixture, port, host: opts.host, ...(quota.hub ? { quota: quota.hub } : {}), timeScale }),
  );
  // With --fixture every emulator reads its own section of the one file.
  const source = <T>(generated: T) => (opts.fixture !== undefined ? { fixturePath: opts.fixture } : { fixture: generated });
  const aws = await started.start('AWS', () =>
    startAwsEmulator({ ...source(awsFixture ?? {}), port: awsPort, host: opts.host, ...(quota.aws ? { quota: quota.aws } : {}), timeScale }),
  );
  const eventhub = await started.start('Event Hubs', () => startEventHubEmulator({ ...source(hubFixture ?? {}), port: eventhubPort, host: opts.host }));
  const forwarder = await started.start('forwarding service', () =>
    startForwarderEmulator({ ...source(forwarderFixture ?? {}), port: forwarderPort, host: opts.host }),
  );
  const jasper = await started.start('Cisco Control Center', () => startJasperEmulator({ ...source(jasperFixture ?? {}), port: jasperPort, host: opts.host }));
  try {
    if (opts.seedModels !== undefined) await seedModels(emulator, aws, forwarder, jasper, opts.seedModels === true ? undefined : opts.seedModels, log);
    // Each emulator's variables, IoT Hub's first; no two sets share a name. Control Center's are its
    // providers' fake API keys (JASPER_API_KEY_<ID>), as the AWS emulator prints its fake secret.
    const exports = formatExports({ ...emulator.env(), ...aws.env(), ...eventhub.env(), ...forwarder.env(), ...jasper.env() });
    // Handlers first: a SIGTERM sent the moment the file appears still removes it.
    const stopped = untilStopSignal();
    if (opts.writeEnv !== undefined) writeEnvFile(opts.writeEnv, exports);
    writeStdout(exports);
    log.info(`IoT Hub emulator listening on ${emulator.url} (stats: ${emulator.url}/__emulator/stats); Ctrl-C to stop`);
    log.info(`AWS emulator (IoT, IoT data plane, Greengrass V2) listening on ${aws.url} (stats: ${aws.url}/__emulator/stats)`);
    log.info(
      `Event Hubs emulator (hub ${eventhub.hubName}, ${eventhub.partitionIds.length} partitions) listening on ${eventhub.url} ` +
        `(control: ${eventhub.controlUrl}, stats: ${eventhub.controlUrl}/__emulator/stats)`,
    );
    log.info(`Navixy forwarding service emulator listening on ${forwarder.url} (stats: ${forwarder.url}/__emulator/stats)`);
    log.info(describeJasper(jasper));
    const quotaLine = describeQuota(emulator, aws);
    if (quotaLine !== undefined) log.info(quotaLine);
    await stopped;
    if (opts.writeEnv !== undefined) removeEnvFile(opts.writeEnv, exports);
  } finally {
    await started.closeAll();
  }
  return EXIT.ok;
}

/** The emulators started so far: one that fails to start closes those before it. */
class StartedEmulators {
  private readonly running: Array<{ close(): Promise<void> }> = [];

  async start<E extends { close(): Promise<void> }>(name: string, start: () => Promise<E>): Promise<E> {
    try {
      const emulator = await start();
      this.running.push(emulator);
      return emulator;
    } catch (error) {
      await this.closeAll();
      throw new ConfigError(`cannot start the ${name} emulator: ${(error as Error).message}`);
    }
  }

  /** Last started, first closed. */
  async closeAll(): Promise<void> {
    for (const emulator of this.running.splice(0).reverse()) await emulator.close();
  }
}

/**
 * `--quota` items go to the emulator they name: IoT Hub's classes (`queries`, `twinReads`, `configurations`) to the
 * hub, `aws` and AWS operation names (`ListThings=10/s`) to the AWS emulator.
 */
async function parseQuotas(text: string): Promise<{ hub?: QuotaSpec; aws?: AwsQuotaSpec }> {
  const { parseQuotaOption, QUOTA_CLASSES } = await import('../emulators/iothub/index.js');
  const { isAwsQuotaItem, parseAwsQuotaOption } = await import('../emulators/aws/index.js');
  const hub: string[] = [];
  const aws: string[] = [];
  for (const part of text.split(',')) {
    const item = part.trim();
    if (item === '') continue;
    const eq = item.indexOf('=');
    const name = (eq < 0 ? item : item.slice(0, eq)).trim();
    if (isAwsQuotaItem(name)) aws.push(item);
    else if ((QUOTA_CLASSES as readonly string[]).includes(name)) hub.push(item);
    else if (eq < 0) throw new Error(`"${item}" is not name=rate, e.g. queries=20/min or ListThings=10/s (or aws)`);
    else throw new Error(`unknown quota "${name}" (expected ${QUOTA_CLASSES.join(', ')}, aws, or an AWS operation such as ListThings)`);
  }
  if (hub.length === 0 && aws.length === 0) throw new Error('no quota given, e.g. queries=20/min or aws');
  return { ...(hub.length > 0 ? { hub: parseQuotaOption(hub.join(',')) } : {}), ...(aws.length > 0 ? { aws: parseAwsQuotaOption(aws.join(',')) } : {}) };
}

async function seedModels(emulator: IotHubEmulator, aws: AwsEmulator, forwarder: ForwarderEmulator, jasper: JasperEmulator, url: string | undefined, log: Logger): Promise<void> {
  const { seedModelsOf } = await import('../emulators/aws/index.js');
  const { seedCustomers } = await import('../emulators/forwarder/index.js');
  const { seedJasperProviders } = await import('../emulators/jasper/index.js');
  const target = resolveDb(url, process.env);
  const db = openKnex(target);
  try {
    await migrateLatest(db);
    const models = (emulator.fixture().deviceModels ?? []).map((m) => ({ ...m, description: m.description ?? null, supportLoRaFeatures: m.supportLoRaFeatures === true }));
    // The AWS fleet's: those its things' types stand for (aws/models.ts), as thing-types and greengrass would write them.
    const awsModels = seedModelsOf(aws.fixture());
    const n = await upsertDeviceModels(db, [...models, ...awsModels.deviceModels]);
    const edgeModels = (emulator.fixture().edgeDeviceModels ?? []).map((m) => ({
      id: m.id,
      name: m.name,
      description: m.description ?? null,
      externalIdentifier: m.externalIdentifier ?? null,
    }));
    const e = await upsertEdgeDeviceModels(db, [...edgeModels, ...awsModels.edgeDeviceModels]);
    log.info(`seeded ${n} device models and ${e} edge device models into ${target.display}`);
    // The customer database of navixy-customers: only when the fleet has customers (the table is replaced).
    const customers = forwarder.fixture().customers;
    if (customers.length > 0) log.info(`seeded ${await seedCustomers(db, customers)} customers into ${target.display}`);
    // Control Center's service providers, each at its base URL on this emulator (upserted by id).
    const providers = jasper.providers();
    if (providers.length > 0) log.info(`seeded ${await seedJasperProviders(db, providers)} Jasper service providers into ${target.display}`);
  } catch (error) {
    // The cause keeps the driver's code, so the exit code says what went wrong (78, 69, ...).
    throw new Error(`cannot seed models into ${target.display}: ${describeDbError(target, error)}`, { cause: error });
  } finally {
    await db.destroy();
  }
}

function untilStopSignal(): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/** The banner line of the Control Center emulator: where each provider's base URL is. */
function describeJasper(jasper: JasperEmulator): string {
  const ids = jasper.providers().map((p) => p.id);
  const shown = ids.length > 5 ? `${ids.slice(0, 5).join(', ')}, ... (${ids.length} in all)` : ids.join(', ');
  const where = ids.length === 0 ? 'no service providers' : `service providers ${shown} at ${jasper.url}/sp/<id>`;
  return `Cisco Control Center (Jasper) emulator listening on ${jasper.url}: ${where} (stats: ${jasper.url}/__emulator/stats)`;
}

/** The quota line of the banner, when there is something to say. */
function describeQuota(emulator: IotHubEmulator, aws: AwsEmulator): string | undefined {
  const { quota, timeScale } = emulator.stats();
  const limits = [...Object.entries(quota), ...Object.entries(aws.stats().quota)].map(([name, q]) => `${name} ${q!.rate}`);
  if (limits.length === 0 && timeScale === 1) return undefined;
  const minute = `${Number((60 / timeScale).toPrecision(3))} s`;
  return `quota: ${limits.length > 0 ? limits.join(', ') : 'none'}; time scale ${timeScale} (an emulated minute lasts ${minute})`;
}
