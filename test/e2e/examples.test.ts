/**
 * The README's runnable examples and examples/crontab, run as their readers run them: through a
 * shell, from the text itself, so that an example that no longer works fails here first.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { builtModule } from '../support/built.js';
import { parseCrontab, readmeBlock, REPO } from '../support/docs.js';
import { startPortal, type Portal } from '../support/portal.js';
import { requireOrSkip, startPushgateway } from '../support/services.js';
import { runShell } from '../support/shell.js';

const CLI = join(REPO, 'bin', 'portal-sync');
const FLEET = JSON.parse(readFileSync(join(REPO, 'examples', 'fleet.json'), 'utf8'));
/** What a pass over examples/fleet.json creates (the other twins are skipped, each with its reason). */
const FLEET_DEVICES = ['door-main', 'lora-th-001', 'lora-th-002', 'thermo-boiler-room', 'thermo-office-2'];

/** `portal-sync` as an installed command: a script that runs this build with this Node.js. */
function installCli(path: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `#!/bin/sh\nexec '${process.execPath}' '${CLI}' "$@"\n`);
  chmodSync(path, 0o755);
}

describe('README: Quick start', () => {
  it('npm run demo: the first pass creates the fleet, the second says what the README says', async () => {
    const line = readmeBlock('quick-start')
      .split('\n')
      .find((l) => /\bnpm run demo\b/.test(l));
    if (!line) throw new Error('the quick start no longer runs `npm run demo`');
    const [commands, comment = ''] = line.split(/\s+#\s+/, 2);
    const scripts = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    // `npm ci` installs and builds what this suite already runs on, and the build is checked fresh
    // here instead of run again; every other step runs as written.
    builtModule('src/cli.ts');
    const steps = commands!
      .split('&&')
      .map((s) => s.trim())
      .filter((s) => s !== 'npm ci')
      .flatMap((s) => {
        const script = /^npm run (\S+)$/.exec(s)?.[1];
        if (script === undefined) return [s];
        if (!scripts[script]) throw new Error(`the quick start runs \`${s}\`, which package.json does not have`);
        return scripts[script]!.split('&&').map((p) => p.trim()).filter((p) => !/^npm run build\b/.test(p));
      });
    const result = await runShell('/bin/sh', ['-e', '-c', steps.join(' && ')], {
      cwd: REPO,
      env: { PATH: `${dirname(process.execPath)}:/usr/bin:/bin`, HOME: tmpdir() },
      timeoutMs: 45_000,
    });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const passes = result.stdout.split(/^\$ portal-sync /m).filter((s) => s.startsWith('devices'));
    expect(passes).toHaveLength(2);
    expect(passes[0]).toMatch(new RegExp(`^Plan: ${FLEET_DEVICES.length} to create,`, 'm'));
    const promised = /second says "([^"]+)"/.exec(comment)?.[1];
    if (!promised) throw new Error(`the quick start no longer says what the second pass prints: ${line}`);
    expect(passes[1]).toContain(promised);
    expect(passes[1]).not.toMatch(/to create/);
  });
});

