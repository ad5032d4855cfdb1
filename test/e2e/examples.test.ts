/**
 * The README's runnable examples and examples/, run as their readers run them: through a shell, from
 * the text itself, so that an example that no longer works fails here first. What only Docker,
 * Kubernetes, Prometheus or Grafana could run is checked as far as it can be without them: the files
 * the Dockerfile copies, the CronJobs' commands against the emulators, the alert rules with promtool,
 * every metric name against the metrics the CLI really pushes.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, posix, relative } from 'node:path';
import { navixyGauges } from '../../src/commands/navixy-output.js';
import type { NavixyResult } from '../../src/commands/navixy-run.js';
import { seedCustomers } from '../../src/emulators/forwarder/index.js';
import { FLEET_GAUGES } from '../../src/run/fleet-gauges.js';
import { pushRunMetrics, renderRunMetrics } from '../../src/run/metrics.js';
import { openKnex, parseDbUrl } from '../../src/store/db.js';
import { startTestAws, type TestAws } from '../support/aws.js';
import { startTestEventHub, type TestEventHub } from '../support/eventhub.js';
import { startTestForwarder, type TestForwarder } from '../support/forwarder.js';
import { startTestJasper, type TestJasper } from '../support/jasper.js';
import { seedJasperProviders } from '../../src/emulators/jasper/index.js';
import { builtModule } from '../support/built.js';
import { childEnv, collect, runCli, waitFor, type CliResult } from '../support/cli.js';
import { copies, execForm, inBuildContext, parseDockerfile, workdir, type Stage } from '../support/dockerfile.js';
import { parseCrontab, readmeBlock, REPO } from '../support/docs.js';
import { startPortal, type Portal } from '../support/portal.js';
import { labelValuesMetric, metricNames } from '../support/promql.js';
import { postgresAvailable, requireOrSkip, startPushgateway } from '../support/services.js';
import { runShell } from '../support/shell.js';
import { readYamlDocuments, yamlReaderAvailable } from '../support/yaml.js';

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

const readExample = (name: string) => readFileSync(join(REPO, 'examples', name), 'utf8');
const PACKAGE = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string; scripts: Record<string, string> };

describe('Dockerfile, checked without Docker', () => {
  const stages = parseDockerfile(readFileSync(join(REPO, 'Dockerfile'), 'utf8'));
  const dockerignore = readFileSync(join(REPO, '.dockerignore'), 'utf8');
  const runtime = stages.at(-1)!;
  const stageNamed = (name: string): Stage => {
    const stage = stages.find((s) => s.name === name);
    if (!stage) throw new Error(`COPY --from=${name}: the Dockerfile has no stage of that name`);
    return stage;
  };
  const runs = (stage: Stage) => stage.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
  /** A stage's files mirror the repository from its WORKDIR: where `path` of that stage comes from. */
  const inRepository = (stage: Stage, path: string) => {
    const rel = posix.relative(workdir(stage), path);
    if (rel.startsWith('..') || isAbsolute(rel)) throw new Error(`${path} is outside the stage's WORKDIR ${workdir(stage)}`);
    return join(REPO, rel);
  };

  it('the image runs on node:20-bookworm-slim, as a numeric user that is not root, with no secret in ENV or ARG', () => {
    expect(runtime.from).toBe('node:20-bookworm-slim');
    const user = runtime.instructions.filter((i) => i.keyword === 'USER').at(-1)?.args;
    // Numeric: Kubernetes cannot verify runAsNonRoot for a user name.
    expect(user, 'the last stage sets USER').toMatch(/^\d+(?::\d+)?$/);
    expect(Number(user!.split(':')[0])).toBeGreaterThan(0);
    for (const stage of stages) {
      for (const i of stage.instructions.filter((x) => x.keyword === 'ENV' || x.keyword === 'ARG')) {
        const names = [...i.args.matchAll(/(?:^|\s)(\w+)(?==|\s|$)/g)].map((m) => m[1]!);
        for (const name of names) expect(name, `${i.keyword} ${i.args}`).not.toMatch(/SECRET|PASSWORD|TOKEN|KEY|CONNECTION_STRING|CREDENTIAL|DATABASE_URL|^PORTAL_SYNC_DB$/i);
      }
    }
  });

  it('every file copied from the build context exists and is sent by .dockerignore; local secrets and node_modules are not', () => {
    const fromContext = stages.flatMap((s) => copies(s).filter((c) => c.from === null).flatMap((c) => c.sources));
    expect(fromContext.length).toBeGreaterThan(0);
    for (const source of fromContext) {
      expect(existsSync(join(REPO, source)), `COPY ${source}: not in the repository`).toBe(true);
      expect(inBuildContext(dockerignore, source), `COPY ${source}: .dockerignore leaves it out of the build context`).toBe(true);
    }
    for (const kept of ['node_modules', 'dist', '.env', 'portal-sync.db', '.portal-sync/emulator.env', '.git']) {
      expect(inBuildContext(dockerignore, kept), `${kept} is sent to the build context`).toBe(false);
    }
  });

  it('the build stage copies what tsconfig.build.json compiles before `npm run build`, and every npm script it runs exists', () => {
    const build = stages.find((s) => runs(s).some((r) => /\bnpm run build\b/.test(r)));
    if (!build) throw new Error('no stage runs `npm run build`');
    const at = build.instructions.findIndex((i) => i.keyword === 'RUN' && /\bnpm run build\b/.test(i.args));
    const copiedBefore = copies({ ...build, instructions: build.instructions.slice(0, at) }).flatMap((c) => c.sources);
    const tsconfig = JSON.parse(readFileSync(join(REPO, 'tsconfig.build.json'), 'utf8')) as { extends?: string; include: string[] };
    for (const needed of [...tsconfig.include, 'tsconfig.build.json', ...(tsconfig.extends ? [tsconfig.extends.replace(/^\.\//, '')] : []), 'package.json', 'package-lock.json']) {
      expect(copiedBefore, `the build needs ${needed}`).toContain(needed);
    }
    for (const stage of stages) {
      for (const run of runs(stage)) {
        for (const [, prefix, script] of run.matchAll(/\bnpm\s+(?:--prefix\s+(\S+)\s+)?run\s+([\w:-]+)/g)) {
          const manifest = join(prefix ? inRepository(stage, posix.resolve(workdir(stage), prefix)) : REPO, 'package.json');
          const scripts = (JSON.parse(readFileSync(manifest, 'utf8')) as { scripts?: Record<string, string> }).scripts ?? {};
          expect(scripts[script!], `RUN ${run}: ${relative(REPO, manifest)} has no script ${script}`).toBeDefined();
        }
      }
    }
  });

  it("the image's node_modules are `npm ci --omit=dev`, and every production package with an install script is built after --ignore-scripts", () => {
    const copy = copies(runtime).find((c) => c.sources.some((s) => s.endsWith('/node_modules')));
    if (!copy?.from) throw new Error('the last stage copies node_modules from no stage');
    const deps = stageNamed(copy.from);
    const install = runs(deps).find((r) => /\bnpm ci\b/.test(r));
    expect(install, `stage ${copy.from} installs with npm ci`).toMatch(/--omit=dev/);
    const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; hasInstallScript?: boolean }> };
    const native = Object.entries(lock.packages)
      .filter(([path, p]) => path !== '' && p.hasInstallScript && !p.dev)
      .map(([path]) => path);
    expect(native).toContain('node_modules/better-sqlite3');
    if (/--ignore-scripts/.test(install!)) {
      for (const path of native) expect(runs(deps).join('\n'), `${path}'s install script is skipped and never run`).toContain(path.replace(/^node_modules\//, ''));
      // better-sqlite3 compiles from source: the toolchain node-gyp needs.
      expect(runs(deps).join('\n')).toMatch(/apt-get install\b.*\bpython3\b.*\bmake\b.*\bg\+\+/);
    }
  });

  it("laid out as the last stage copies it, the image runs its ENTRYPOINT: --version, its CMD, and migrate", async () => {
    builtModule('src/cli.ts'); // the build stage's output is this checkout's, fresh
    const image = mkdtempSync(join(tmpdir(), 'portal-sync-image-'));
    try {
      const imagePath = (abs: string) => join(image, abs);
      runtime.instructions.forEach((instruction, index) => {
        if (instruction.keyword !== 'COPY') return;
        const [copy] = copies({ ...runtime, instructions: [instruction] });
        const destination = posix.resolve(workdir(runtime, index), copy!.destination);
        for (const source of copy!.sources) {
          const from = copy!.from === null ? join(REPO, source) : inRepository(stageNamed(copy!.from), source);
          expect(existsSync(from), `COPY ${instruction.args}: ${relative(REPO, from)} is not there after the build`).toBe(true);
          // COPY puts a file into a destination folder under its own name, a folder's contents into the destination.
          const intoFolder = !statSync(from).isDirectory() && (copy!.sources.length > 1 || copy!.destination.endsWith('/'));
          const target = intoFolder ? posix.join(destination, posix.basename(source)) : destination;
          mkdirSync(dirname(imagePath(target)), { recursive: true });
          // node_modules stands for the production install (the repository's is a superset): linked, not copied.
          if (posix.basename(source) === 'node_modules') symlinkSync(from, imagePath(target));
          else cpSync(from, imagePath(target), { recursive: true });
        }
      });
      const entrypoint = execForm(runtime, 'ENTRYPOINT');
      const cmd = execForm(runtime, 'CMD') ?? [];
      expect(entrypoint?.[0]).toBe('node');
      const script = imagePath(entrypoint![1]!);
      expect(existsSync(script), `the ENTRYPOINT runs ${entrypoint![1]}, which the image does not hold`).toBe(true);
      const run = (args: string[]) =>
        collect(spawn(process.execPath, [script, ...entrypoint!.slice(2), ...args], { cwd: image, env: childEnv({ NODE_ENV: 'production' }), stdio: ['ignore', 'pipe', 'pipe'] }));

      const version = await run(['--version']);
      expect(version.code, version.stderr).toBe(0);
      expect(version.stdout.trim()).toBe(PACKAGE.version);
      const help = await run(cmd);
      expect(help.code, help.stderr).toBe(0);
      expect(help.stdout).toMatch(/^Usage: portal-sync/m);

      // migrate finds migrations/ from dist/src/, as every pass does first.
      const url = `sqlite:${join(image, 'portal.db')}`;
      const migrate = await run(['migrate', '--db', url]);
      expect(migrate.code, migrate.stdout + migrate.stderr).toBe(0);
      const knex = openKnex(parseDbUrl(url));
      try {
        const applied = await knex('portal_sync_migrations').orderBy('name').pluck('name');
        expect(applied).toEqual(readdirSync(join(REPO, 'migrations')).filter((f) => /^\d+_.+\.cjs$/.test(f)).sort());
      } finally {
        await knex.destroy();
      }
    } finally {
      rmSync(image, { recursive: true, force: true });
    }
  });
});

const yamlReader = yamlReaderAvailable();
const haveYaml = requireOrSkip('the YAML examples (parsed by PyYAML)', yamlReader);
const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
const havePromtool = requireOrSkip('promtool checks of the Prometheus examples', {
  ok: !promtool.error && promtool.status === 0,
  reason: 'promtool is not installed (Debian: apt-get install prometheus)',
});

const haveCronJobPostgres = haveYaml && requireOrSkip('the CronJobs run against the emulators (PostgreSQL, for --lock postgres)', await postgresAvailable());

/** Commands of `portal-sync --help` that are not a pass over an inventory. */
const NOT_PASSES = new Set(['migrate', 'history', 'prune', 'emulate', 'help', 'metrics']);

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean } };
}
interface CronJob {
  kind: string;
  metadata: { name: string };
  spec: {
    schedule: string;
    concurrencyPolicy?: string;
    jobTemplate: {
      spec: {
        backoffLimit?: number;
        activeDeadlineSeconds?: number;
        podFailurePolicy?: { rules: PodFailureRule[] };
        template: { spec: { restartPolicy?: string; containers: { name: string; image: string; args: string[]; env?: EnvVar[] }[] } };
      };
    };
  };
}
interface PodFailureRule {
  action: string;
  onExitCodes?: { containerName?: string; operator: 'In' | 'NotIn'; values: number[] };
  onPodConditions?: { type: string }[];
}

