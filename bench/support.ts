/** What the benchmarks share: a scratch database per backend, the CLI run as its own process, checks. */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Knex } from 'knex';
import pg from 'pg';
import type { IotHubEmulator } from '../src/emulators/iothub/index.js';
import { openKnex, parseDbUrl } from '../src/store/db.js';
import { migrateLatest } from '../src/store/migrate.js';
import { upsertDeviceModels, upsertEdgeDeviceModels } from '../src/store/models.js';

const CLI = fileURLToPath(new URL('../../bin/portal-sync', import.meta.url));
export const BACKENDS = (process.env.BENCH_BACKENDS ?? 'sqlite,postgres').split(',');
const PG_ADMIN = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface PassFigures {
  bench: string;
  backend: string;
  pass: string;
  seconds: number;
  records: number;
  apiCalls: number;
  expectedCalls: number;
  peakRssMb: number;
}

export type Check = [text: string, ok: boolean];

/** Node options for the CLI's process only, e.g. `BENCH_NODE_ARGS=--cpu-prof` to profile a pass (NODE_OPTIONS refuses it). */
const CLI_NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');

/** Runs one pass of `command` as cron would, with --json; the bench clock includes process start. */
export function runPass(command: string, args: string[], env: Record<string, string>): Promise<{ seconds: number; doc: any }> {
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, [...CLI_NODE_ARGS, CLI, command, '--json', '--no-progress', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (code !== 0) {
        let reason = stdout.slice(0, 500);
        try {
          reason = JSON.parse(stdout).error ?? reason;
        } catch {
          // not JSON: show the start of it
        }
        return reject(new Error(`${command} exited ${code}: ${reason}`));
      }
      resolve({ seconds, doc: JSON.parse(stdout) });
    });
  });
}

export async function scratchDatabase(backend: string): Promise<{ url: string; drop(): Promise<void> }> {
  if (backend === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'portal-sync-bench-'));
    return { url: `sqlite:${join(dir, 'bench.db')}`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const name = `portal_sync_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(PG_ADMIN);
  url.pathname = `/${name}`;
  return {
    url: url.href,
    async drop() {
      const c = new pg.Client({ connectionString: PG_ADMIN });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** Schema and the fleet's models, as the portal's UI would have created them. */
export async function seedModels(dbUrl: string, emulator: IotHubEmulator): Promise<void> {
  await withDatabase(dbUrl, async (knex) => {
    await migrateLatest(knex);
    const f = emulator.fixture();
    await upsertDeviceModels(
      knex,
      f.deviceModels.map((m) => ({ ...m, description: m.description ?? null, supportLoRaFeatures: m.supportLoRaFeatures === true })),
    );
    await upsertEdgeDeviceModels(
      knex,
      f.edgeDeviceModels.map((m) => ({ id: m.id, name: m.name, description: m.description ?? null, externalIdentifier: m.externalIdentifier ?? null })),
    );
  });
}

export function scratchDir(): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), 'portal-sync-bench-locks-'));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export function report(f: PassFigures, summary: Record<string, number>): void {
  console.log(
    `${f.bench.padEnd(14)} ${f.backend.padEnd(8)} ${f.pass.padEnd(12)} ${f.seconds.toFixed(2).padStart(6)} s  ` +
      `${Math.round(f.records / f.seconds).toLocaleString('en-US').padStart(8)} records/s  ` +
      `API calls ${String(f.apiCalls).padStart(4)} (expected ${f.expectedCalls})  peak RSS ${f.peakRssMb.toFixed(0).padStart(3)} MB  ` +
      `create ${summary.create} update ${summary.update} delete ${summary.delete} unchanged ${summary.unchanged}`,
  );
}

export function figures(bench: string, backend: string, pass: string, seconds: number, records: number, expectedCalls: number, doc: any): PassFigures {
  const f: PassFigures = {
    bench,
    backend,
    pass,
    seconds,
    records,
    apiCalls: doc.apiCalls.total,
    expectedCalls,
    peakRssMb: doc.peakRssBytes / 1024 / 1024,
  };
  report(f, doc.summary);
  return f;
}

/** Runs a benchmark on every backend; a backend that cannot be measured is a failed check, not a crash. */
export async function acrossBackends(name: string, bench: (backend: string) => Promise<PassFigures[]>): Promise<{ all: PassFigures[]; checks: Check[] }> {
  const all: PassFigures[] = [];
  const checks: Check[] = [];
  for (const backend of BACKENDS) {
    try {
      all.push(...(await bench(backend)));
    } catch (error) {
      checks.push([`${name} on ${backend} measured (${(error as Error).message.split('\n')[0]})`, false]);
    }
  }
  return { all, checks };
}

/**
 * `portal-sync emulate --generate <spec>` in a child process, so the CPU the benchmark measures is
 * its own and not the emulator's. Its environment (endpoints, keys) is set in this process's env.
 */
export async function emulatorChild(spec: string): Promise<{ pid: number | undefined; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'portal-sync-bench-emulator-'));
  const envFile = join(dir, 'emulator.env');
  const child = spawn(process.execPath, [CLI, 'emulate', '--generate', spec, '--write-env', envFile], { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    while (!existsSync(envFile)) {
      if (child.exitCode !== null) throw new Error(`emulate exited ${child.exitCode} before it was ready`);
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const line of readFileSync(envFile, 'utf8').split('\n')) {
      const m = /^export ([A-Z0-9_]+)='(.*)'$/.exec(line);
      if (m) process.env[m[1]!] = m[2]!;
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { pid: child.pid, stop };
}


/** `fn` with a knex handle on `dbUrl`, closed after it, whatever happens. */
export async function withDatabase<T>(dbUrl: string, fn: (knex: Knex) => Promise<T>): Promise<T> {
  const knex = openKnex(parseDbUrl(dbUrl));
  try {
    return await fn(knex);
  } finally {
    await knex.destroy();
  }
}