describe('README: emulate', () => {
  let work: string;
  beforeEach(() => {
    work = mkdtempSync(join(tmpdir(), 'portal-sync-readme-'));
  });
  afterEach(() => rmSync(work, { recursive: true, force: true }));

  it('runs as shown, through /bin/sh, from the repository with portal-sync on the PATH', async () => {
    const script = readmeBlock('emulate');
    // From the repository, as the README says; the working files of the example land in `work`.
    symlinkSync(join(REPO, 'examples'), join(work, 'examples'));
    installCli(join(work, 'bin', 'portal-sync'));
    // runShell ends the emulator with the rest of the script's process group should the script not.
    const result = await runShell('/bin/sh', ['-e', '-c', script], {
      cwd: work,
      env: { PATH: `${join(work, 'bin')}:/usr/bin:/bin`, HOME: work, TMPDIR: work },
    });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^Plan: ${FLEET_DEVICES.length} to create,`, 'm'));
    expect(result.stdout).toContain('Dry run: nothing was changed.');
    const envFile = /--write-env\s+(\S+)/.exec(script)?.[1];
    if (envFile) expect(existsSync(join(work, envFile)), 'the emulator removes its env file when stopped').toBe(false);
  });
});

describe('examples/crontab, as cron runs it', () => {
  let portal: Portal;
  let root: string;
  let gateway: { url: string; stop(): Promise<void> } | null = null;

  beforeEach(async () => {
    portal = await startPortal('sqlite', FLEET, { devices: FLEET.deviceModels, edge: FLEET.edgeDeviceModels });
    root = mkdtempSync(join(tmpdir(), 'portal-sync-cron-'));
    const started = await startPushgateway();
    if ('skipped' in started) requireOrSkip('the crontab example\'s Pushgateway', { ok: false, reason: started.skipped });
    else gateway = started;
  });

  afterEach(async () => {
    await gateway?.stop();
    gateway = null;
    await portal.close();
    rmSync(root, { recursive: true, force: true });
  });

  /** The example's own paths, moved under `root`: the test installs there what an admin installs there. */
  const rooted = (text: string) => text.replace(/(?<![\w/.])\/(?:etc\/portal-sync|var\/log\/portal-sync|var\/lib\/portal-sync|usr\/local\/bin\/portal-sync)\b/g, (p) => root + p);

  /** An env-file line of the example with the real value, quoted as the example quotes it. */
  const envLine = (example: string, name: string, value: string) => {
    const quote = /^\w+=(['"]?)/.exec(example)![1];
    return `${name}=${quote}${value}${quote}`;
  };

  it('the devices line syncs the fleet (exit 0), reading its secrets from the env file the example describes', async () => {
    const crontab = parseCrontab(readFileSync(join(REPO, 'examples', 'crontab'), 'utf8'));
    if (!crontab.envFile) throw new Error('examples/crontab no longer shows its env file (a comment line `#   /path:  NAME=value`)');

    const values: Record<string, string> = { ...portal.hub.env(), PORTAL_SYNC_DB: portal.db.url };
    const lines = crontab.envFile.lines.map((example) => {
      const name = /^(\w+)=/.exec(example)![1]!;
      if (values[name] === undefined) throw new Error(`examples/crontab's env file sets ${name}: this test has no value for it`);
      return envLine(example, name, values[name]!);
    });
    // Not in a production env file: the emulator's address, written the way the connection string is.
    const like = crontab.envFile.lines.find((l) => l.startsWith('IOTHUB_CONNECTION_STRING='));
    if (!like) throw new Error("examples/crontab's env file no longer sets IOTHUB_CONNECTION_STRING");
    lines.push(envLine(like, 'IOTHUB_ENDPOINT', portal.hub.env().IOTHUB_ENDPOINT!));
    const envFile = rooted(crontab.envFile.path);
    mkdirSync(dirname(envFile), { recursive: true });
    writeFileSync(envFile, lines.join('\n') + '\n', { mode: 0o600 });

    const job = crontab.jobs.find((j) => /\bportal-sync devices\b/.test(j.command));
    if (!job) throw new Error('examples/crontab has no `portal-sync devices` line');
    const command = rooted(job.command);
    const binary = /(\S*\/portal-sync)\s+devices\b/.exec(command)?.[1];
    if (!binary?.startsWith(root)) throw new Error(`the devices line runs ${binary ?? 'portal-sync'} from cron's PATH; give its full path: ${job.command}`);
    installCli(binary);
    for (const log of command.match(/>>?\s*(\S+)/g) ?? []) mkdirSync(dirname(log.replace(/^>>?\s*/, '')), { recursive: true });

    const result = await runCron(crontab.variables, command);
    const logs = readLogs(command);
    expect(result.code, `${result.stdout}${result.stderr}\nlog:\n${logs}`).toBe(0);
    expect(await portal.db.knex()('devices').orderBy('id').pluck('id')).toEqual(FLEET_DEVICES);
    if (gateway) {
      const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
      expect(metrics).toMatch(/^portal_sync_last_success_timestamp_seconds\{[^}]*command="devices"/m);
    }

    // The weekly line reads the run log of those passes.
    const weekly = crontab.jobs.find((j) => /\bportal-sync history\b/.test(j.command));
    if (weekly) {
      const history = await runCron(crontab.variables, rooted(weekly.command));
      expect(history.code, history.stdout + history.stderr).toBe(0);
      expect(history.stdout).toContain('orphan-no-model');
    }
  });

  /**
   * cron(8): the crontab's variables over a bare environment, the line handed to `$SHELL -c`
   * (/bin/sh unless the crontab sets SHELL).
   */
  function runCron(variables: Record<string, string>, command: string) {
    const home = join(root, 'home');
    mkdirSync(home, { recursive: true });
    const env: Record<string, string> = { HOME: home, LOGNAME: 'portal-sync', PATH: '/usr/bin:/bin', SHELL: '/bin/sh' };
    for (const [name, value] of Object.entries(variables)) env[name] = rooted(value);
    env.PORTAL_SYNC_PUSHGATEWAY &&= gateway?.url ?? 'http://127.0.0.1:9';
    return runShell(env.SHELL!, ['-c', command], { cwd: home, env });
  }

  function readLogs(command: string): string {
    return (command.match(/>>?\s*(\/\S+)/g) ?? [])
      .map((r) => r.replace(/^>>?\s*/, ''))
      .filter((p) => existsSync(p))
      .map((p) => readFileSync(p, 'utf8'))
      .join('\n');
  }
});