/** The command a container's args run, named as its run metrics name it (`metrics-push-azure`). */
function runCommand(args: readonly string[]): string {
  const firstFlag = args.findIndex((a) => a.startsWith('--'));
  const words = firstFlag < 0 ? [...args] : args.slice(0, firstFlag);
  if (words.join(' ') === 'metrics push') return `metrics-push-${args[args.indexOf('--provider') + 1]}`;
  return words.join(' ');
}

/** The Job controller's reading of a podFailurePolicy: the first rule matching a container's exit code decides. */
function actionOnExit(rules: readonly PodFailureRule[], container: string, code: number): string {
  for (const rule of rules) {
    const on = rule.onExitCodes;
    if (!on || (on.containerName !== undefined && on.containerName !== container)) continue;
    if ((on.operator === 'In') === on.values.includes(code)) return rule.action;
  }
  return 'Count';
}

describe.runIf(haveYaml)('examples/kubernetes-cronjob.yaml', () => {
  const text = readExample('kubernetes-cronjob.yaml');
  const docs = haveYaml ? (readYamlDocuments(join(REPO, 'examples', 'kubernetes-cronjob.yaml')) as CronJob[]) : [];
  const container = (job: CronJob) => {
    const containers = job.spec.jobTemplate.spec.template.spec.containers;
    expect(containers, job.metadata.name).toHaveLength(1);
    return containers[0]!;
  };

  it('is one CronJob per pass the CLI has, and one per `metrics push --provider`', async () => {
    const help = await runCli(['--help'], {});
    expect(help.code, help.stderr).toBe(0);
    const listed = help.stdout.slice(help.stdout.indexOf('Commands:')).split('\n').slice(1);
    const commands = listed.slice(0, listed.findIndex((l) => l.trim() === '')).flatMap((l) => /^ {2}([a-z][\w-]*)\b/.exec(l)?.[1] ?? []);
    const passes = commands.filter((c) => !NOT_PASSES.has(c));
    expect(passes).toEqual(expect.arrayContaining(['devices', 'edge', 'concentrators', 'gateway-ids', 'thing-types', 'things', 'greengrass']));

    expect(docs.every((d) => d.kind === 'CronJob')).toBe(true);
    expect(docs.map((d) => runCommand(container(d).args)).sort()).toEqual([...passes, 'metrics-push-azure', 'metrics-push-aws'].sort());
  });

  it('every CronJob: Forbid, --lock postgres, --log-format json, restartPolicy Never; 75 ignored, 64 and 78 fail the Job, within a deadline', () => {
    for (const job of docs) {
      const name = job.metadata.name;
      const jobSpec = job.spec.jobTemplate.spec;
      const c = container(job);
      expect(job.spec.concurrencyPolicy, name).toBe('Forbid');
      expect(jobSpec.template.spec.restartPolicy, name).toBe('Never');
      expect(c.args.join(' '), name).toContain('--lock postgres');
      expect(c.args.join(' '), name).toContain('--log-format json');
      const rules = jobSpec.podFailurePolicy?.rules ?? [];
      expect(actionOnExit(rules, c.name, 75), `${name}: exit 75`).toBe('Ignore');
      expect(actionOnExit(rules, c.name, 78), `${name}: exit 78`).toBe('FailJob');
      expect(actionOnExit(rules, c.name, 64), `${name}: exit 64`).toBe('FailJob');
      expect(actionOnExit(rules, c.name, 69), `${name}: exit 69 is worth a retry`).toBe('Count');
      // Ignore starts a replacement pod for every held lock: the deadline is what bounds them.
      expect(jobSpec.activeDeadlineSeconds, name).toBeGreaterThan(0);
    }
  });

  it('secrets come from Secret keys the header documents, never from a value written in the manifest', () => {
    const header = text.slice(0, text.indexOf('\n---'));
    for (const job of docs) {
      for (const env of container(job).env ?? []) {
        const ref = env.valueFrom?.secretKeyRef;
        if (ref) {
          expect(header, `${job.metadata.name} reads key ${ref.key} of Secret ${ref.name}`).toMatch(new RegExp(`^#\\s+(?:keys:)?\\s*${ref.key}\\s`, 'm'));
          expect(header).toContain(`kubectl create secret generic ${ref.name}`);
        } else {
          expect(env.name, `${job.metadata.name}: ${env.name} is written in the manifest`).not.toMatch(/CONNECTION_STRING|SECRET|KEY_ID|PASSWORD|TOKEN|^PORTAL_SYNC_DB$|^DATABASE_URL$/);
        }
      }
    }
  });

  it('`metrics push` runs as often as the alert on its pushes assumes (3 periods)', () => {
    const stale = alertRules().find((r) => r.alert === 'IotHubPortalFleetMetricsStale');
    const period = Number(/>\s*3\s*\*\s*(\d+)\s*$/.exec(stale?.expr ?? '')?.[1]);
    expect(period, `IotHubPortalFleetMetricsStale: ${stale?.expr}`).toBeGreaterThan(0);
    const pushes = docs.filter((d) => container(d).args[0] === 'metrics');
    expect(pushes).toHaveLength(2);
    for (const job of pushes) {
      const every = /^(?:\*|\d+-\d+)\/(\d+) \* \* \* \*$/.exec(job.spec.schedule)?.[1];
      expect(Number(every) * 60, `${job.metadata.name}: schedule ${job.spec.schedule}`).toBe(period);
    }
  });

  describe.runIf(haveCronJobPostgres)('each CronJob, run as its pod would', () => {
    let portal: Portal;
    let aws: TestAws;
    let eventHub: TestEventHub;
    let forwarder: TestForwarder;
    let jasper: TestJasper;
    let gateway: { url: string; stop(): Promise<void> } | null = null;

    beforeAll(async () => {
      portal = await startPortal('postgres', FLEET, { devices: FLEET.deviceModels, edge: FLEET.edgeDeviceModels });
      aws = await startTestAws(FLEET);
      eventHub = await startTestEventHub(FLEET);
      forwarder = await startTestForwarder(FLEET);
      // The customer database of navixy-customers, as `emulate --seed-models` writes the fleet's: the
      // portal database's customers table (the CronJob's customers-database-url is optional).
      await seedCustomers(portal.db.knex(), forwarder.emulator.fixture().customers);
      // jasper's service providers, as `emulate --seed-models` writes them: the emulator's base URLs.
      jasper = await startTestJasper(FLEET);
      await seedJasperProviders(portal.db.knex(), jasper.emulator.providers());
      const started = await startPushgateway();
      if ('skipped' in started) requireOrSkip("the CronJobs' Pushgateway", { ok: false, reason: started.skipped });
      else gateway = started;
    });
    afterAll(async () => {
      await gateway?.stop();
      await aws?.close();
      await eventHub?.close();
      await forwarder?.close();
      await jasper?.close();
      await portal?.close();
    });

    it('with its env and Secret keys (and the emulators\' endpoints), each exits 0 and pushes its metrics', async () => {
      const hub = portal.hub.env();
      const secrets: Record<string, Record<string, string>> = {
        'portal-sync': {
          'database-url': portal.db.url,
          'iothub-connection-string': hub.IOTHUB_CONNECTION_STRING!,
          'aws-access-key-id': aws.env().AWS_ACCESS_KEY_ID!,
          'aws-secret-access-key': aws.env().AWS_SECRET_ACCESS_KEY!,
          'eventhub-connection-string': eventHub.emulator.env().EVENTHUB_CONNECTION_STRING,
          'navixy-forwarder-token': forwarder.env().NAVIXY_FORWARDER_TOKEN!,
          'jasper-api-key-sp1': jasper.emulator.env().JASPER_API_KEY_SP1!,
          // No customers-database-url: an optional key the Secret lacks leaves its variable unset.
        },
      };
      const help = (await runCli(['--help'], {})).stdout;
      const haveMetricsPush = /^ {2}metrics\b/m.test(help);
      const ran: string[] = [];
      for (const job of docs) {
        const c = container(job);
        if (c.args[0] === 'metrics' && !haveMetricsPush) {
          process.stderr.write(`skipping ${job.metadata.name}: this build has no \`metrics push\` command yet\n`);
          continue;
        }
        const env: Record<string, string> = {};
        for (const v of c.env ?? []) {
          const ref = v.valueFrom?.secretKeyRef;
          const value = ref ? secrets[ref.name]?.[ref.key] : v.value;
          if (value === undefined && ref?.optional === true) continue; // as Kubernetes starts the pod
          if (value === undefined) throw new Error(`${job.metadata.name} sets ${v.name} from ${ref ? `key ${ref.key} of Secret ${ref.name}` : 'nothing'}: this test has no value for it`);
          env[v.name] = value;
        }
        if (env.PORTAL_SYNC_PUSHGATEWAY) env.PORTAL_SYNC_PUSHGATEWAY = gateway?.url ?? 'http://127.0.0.1:9';
        // Not in a production manifest: where the emulators listen.
        if (env.IOTHUB_CONNECTION_STRING) env.IOTHUB_ENDPOINT = hub.IOTHUB_ENDPOINT!;
        if (env.AWS_REGION) Object.assign(env, Object.fromEntries(Object.entries(aws.env()).filter(([k]) => k.startsWith('AWS_ENDPOINT_URL'))));
        if (env.NAVIXY_FORWARDER_URL) env.NAVIXY_FORWARDER_URL = forwarder.env().NAVIXY_FORWARDER_URL!;
        const result: CliResult = await runCli(c.args, env);
        expect(result.code, `${job.metadata.name}: portal-sync ${c.args.join(' ')}\n${result.stdout}${result.stderr}`).toBe(0);
        // --log-format json: one JSON record per run on stdout, every log line on stderr JSON too.
        for (const line of (result.stdout + result.stderr).split('\n').filter((l) => l.trim() !== '')) expect(() => JSON.parse(line), line).not.toThrow();
        ran.push(runCommand(c.args));
      }
      expect(ran.length).toBeGreaterThanOrEqual(7);
      if (gateway) {
        const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
        for (const command of ran) expect(metrics, command).toMatch(new RegExp(`^portal_sync_run_status\\{command="${command}",[^}]*job="portal_sync"[^}]*\\} 0$`, 'm'));
        if (haveMetricsPush) expect(metrics).toMatch(/^iot_hub_portal_device_count\{[^}]*instance="[^"]+"[^}]*job="iot_hub_portal"[^}]*\} \d+$/m);
        // navixy-customers acted on examples/fleet.json's customers, and its gauges say the connections
        // now match the eligible customers.
        expect(ran).toContain('navixy-customers');
        /** The value of a navixy-customers series the gateway serves (labels beside command and job). */
        const navixy = (name: string, labels: Record<string, string> = {}) => {
          for (const [, text, value] of metrics.matchAll(new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`, 'gm'))) {
            const got = Object.fromEntries([...text!.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
            if (got.command === 'navixy-customers' && got.job === 'portal_sync' && Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(value);
          }
          return undefined;
        };
        for (const gauge of navixyGauges(navixySample(new Date()))) {
          for (const { labels } of gauge.values) expect(navixy(gauge.name, labels), `${gauge.name} ${JSON.stringify(labels ?? {})}`).toBeTypeOf('number');
        }
        expect(navixy('portal_sync_changes', { action: 'create' })).toBeGreaterThan(0);
        expect(navixy('portal_sync_changes', { action: 'delete' })).toBeGreaterThan(0);
        expect(navixy('portal_sync_navixy_validation_ok')).toBe(1);
        expect(navixy('portal_sync_navixy_consecutive_discrepant_passes')).toBe(0);
        expect(navixy('portal_sync_navixy_suspended_with_connection')).toBe(0);
        expect(navixy('portal_sync_navixy_eligible_customers')).toBe(eligibleFleetCustomers().length);
      }
      // What the forwarding service now holds: one active connection per eligible customer.
      const active = ((await (await fetch(`${forwarder.env().NAVIXY_FORWARDER_URL}/__emulator/forwarder/state`)).json()) as { connections: { customerRef: string; status: string }[] }).connections
        .filter((c) => c.status === 'connected' || c.status === 'pending')
        .map((c) => c.customerRef)
        .sort();
      expect(active).toEqual(eligibleFleetCustomers());
    });
  });
});

interface AlertRule {
  alert?: string;
  record?: string;
  expr: string;
}
function alertRules(): AlertRule[] {
  const [doc] = readYamlDocuments(join(REPO, 'examples', 'prometheus-alerts.yaml')) as { groups: { rules: AlertRule[] }[] }[];
  return doc!.groups.flatMap((g) => g.rules);
}

interface Dashboard {
  schemaVersion: number;
  templating: { list: { name: string; type: string; query: string | { query: string }; datasource?: { uid: string } }[] };
  panels: { id: number; type: string; title: string; gridPos: { x: number; y: number; w: number; h: number }; datasource?: { type: string; uid: string }; targets?: { expr: string; datasource?: { uid: string } }[] }[];
}
const dashboard = JSON.parse(readExample('grafana-dashboard.json')) as Dashboard;
const dashboardExprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
const variableQuery = (name: string) => {
  const v = dashboard.templating.list.find((x) => x.name === name);
  if (!v) throw new Error(`the dashboard has no variable ${name}`);
  return typeof v.query === 'string' ? v.query : v.query.query;
};

/** What portal-sync really pushes: a run's metrics as rendered for the gateway, the fleet gauges, and the gateway's own push time. */
async function knownMetrics(): Promise<Set<string>> {
  const at = new Date('2026-11-23T10:00:00Z');
  const rendered = await renderRunMetrics({
    command: 'devices',
    status: 'ok', // the last-success gauge is only there for a successful run
    startedAt: at,
    finishedAt: at,
    changes: { create: 1, update: 0, delete: 0 },
    records: { unchanged: 0, skipped: 0, failed: 0 },
    apiCalls: { 'query:devices': 1 },
    quota: { throttled: 0, waitSeconds: 0 }, // the throttle metrics are only there for a run that called the provider
  });
  const runMetrics = [...rendered.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!);
  expect(runMetrics.length).toBeGreaterThan(5);
  // navixy-customers pushes its gauges in its own group, beside its run metrics.
  const navixy = await renderRunMetrics({
    command: 'navixy-customers',
    status: 'ok',
    startedAt: at,
    finishedAt: at,
    changes: { create: 1, update: 0, delete: 1 },
    records: { unchanged: 2, skipped: 1, failed: 0 },
    apiCalls: { ListConnections: 1 },
    gauges: navixyGauges(navixySample(at)),
  });
  const navixyMetrics = [...navixy.matchAll(/^# TYPE (portal_sync_navixy_\S+) /gm)].map((m) => m[1]!);
  expect(navixyMetrics).toEqual(navixyGaugeNames());
  return new Set([...runMetrics, ...navixyMetrics, ...FLEET_GAUGES.map((g) => g.name), 'push_time_seconds']);
}

/** A validated navixy-customers pass: what its gauges are rendered from. */
function navixySample(at: Date): NavixyResult {
  const counts = { eligible: 3, connections: 3, missing: 0, extra: 0, suspendedWithConnection: 0, skipped: 1, inStep: 3, overridden: 0 };
  return {
    command: 'navixy-customers', status: 'ok', dryRun: false, exitCode: 0, runId: 1, startedAt: at, finishedAt: at,
    plan: null, actions: [], customers: 4, apiCalls: { ListConnections: 1 }, error: null,
    validation: { ok: true, problems: [], problemCount: 0, counts, consecutiveDiscrepantPasses: 0 },
  };
}

/** The names of the gauges navixy-customers pushes, as the command builds them. */
function navixyGaugeNames(): string[] {
  const names = navixyGauges(navixySample(new Date())).map((g) => g.name);
  expect(names.length).toBeGreaterThan(0);
  return names;
}

/** The customers of examples/fleet.json that should hold a connection: provider Navixy, active, a hash, a gateway. */
function eligibleFleetCustomers(): string[] {
  const customers = (FLEET.forwarder?.customers ?? []) as { reference: string; provider: string | null; state: string | null; hash: string | null; gatewayCount: number | null }[];
  return customers
    .filter((c) => c.provider?.trim().toLowerCase() === 'navixy' && c.state?.trim().toLowerCase() === 'active' && (c.hash ?? '').trim() !== '' && (c.gatewayCount ?? 0) > 0)
    .map((c) => c.reference)
    .sort();
}

describe('metric names in the alert rules and the dashboard', () => {
  it('the reader finds the names an expression selects, and only those', () => {
    expect(
      metricNames('sum by (command) (rate(portal_sync_typo{job="portal_sync", command=~"$command"}[$__rate_interval])) > on(instance) group_left(x) other:metric offset 1h and time() - 3 * 1e3'),
    ).toEqual(['other:metric', 'portal_sync_typo']);
    expect(labelValuesMetric('label_values(portal_sync_run_status{job="portal_sync"}, command)')).toEqual(['portal_sync_run_status']);
  });

  it.runIf(haveYaml)('every metric the alert rules select is one portal-sync pushes', async () => {
    const known = await knownMetrics();
    const rules = alertRules();
    expect(rules.length).toBeGreaterThanOrEqual(6);
    for (const rule of rules) {
      const names = metricNames(rule.expr);
      expect(names.length, `${rule.alert}: ${rule.expr}`).toBeGreaterThan(0);
      for (const name of names) expect(known, `${rule.alert} selects ${name}`).toContain(name);
    }
  });

  it('every metric the dashboard selects is one portal-sync pushes, and every one it pushes has a panel', async () => {
    const known = await knownMetrics();
    const used = new Set<string>();
    for (const { panel, expr } of dashboardExprs) {
      const names = metricNames(expr);
      expect(names.length, `panel "${panel}": ${expr}`).toBeGreaterThan(0);
      for (const name of names) {
        expect(known, `panel "${panel}" selects ${name}`).toContain(name);
        used.add(name);
      }
    }
    for (const v of ['command', 'instance']) for (const name of labelValuesMetric(variableQuery(v)) ?? []) expect(known, `variable ${v}`).toContain(name);
    expect([...known].filter((name) => !used.has(name)), 'metrics no panel shows').toEqual([]);
  });
});

describe('examples/grafana-dashboard.json', () => {
  it('imports anywhere: a Prometheus datasource variable that every panel and query uses', () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    const ds = dashboard.templating.list.find((v) => v.type === 'datasource');
    expect(ds?.query).toBe('prometheus');
    const uid = `\${${ds!.name}}`;
    for (const panel of dashboard.panels.filter((p) => p.type !== 'row')) {
      expect(panel.datasource?.uid, `panel "${panel.title}"`).toBe(uid);
      for (const t of panel.targets ?? []) expect(t.datasource?.uid, `panel "${panel.title}"`).toBe(uid);
    }
  });

  it('filters the run metrics by the command variable and the fleet gauges by the instance variable', () => {
    expect(labelValuesMetric(variableQuery('command'))).toEqual(['portal_sync_run_status']);
    expect(variableQuery('command')).toMatch(/,\s*command\)$/);
    expect(variableQuery('instance')).toMatch(/^label_values\(iot_hub_portal_\w+\{job="iot_hub_portal"\},\s*instance\)$/);
    for (const { panel, expr } of dashboardExprs) {
      const names = metricNames(expr);
      if (names.some((n) => n.startsWith('portal_sync_'))) expect(expr, panel).toMatch(/job="portal_sync", command=~"\$command"/);
      else expect(expr, panel).toMatch(/job="iot_hub_portal", instance=~"\$instance"/);
    }
  });

  it('lays its panels out on the 24-column grid, unique ids, none overlapping', () => {
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Map<string, string>();
    for (const p of dashboard.panels) {
      const { x, y, w, h } = p.gridPos;
      expect(x + w, `panel "${p.title}"`).toBeLessThanOrEqual(24);
      for (let i = x; i < x + w; i++) {
        for (let j = y; j < y + h; j++) {
          const other = cells.get(`${i},${j}`);
          expect(other, `panel "${p.title}" overlaps "${other}"`).toBeUndefined();
          cells.set(`${i},${j}`, p.title);
        }
      }
    }
  });
});

describe.runIf(havePromtool && haveYaml)('the Prometheus examples, with promtool', () => {
  const promtoolRun = (args: string[]) => spawnSync('promtool', args, { cwd: join(REPO, 'examples'), encoding: 'utf8' });

  it('promtool check rules examples/prometheus-alerts.yaml', () => {
    const result = promtoolRun(['check', 'rules', 'prometheus-alerts.yaml']);
    expect(result.status, result.stdout + result.stderr).toBe(0);
  });

  it('promtool test rules examples/prometheus-alerts.test.yaml, which makes every alert fire and stay quiet', () => {
    const result = promtoolRun(['test', 'rules', 'prometheus-alerts.test.yaml']);
    expect(result.status, result.stdout + result.stderr).toBe(0);
    const [tests] = readYamlDocuments(join(REPO, 'examples', 'prometheus-alerts.test.yaml')) as { tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[] }[];
    const cases = tests!.tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const { alert } of alertRules()) {
      expect(cases.some((c) => c.alertname === alert && (c.exp_alerts ?? []).length > 0), `${alert} is never made to fire`).toBe(true);
      expect(cases.some((c) => c.alertname === alert && (c.exp_alerts ?? []).length === 0), `${alert} is never shown quiet`).toBe(true);
    }
  });

  it('promtool check config examples/prometheus-scrape.yaml: the Pushgateway job keeps the pushed labels (honor_labels)', () => {
    const result = promtoolRun(['check', 'config', 'prometheus-scrape.yaml']);
    expect(result.status, result.stdout + result.stderr).toBe(0);
    const [config] = readYamlDocuments(join(REPO, 'examples', 'prometheus-scrape.yaml')) as { scrape_configs: { job_name: string; honor_labels?: boolean }[] }[];
    expect(config!.scrape_configs.find((j) => j.job_name === 'pushgateway')?.honor_labels).toBe(true);
  });

  it("every query of the dashboard is PromQL Prometheus parses, Grafana's variables given values", () => {
    const dir = mkdtempSync(join(tmpdir(), 'portal-sync-dashboard-'));
    try {
      const concrete = (expr: string) => expr.replace(/\$__rate_interval|\$__interval/g, '5m').replace(/\$\{?\w+\}?/g, '.*');
      // A rules file is the one thing promtool parses PromQL in: each query as a recording rule (JSON is YAML).
      const rules = { groups: [{ name: 'dashboard', rules: dashboardExprs.map((q, i) => ({ record: `dashboard:query_${i}`, expr: concrete(q.expr) })) }] };
      writeFileSync(join(dir, 'dashboard-queries.yaml'), JSON.stringify(rules));
      const result = spawnSync('promtool', ['check', 'rules', join(dir, 'dashboard-queries.yaml')], { encoding: 'utf8' });
      expect(result.status, result.stdout + result.stderr).toBe(0);
      expect(result.stdout).toContain(`${dashboardExprs.length} rules found`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const prometheusBinary = spawnSync('prometheus', ['--version'], { encoding: 'utf8' });
const havePrometheus =
  haveYaml &&
  requireOrSkip('Prometheus scraping a Pushgateway with the example configuration', {
    ok: !prometheusBinary.error && prometheusBinary.status === 0,
    reason: 'prometheus is not installed (Debian: apt-get install prometheus)',
  });

describe.runIf(havePrometheus)('examples/prometheus-scrape.yaml, in a real Prometheus scraping a real Pushgateway', () => {
  let gateway: { url: string; stop(): Promise<void> } | null = null;
  let prometheus: { url: string; stop(): Promise<void> } | null = null;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'portal-sync-prometheus-'));
    const started = await startPushgateway();
    if ('skipped' in started) {
      requireOrSkip('Prometheus scraping a Pushgateway', { ok: false, reason: started.skipped });
      return;
    }
    gateway = started;
    const [example] = readYamlDocuments(join(REPO, 'examples', 'prometheus-scrape.yaml')) as { scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[]; rule_files: string[] }[];
    const job = example!.scrape_configs.find((j) => j.job_name === 'pushgateway')!;
    const target = new URL(gateway.url).host;
    // The example's job as written, pointed at the test's gateway; beside it, the same job without
    // honor_labels, to show what the example's comment says it prevents. Every second, not every 30.
    const config = {
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: example!.rule_files.map((f) => join(REPO, 'examples', f)),
      scrape_configs: [
        { ...job, static_configs: [{ targets: [target] }] },
        { job_name: 'pushgateway-default-labels', static_configs: [{ targets: [target] }] },
      ],
    };
    writeFileSync(join(dir, 'prometheus.yml'), JSON.stringify(config)); // JSON is YAML
    prometheus = await startPrometheus(join(dir, 'prometheus.yml'), join(dir, 'data'));
  });

  afterAll(async () => {
    await prometheus?.stop();
    await gateway?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const query = async (promql: string) => {
    const res = await fetch(`${prometheus!.url}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await res.json()) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
    expect(body.status, promql).toBe('success');
    return body.data.result;
  };

  it('pushed series keep job and instance: what the alert rules select is there, and the rules load and evaluate', async () => {
    if (!gateway || !prometheus) return;
    const at = new Date();
    await pushRunMetrics(gateway.url, {
      command: 'devices', status: 'ok', startedAt: at, finishedAt: at,
      changes: { create: 1, update: 0, delete: 0 }, records: { unchanged: 4, skipped: 3, failed: 0 }, apiCalls: { 'query:devices': 1 },
    });
    // The fleet gauges' grouping key as `metrics push` pushes them: job and the hub's host name.
    const fleet = await fetch(`${gateway.url}/metrics/job/iot_hub_portal/instance/demo-hub.azure-devices.net`, {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain; version=0.0.4' },
      body: '# TYPE iot_hub_portal_device_count gauge\niot_hub_portal_device_count 5\n',
    });
    expect(fleet.status).toBe(200);

    let status: Awaited<ReturnType<typeof query>> = [];
    await waitFor(async () => (status = await query('portal_sync_run_status{job="portal_sync", command="devices"}')).length > 0, 'the run metrics scraped under job="portal_sync"', 200, 50);
    expect(status[0]!.value[1]).toBe('0');
    let pushed: Awaited<ReturnType<typeof query>> = [];
    await waitFor(async () => (pushed = await query('time() - push_time_seconds{job="iot_hub_portal"}')).length > 0, 'push_time_seconds under job="iot_hub_portal"', 200, 50);
    expect(pushed.map((r) => r.metric.instance)).toEqual(['demo-hub.azure-devices.net']);
    expect(Number(pushed[0]!.value[1])).toBeLessThan(60);
    expect(await query('iot_hub_portal_device_count{job="iot_hub_portal", instance="demo-hub.azure-devices.net"}')).toHaveLength(1);

    // Without honor_labels the same series are the gateway's: the pushed labels renamed aside.
    let renamed: Awaited<ReturnType<typeof query>> = [];
    await waitFor(async () => (renamed = await query('portal_sync_run_status{job="pushgateway-default-labels"}')).length > 0, 'the same series scraped by the job without honor_labels', 200, 50);
    expect(renamed.map((r) => [r.metric.exported_job, r.metric.command])).toEqual([['portal_sync', 'devices']]);

    // Every rule of prometheus-alerts.yaml loaded, and evaluated without error on these series.
    let rules: { name: string; health: string; lastError?: string }[] = [];
    await waitFor(async () => {
      const body = (await (await fetch(`${prometheus!.url}/api/v1/rules`)).json()) as { data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] } };
      rules = body.data.groups.flatMap((g) => g.rules);
      return rules.length > 0 && rules.every((r) => r.health !== 'unknown');
    }, 'a first evaluation of every rule', 200, 50);
    expect(rules.map((r) => r.name).sort()).toEqual(alertRules().map((r) => r.alert).sort());
    for (const rule of rules) expect(rule.health, `${rule.name}: ${rule.lastError}`).toBe('ok');
  });
});

/** A real Prometheus on a free loopback port, once its readiness endpoint answers. */
async function startPrometheus(configFile: string, dataDir: string): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
  const url = `http://127.0.0.1:${port}`;
  const child = spawn('prometheus', [`--config.file=${configFile}`, `--storage.tsdb.path=${dataDir}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  try {
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`prometheus exited: ${stderr}`);
      try {
        return (await fetch(`${url}/-/ready`)).status === 200;
      } catch {
        return false;
      }
    }, `prometheus ready on ${url}`, 400, 50);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, stop };
}
