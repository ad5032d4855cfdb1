import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { ConfigError, resolveIotHubConfig, type CommonOptions } from './config.js';
import { devicesInventory } from './commands/devices.js';
import { runPassCommand, withPassOptions } from './commands/common.js';
import { registerEmulate } from './commands/emulate.js';
import { registerHistory } from './commands/history.js';
import { registerMigrate } from './commands/migrate.js';
import { EXIT } from './run/exit.js';

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
  75  lock held, try later        78  configuration error`;

export function buildProgram(setExitCode: (code: number) => void): Command {
  const program = new Command('portal-sync')
    .description("Keeps an IoT portal's SQL database in step with Azure IoT Hub, AWS IoT, Navixy and Cisco Jasper")
    .version(packageVersion(), '-V, --version')
    .showHelpAfterError()
    .addHelpText('after', EXIT_CODES_HELP)
    .exitOverride();

  const run = async (action: () => Promise<number>): Promise<void> => {
    try {
      setExitCode(await action());
    } catch (error) {
      if (error instanceof ConfigError) {
        process.stderr.write(`error: ${error.message}\n`);
        setExitCode(EXIT.config);
        return;
      }
      process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
      if (process.env.PORTAL_SYNC_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
      setExitCode(EXIT.failed);
    }
  };

  withPassOptions(
    program
      .command('devices')
      .description('reconcile Azure IoT Hub devices (standard and LoRaWAN) into the portal database')
      .option('--page-size <n>', 'twins per query page (1-1000)', '100')
      .option('--max-retries <n>', 'retries of a throttled or failed page before the pass gives up on it', '5')
      .addHelpText(
        'after',
        '\nEnvironment:\n  IOTHUB_CONNECTION_STRING  service connection string of the hub (needs registry read)\n' +
          '  IOTHUB_ENDPOINT           base URL override, e.g. the emulator\'s http://127.0.0.1:<port>\n' +
          '\nExamples:\n  portal-sync devices --dry-run\n  portal-sync devices --db postgres://portal@db/portal --lock postgres --json',
      ),
  ).action((opts: CommonOptions & { pageSize?: string; maxRetries?: string }) =>
    run(() => runPassCommand('devices', opts, () => devicesInventory(resolveIotHubConfig(opts, process.env)))),
  );

  registerMigrate(program, run);
  registerHistory(program, run);
  registerEmulate(program, run);
  for (const command of program.commands) command.exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<void> {
  let exitCode = 0;
  const program = buildProgram((code) => (exitCode = code));
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help, help and --version exit 0; everything else commander rejects (no command, unknown
      // option, bad choice) is a usage error.
      exitCode = error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    } else {
      process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
      exitCode = EXIT.failed;
    }
  }
  process.exitCode = exitCode;
}
