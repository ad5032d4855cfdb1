/**
 * Shared helpers for suites that need outside services (PostgreSQL, a Prometheus Pushgateway).
 *
 * Locally a missing service skips the suite with one line on stderr; in CI (env CI set and not
 * 'false'/'0') a missing service fails the suite, so a broken CI image is never silently green.
 *
 *   const pg = await postgresAvailable();
 *   const havePg = requireOrSkip('PostgreSQL store tests', pg);
 *   describe.runIf(havePg)('...', () => { ... });
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import net from 'node:net';
import pg from 'pg';

export const inCI: boolean = (() => {
  const v = process.env.CI;
  if (v === undefined) return false;
  const t = v.trim().toLowerCase();
  return t !== '' && t !== 'false' && t !== '0';
})();

export const DEFAULT_TEST_PG_URL = 'postgres://postgres@127.0.0.1:5432/test';

function redact(url: string): string {
  try {
    const u = new URL(url);
    u.password = u.password ? '***' : '';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}

export async function postgresAvailable(): Promise<{ ok: true; url: string } | { ok: false; reason: string }> {
  const url = process.env.PORTAL_SYNC_TEST_PG_URL || DEFAULT_TEST_PG_URL;
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return { ok: true, url };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return {
      ok: false,
      reason: `PostgreSQL not reachable at ${redact(url)} (${message}); set PORTAL_SYNC_TEST_PG_URL`,
    };
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function withAdmin<T>(adminUrl: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A fresh, empty database `portal_sync_t_<random>` on the test server. */
export async function createTempPostgresDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const avail = await postgresAvailable();
  if (!avail.ok) throw new Error(avail.reason);
  const adminUrl = avail.url;
  const name = `portal_sync_t_${randomBytes(6).toString('hex')}`;
  await withAdmin(adminUrl, (c) => c.query(`CREATE DATABASE "${name}"`));
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  let dropped: Promise<void> | null = null;
  return {
    url: u.toString(),
    drop: () => {
      dropped ??= withAdmin(adminUrl, async (c) => {
        await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
        await c.query(`DROP DATABASE IF EXISTS "${name}"`);
      });
      return dropped;
    },
  };
}

function findPushgatewayBinary(): Promise<string | null> {
  const explicit = process.env.PORTAL_SYNC_TEST_PUSHGATEWAY_BIN;
  if (explicit) return Promise.resolve(existsSync(explicit) ? explicit : null);
  if (existsSync('/usr/bin/prometheus-pushgateway')) return Promise.resolve('/usr/bin/prometheus-pushgateway');
  return new Promise((resolve) => {
    execFile('which', ['prometheus-pushgateway'], (err, stdout) => {
      const found = stdout?.trim();
      resolve(!err && found ? found : null);
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const killTimer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(killTimer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

const READY_ATTEMPTS = 100;
const READY_INTERVAL_MS = 50;

/**
 * Starts a real Pushgateway on 127.0.0.1:<free port>. Resolves with its base URL once
 * GET /-/ready answers 200, or `{ skipped }` when no binary is installed.
 */
export async function startPushgateway(): Promise<{ url: string; stop(): Promise<void> } | { skipped: string }> {
  const bin = await findPushgatewayBinary();
  if (!bin) return { skipped: 'prometheus-pushgateway is not installed (Debian: apt-get install prometheus-pushgateway)' };

  let lastProblem = '';
  // A free port can be taken between probing and binding: a few tries.
  for (let tries = 0; tries < 3; tries++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    // Debian's build persists to /var/lib/prometheus/pushgateway.data by default: an empty
    // --persistence.file keeps each test gateway in memory, so runs never see each other's metrics.
    const args = [`--web.listen-address=127.0.0.1:${port}`, '--persistence.file=', '--log.level=warn'];
    const child = spawn(bin, args, {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-2000);
    });
    let exited = false;
    let spawnError: Error | null = null;
    child.once('exit', () => {
      exited = true;
    });
    child.once('error', (err) => {
      spawnError = err;
      exited = true;
    });

    for (let attempt = 0; attempt < READY_ATTEMPTS && !exited; attempt++) {
      try {
        const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) });
        await res.arrayBuffer().catch(() => undefined);
        if (res.status === 200) {
          let stopped: Promise<void> | null = null;
          return {
            url,
            stop: () => {
              stopped ??= stopChild(child);
              return stopped;
            },
          };
        }
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, READY_INTERVAL_MS));
    }
    await stopChild(child);
    lastProblem = spawnError
      ? `cannot start ${bin}: ${(spawnError as Error).message}`
      : exited
        ? `${bin} exited early: ${stderr.trim() || 'no output'}`
        : `${bin} did not become ready on ${url} within ${(READY_ATTEMPTS * READY_INTERVAL_MS) / 1000} s`;
    if (spawnError) break;
  }
  throw new Error(lastProblem);
}

const announced = new Set<string>();

/**
 * When `check.ok` is false: in CI throw (the suite fails), otherwise print `skipping <name>: <reason>`
 * to stderr once per name and return false. Returns true when the service is there.
 */
export function requireOrSkip(name: string, check: { ok: boolean; reason?: string }): boolean {
  if (check.ok) return true;
  const reason = check.reason ?? 'required service unavailable';
  if (inCI) throw new Error(`${name} cannot run in CI: ${reason}`);
  if (!announced.has(name)) {
    announced.add(name);
    process.stderr.write(`skipping ${name}: ${reason}\n`);
  }
  return false;
}
