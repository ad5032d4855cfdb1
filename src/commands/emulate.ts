import type { Command } from 'commander';
import { ConfigError, resolveDb, UsageError } from '../config.js';
import type { Fixture } from '../emulators/iothub/index.js';
import { describeDbError, openKnex } from '../store/db.js';
import { migrateLatest } from '../store/migrate.js';
import { upsertDeviceModels, upsertEdgeDeviceModels } from '../store/models.js';
import { EXIT } from '../run/exit.js';

interface EmulateOptions {
  fixture?: string;
  generate?: string;
  port?: string;
  host?: string;
  seedModels?: string;
  quota?: string;
  timeScale?: string;
}

export function registerEmulate(program: Command, run: (action: () => Promise<number>) => Promise<void>): void {
  program
    .command('emulate')
    .description('serve emulated providers on loopback and print the environment the other commands need')
    .option('--fixture <file>', 'fleet fixture (JSON, see README); re-read when the file changes')
    .option('--generate <spec>', 'generate a fleet instead, e.g. devices=100000,lora=10000')
    .option('--port <port>', 'IoT Hub emulator port (default: a free port)')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--seed-models <db url>', 'write the fleet\'s device models into this portal database first')
    .option(
      '--quota <spec>',
      'throttle as IoT Hub does, e.g. queries=20/min (S1) or queries=20/min,twinReads=100/s; rates per s, min or h; ' +
        'past one: 429 ThrottlingException; overrides the fixture\'s "quota"',
    )
    .option('--time-scale <n>', 'run the quota windows n times faster: one emulated minute lasts 60/n real seconds', '1')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  eval "$(portal-sync emulate --fixture examples/fleet.json --seed-models sqlite:./portal-sync.db &)"',
        '  portal-sync emulate --generate devices=100000 --quota queries=20/min --time-scale 60',
        '    an S1 hub\'s query quota, with an emulated minute per real second',
      ].join('\n'),
    )
    .action((opts: EmulateOptions) => run(() => emulate(opts)));
}

async function emulate(opts: EmulateOptions): Promise<number> {
  // The emulators are loaded only by this command, never by a pass.
  const { generateFleet, parseGenerateSpec, parseQuotaOption, parseTimeScale, startIotHubEmulator } = await import('../emulators/iothub/index.js');
  if (!opts.fixture && !opts.generate) throw new UsageError('emulate needs --fixture <file> or --generate <spec>');
  if (opts.fixture && opts.generate) throw new UsageError('emulate takes --fixture or --generate, not both');
  let fixture: Fixture | undefined;
  if (opts.generate) {
    try {
      fixture = generateFleet(parseGenerateSpec(opts.generate));
    } catch (error) {
      throw new UsageError(`--generate: ${(error as Error).message}`);
    }
  }
  const port = opts.port === undefined ? undefined : Number(opts.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) throw new UsageError('--port must be a port number');
  let quota;
  let timeScale;
  try {
    quota = opts.quota === undefined ? undefined : parseQuotaOption(opts.quota);
  } catch (error) {
    throw new UsageError(`--quota: ${(error as Error).message}`);
  }
  try {
    timeScale = parseTimeScale(opts.timeScale ?? '1');
  } catch (error) {
    throw new UsageError(`--time-scale: ${(error as Error).message}`);
  }
  let emulator;
  try {
    emulator = await startIotHubEmulator({ fixturePath: opts.fixture, fixture, port, host: opts.host, ...(quota ? { quota } : {}), timeScale });
  } catch (error) {
    throw new ConfigError(`cannot start the IoT Hub emulator: ${(error as Error).message}`);
  }
  if (opts.seedModels) {
    const target = resolveDb(opts.seedModels, process.env);
    const db = openKnex(target);
    try {
      await migrateLatest(db);
      const models = (emulator.fixture().deviceModels ?? []).map((m) => ({ ...m, description: m.description ?? null, supportLoRaFeatures: m.supportLoRaFeatures === true }));
      const n = await upsertDeviceModels(db, models);
      const edgeModels = (emulator.fixture().edgeDeviceModels ?? []).map((m) => ({
        id: m.id,
        name: m.name,
        description: m.description ?? null,
        externalIdentifier: m.externalIdentifier ?? null,
      }));
      const e = await upsertEdgeDeviceModels(db, edgeModels);
      process.stderr.write(`seeded ${n} device models and ${e} edge device models into ${target.display}\n`);
    } catch (error) {
      await emulator.close();
      process.stderr.write(`error: cannot seed models into ${target.display}: ${describeDbError(target, error)}\n`);
      return EXIT.failed;
    } finally {
      await db.destroy();
    }
  }
  for (const [name, value] of Object.entries(emulator.env())) {
    process.stdout.write(`export ${name}='${value.replace(/'/g, `'\\''`)}'\n`);
  }
  process.stderr.write(`IoT Hub emulator listening on ${emulator.url} (stats: ${emulator.url}/__emulator/stats); Ctrl-C to stop\n`);
  const { quota: quotas, timeScale: scale } = emulator.stats();
  const limits = Object.entries(quotas).map(([name, q]) => `${name} ${q.rate}`);
  if (limits.length > 0 || scale !== 1) {
    process.stderr.write(`quota: ${limits.length > 0 ? limits.join(', ') : 'none'}; time scale ${scale} (an emulated minute lasts ${formatSeconds(60 / scale)})\n`);
  }
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await emulator.close();
  return EXIT.ok;
}

function formatSeconds(seconds: number): string {
  return `${Number(seconds.toPrecision(3))} s`;
}
