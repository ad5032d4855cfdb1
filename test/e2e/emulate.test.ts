import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DEFAULT_SHARED_ACCESS_KEY } from '../../src/emulators/iothub/index.js';
import { openKnex, parseDbUrl } from '../../src/store/db.js';
import { builtModule } from '../support/built.js';
import { collect, parseJson, runCli, spawnCli, waitFor, type CliResult } from '../support/cli.js';

const FIXTURE = {
  deviceModels: [{ id: 'm-thermo', name: 'Thermometer' }],
  twins: [{ deviceId: 'd1', tags: { deviceName: 'Device 1', modelId: 'm-thermo' } }],
};

describe('emulate --write-env and --log-format', () => {
  let dir: string;
  let fixture: string;
  let db: string;
  const running: ChildProcess[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'portal-sync-emulate-'));
    fixture = join(dir, 'fleet.json');
    writeFileSync(fixture, JSON.stringify(FIXTURE));
    db = `sqlite:${join(dir, 'portal.db')}`;
  });

  afterEach(async () => {
    await Promise.all(running.splice(0).map(stop));
    rmSync(dir, { recursive: true, force: true });
  });

  /** An emulator whose stdout and stderr are collected while it runs, ended by afterEach at the latest. */
  function emulate(args: string[], env: Record<string, string> = {}) {
    const child = spawnCli(['emulate', '--fixture', fixture, ...args], env);
    running.push(child);
    const live = { stdout: '', stderr: '' };
    child.stdout!.on('data', (d: Buffer) => (live.stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (live.stderr += d.toString()));
    /** Until the env file is there; an emulator that exits first fails the test at once, with its reason. */
    const ready = async (envFile: string) => {
      await waitFor(() => existsSync(envFile) || child.exitCode !== null, 'the env file');
      if (!existsSync(envFile)) throw new Error(`emulate exited ${child.exitCode} without writing ${envFile}:\n${live.stderr}`);
    };
    return { child, live, ready, done: collect(child) };
  }

  it('writes the export lines to the file once ready (models seeded), atomically and owner-only, and removes it on exit', async () => {
    const envFile = join(dir, 'not-made-yet', 'emulator.env');
    const { child, live, ready, done } = emulate(['--seed-models', db, '--write-env', envFile]);
    await ready(envFile);

    // Ready means seeded: a pass started now finds the models.
    const knex = openKnex(parseDbUrl(db));
    expect(await knex('device_models').pluck('id')).toEqual(['m-thermo']);
    await knex.destroy();

    const text = readFileSync(envFile, 'utf8');
    expect(statSync(envFile).mode & 0o777).toBe(0o600);
    expect(readdirSync(dirname(envFile))).toEqual(['emulator.env']);
    // Nothing the emulator does not print anyway: the same lines, with the fixed public emulator key.
    await waitFor(() => live.stdout.endsWith('\n') && live.stdout.includes('IOTHUB_ENDPOINT'), 'the exports on stdout');
    expect(live.stdout).toBe(text);
    expect(text).toMatch(
      new RegExp(
        `^export IOTHUB_CONNECTION_STRING='HostName=emulated-hub\\.azure-devices\\.net;SharedAccessKeyName=iothubowner;SharedAccessKey=${DEFAULT_SHARED_ACCESS_KEY.replace(/[+/=]/g, '\\$&')}'\n` +
          `export IOTHUB_ENDPOINT='http://127\\.0\\.0\\.1:\\d+'\n` +
          // The AWS emulator's, beside them (an empty AWS: this fixture has no aws section).
          `export AWS_REGION='eu-west-1'\nexport AWS_ACCESS_KEY_ID='AKIAEMULATOR00000000'\nexport AWS_SECRET_ACCESS_KEY='[^']+'\n` +
          `export AWS_ENDPOINT_URL_IOT='(http://127\\.0\\.0\\.1:\\d+)'\nexport AWS_ENDPOINT_URL_IOT_DATA_PLANE='\\1'\nexport AWS_ENDPOINT_URL_GREENGRASSV2='\\1'\n` +
          // And the Event Hubs emulator's (an empty hub with the defaults: no eventhub section either).
          `export EVENTHUB_CONNECTION_STRING='Endpoint=sb://127\\.0\\.0\\.1:\\d+;SharedAccessKeyName=service;SharedAccessKey=[^';]+;EntityPath=portal-hub;UseDevelopmentEmulator=true'\n` +
          // And the Navixy forwarding service's (an empty service with the default token: no forwarder section).
          `export NAVIXY_FORWARDER_URL='http://127\\.0\\.0\\.1:\\d+'\nexport NAVIXY_FORWARDER_TOKEN='navixy-forwarder-emulator-token-0000'\n$`,
      ),
    );

    // sh's `.` and an env-file reader (Node's own) both keep the whole value, `;` and `=` included.
    const [connectionString, endpoint] = execFileSync('/bin/sh', ['-c', '. "$1" && printf "%s\\n" "$IOTHUB_CONNECTION_STRING" "$IOTHUB_ENDPOINT"', 'sh', envFile], {
      env: { PATH: '/usr/bin:/bin' },
      encoding: 'utf8',
    }).split('\n');
    expect(connectionString).toBe(`HostName=emulated-hub.azure-devices.net;SharedAccessKeyName=iothubowner;SharedAccessKey=${DEFAULT_SHARED_ACCESS_KEY}`);
    const viaNode = execFileSync(process.execPath, [`--env-file=${envFile}`, '-e', 'process.stdout.write(process.env.IOTHUB_CONNECTION_STRING)'], { encoding: 'utf8' });
    expect(viaNode).toBe(connectionString);

    const pass = await runCli(['devices', '--db', db, '--lock-dir', join(dir, 'locks'), '--json'], {
      IOTHUB_CONNECTION_STRING: connectionString!,
      IOTHUB_ENDPOINT: endpoint!,
    });
    expect(parseJson(pass).summary.create).toBe(1);

    child.kill('SIGTERM');
    expect((await done).code).toBe(0);
    expect(existsSync(envFile)).toBe(false);
  });

  it('--seed-models without a URL seeds the database the other commands use by default', async () => {
    const envFile = join(dir, 'emulator.env');
    const { child, ready, done } = emulate(['--seed-models', '--write-env', envFile], { PORTAL_SYNC_DB: db });
    await ready(envFile);
    const knex = openKnex(parseDbUrl(db));
    expect(await knex('device_models').pluck('id')).toEqual(['m-thermo']);
    await knex.destroy();
    child.kill('SIGTERM');
    expect((await done).code).toBe(0);
  });

  it('leaves the file alone on exit when another emulator has written its own there since', async () => {
    const envFile = join(dir, 'emulator.env');
    const { child, ready, done } = emulate(['--write-env', envFile]);
    await ready(envFile);
    writeFileSync(envFile, "export IOTHUB_ENDPOINT='http://127.0.0.1:1'\n");
    child.kill('SIGTERM');
    expect((await done).code).toBe(0);
    expect(readFileSync(envFile, 'utf8')).toBe("export IOTHUB_ENDPOINT='http://127.0.0.1:1'\n");
  });

  it('--log-format json: every line on stderr is a JSON object, errors included', async () => {
    const envFile = join(dir, 'emulator.env');
    const { child, live, ready, done } = emulate(['--seed-models', db, '--write-env', envFile, '--log-format', 'json']);
    await ready(envFile);
    await waitFor(() => live.stderr.includes('listening'), 'the emulator to say where it listens');
    child.kill('SIGTERM');
    const ran = await done;
    expect(ran.code).toBe(0);
    const messages = jsonLines(ran).map((l) => l.msg);
    expect(messages).toEqual([
      expect.stringMatching(/^seeded 1 device models/),
      expect.stringMatching(/^IoT Hub emulator listening on http:\/\/127\.0\.0\.1:\d+/),
      expect.stringMatching(/^AWS emulator \(IoT, IoT data plane, Greengrass V2\) listening on http:\/\/127\.0\.0\.1:\d+/),
      expect.stringMatching(/^Event Hubs emulator \(hub portal-hub, 4 partitions\) listening on amqp:\/\/127\.0\.0\.1:\d+/),
      expect.stringMatching(/^Navixy forwarding service emulator listening on http:\/\/127\.0\.0\.1:\d+/),
      // No jasper section in this fixture: an emulator without service providers (and no exports).
      expect.stringMatching(/^Cisco Control Center \(Jasper\) emulator listening on http:\/\/127\.0\.0\.1:\d+: no service providers/),
    ]);

    const failed = await runCli(['emulate', '--fixture', join(dir, 'missing.json'), '--log-format', 'json'], {});
    expect(failed.code).toBe(78);
    expect(jsonLines(failed)).toEqual([expect.objectContaining({ level: 'error', msg: expect.stringContaining('missing.json') })]);
  });

  it('no option is named --env-file: Node 20 would take it for its own and exit before the CLI runs', async () => {
    // The build, as the CLI runs it: it finds package.json from dist/.
    const { buildProgram } = (await import(builtModule('src/cli.ts'))) as typeof import('../../src/cli.js');
    const program = buildProgram(() => undefined);
    const names = [program, ...program.commands].flatMap((c) => c.options.map((o) => o.long ?? ''));
    expect(names).toContain('--write-env');
    expect(names.filter((n) => n.startsWith('--env-file'))).toEqual([]);
  });
});

function jsonLines(result: CliResult): Array<Record<string, unknown>> {
  return result.stderr
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        throw new Error(`not a JSON line on stderr: ${l}\nstderr:\n${result.stderr}`);
      }
    });
}

/** SIGTERM, then SIGKILL; each wait bounded. */
async function stop(child: ChildProcess): Promise<void> {
  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
  }
}
