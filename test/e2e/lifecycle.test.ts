import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { migrateLatest } from '../../src/store/migrate.js';
import { BACKENDS, createTestDatabase, type TestDatabase } from '../support/backends.js';
import { collect, parseJson, runCli, spawnCli, waitFor } from '../support/cli.js';
import type { TestHub } from '../support/hub.js';
import { startPortal, type Portal } from '../support/portal.js';
import { requireOrSkip, startPushgateway } from '../support/services.js';
import { BASE_TWINS, fleet, MODELS } from './fleet.js';

describe.each(BACKENDS)('locks on %s', (backend) => {
  let portal: Portal;
  let db: TestDatabase;
  let hub: TestHub;
  let lockDir: string;

  beforeEach(async () => {
    // The first request hangs long enough to hold the lock while the test looks at it.
    portal = await startPortal(backend, fleet(BASE_TWINS, [{ operation: 'query:devices', delayMs: 60_000, times: 1 }]), { devices: MODELS });
    ({ db, hub, lockDir } = portal);
  });

  afterEach(() => portal.close());

  const lockKinds = backend === 'postgres' ? (['file', 'postgres'] as const) : (['file'] as const);

  it.each(lockKinds)('%s lock: a second run exits 75 naming the command, and a killed run does not block the next', async (kind) => {
    const args = ['devices', '--db', db.url, '--lock', kind, '--lock-dir', lockDir];
    const first = spawnCli(args, hub.env());
    const firstDone = collect(first);
    // The first run holds the lock once it is waiting on the hub.
    await waitFor(() => hub.emulator.stats().total >= 1, 'the first run to reach the hub');

    const second = await runCli(args, hub.env());
    expect(second.code).toBe(75);
    expect(second.stdout).toBe('');
    const line = second.stderr.trim();
    expect(line.split('\n')).toHaveLength(1);
    expect(line).toMatch(/devices is already running \(lock held since \d{4}-\d\d-\d\dT/);
    expect(hub.emulator.stats().total).toBe(1);

    first.kill('SIGKILL');
    expect((await firstDone).signal).toBe('SIGKILL');
    if (kind === 'file') expect(lockOf(lockDir)).not.toBeNull();

    const third = await runCli([...args, '--json'], hub.env());
    expect(third.code).toBe(0);
    expect(parseJson(third).summary.create).toBe(3);
  });
});

/** The file lock of `devices` in `dir`, named after the command and a digest of the database. */
function lockOf(dir: string): string | null {
  return readdirSync(dir).find((name) => /^devices\.[0-9a-f]{12}\.lock$/.test(name)) ?? null;
}

describe.each(BACKENDS)('lock keys on %s', (backend) => {
  it('a run on another database is not refused; on PostgreSQL, --lock file and --lock postgres exclude each other', async () => {
    const slow = fleet(BASE_TWINS, [{ operation: 'query:devices', delayMs: 60_000, times: 1 }]);
    const portal = await startPortal(backend, slow, { devices: MODELS });
    const other = await createTestDatabase(backend);
    try {
      const { db, hub, lockDir } = portal;
      await migrateLatest(other.knex());
      const first = spawnCli(['devices', '--db', db.url, '--lock-dir', lockDir], hub.env());
      const done = collect(first);
      await waitFor(() => hub.emulator.stats().total >= 1, 'the first run to hold its lock');
      // Another database, same command, same lock folder: not refused (the hang was spent by the first run).
      const elsewhere = await runCli(['devices', '--db', other.url, '--lock-dir', lockDir, '--dry-run'], hub.env());
      expect(elsewhere.code, elsewhere.stderr).toBe(0);
      const same = await runCli(['devices', '--db', db.url, '--lock-dir', lockDir, '--dry-run'], hub.env());
      expect(same.code).toBe(75);
      if (backend === 'postgres') {
        // A pod using the advisory lock sees the file-locked pass on the same database.
        const advisory = await runCli(['devices', '--db', db.url, '--lock', 'postgres'], hub.env());
        expect(advisory.code).toBe(75);
      }
      first.kill('SIGTERM');
      await done;
    } finally {
      await other.drop();
      await portal.close();
    }
  });
});

describe('a lock lost during a pass', () => {
  it('aborts the pass before commit: nothing applied, exit 1', async () => {
    // The first page takes long enough for the lock's refresh timer (1 s at a 2 s stale time) to run.
    const portal = await startPortal('sqlite', fleet(BASE_TWINS, [{ operation: 'query:devices', delayMs: 4_000, times: 1 }]), { devices: MODELS });
    const { db, hub, lockDir } = portal;
    try {
      const child = spawnCli(['devices', '--db', db.url, '--lock-dir', lockDir, '--json'], { ...hub.env(), PORTAL_SYNC_LOCK_STALE_MS: '2000' });
      const done = collect(child);
      await waitFor(() => hub.emulator.stats().total >= 1, 'the run to reach the hub');
      // Someone removes the lock under the running pass (a cleanup job, an operator).
      rmSync(join(lockDir, lockOf(lockDir)!), { recursive: true, force: true });
      const result = await done;
      expect(result.code).toBe(1);
      expect(parseJson(result).error).toMatch(/lock lost during the pass, nothing applied/);
      expect(await db.knex()('devices').count({ n: '*' })).toEqual([{ n: 0 }]);
    } finally {
      await portal.close();
    }
  });
});

describe('metrics pushed to a real Pushgateway', () => {
  let gateway: { url: string; stop(): Promise<void> } | null = null;
  let portal: Portal;
  let db: TestDatabase;
  let hub: TestHub;
  let lockDir: string;

  beforeAll(async () => {
    const started = await startPushgateway();
    if ('skipped' in started) requireOrSkip('Pushgateway suite', { ok: false, reason: started.skipped });
    else gateway = started;
  });
  afterAll(async () => {
    await gateway?.stop();
  });
  beforeEach(async () => {
    portal = await startPortal('sqlite', fleet(BASE_TWINS), { devices: MODELS });
    ({ db, hub, lockDir } = portal);
  });
  afterEach(() => portal.close());

  const scrape = async (): Promise<Map<string, number>> => {
    const text = await (await fetch(`${gateway!.url}/metrics`)).text();
    const series = new Map<string, number>();
    for (const line of text.split('\n')) {
      if (!line.startsWith('portal_sync_')) continue;
      const at = line.lastIndexOf(' ');
      // Labels in a fixed order so assertions can name a series.
      const name = line.slice(0, at).replace(/\{(.*)\}/, (_, labels: string) => `{${labels.split(',').filter((l) => !l.startsWith('instance=')).sort().join(',')}}`);
      series.set(name, Number(line.slice(at + 1)));
    }
    return series;
  };

  it('pushes run metrics grouped by job and command; last success only moves on success', async (ctx) => {
    if (!gateway) return ctx.skip();
    const args = ['devices', '--db', db.url, '--lock-dir', lockDir, '--page-size', '2', '--pushgateway', gateway.url];
    const ok = await runCli(args, hub.env());
    expect(ok.code).toBe(0);
    const afterOk = await scrape();
    const g = 'command="devices",job="portal_sync"';
    expect(afterOk.get(`portal_sync_changes{action="create",${g}}`)).toBe(3);
    expect(afterOk.get(`portal_sync_records{${g},state="skipped"}`)).toBe(4);
    expect(afterOk.get(`portal_sync_api_calls{${g},operation="query:devices"}`)).toBe(4);
    expect(afterOk.get(`portal_sync_run_status{${g}}`)).toBe(0);
    const lastSuccess = afterOk.get(`portal_sync_last_success_timestamp_seconds{${g}}`)!;
    expect(lastSuccess).toBeGreaterThan(Date.now() / 1000 - 600);

    hub.write(fleet(BASE_TWINS, [{ operation: 'query:devices', status: 500 }]));
    const failed = await runCli([...args, '--max-retries', '0'], hub.env());
    expect(failed.code).toBe(1);
    const afterFail = await scrape();
    expect(afterFail.get(`portal_sync_run_status{${g}}`)).toBe(1);
    expect(afterFail.get(`portal_sync_last_success_timestamp_seconds{${g}}`)).toBe(lastSuccess);
    expect(afterFail.get(`portal_sync_last_run_timestamp_seconds{${g}}`)!).toBeGreaterThanOrEqual(lastSuccess);
  });

  it('a run that fails before its pass (no connection string) still pushes its status and records its run', async (ctx) => {
    if (!gateway) return ctx.skip();
    const g = 'command="devices",job="portal_sync"';
    const before = await scrape();
    const startedAt = Date.now() / 1000;
    const result = await runCli(['devices', '--db', db.url, '--lock-dir', lockDir, '--pushgateway', gateway.url], {});
    expect(result.code).toBe(78);
    const series = await scrape();
    expect(series.get(`portal_sync_run_status{${g}}`)).toBe(1);
    expect(series.get(`portal_sync_last_run_timestamp_seconds{${g}}`)!).toBeGreaterThanOrEqual(Math.floor(startedAt));
    expect(series.get(`portal_sync_last_success_timestamp_seconds{${g}}`)).toBe(before.get(`portal_sync_last_success_timestamp_seconds{${g}}`));
    const run = await db.knex()('sync_runs').orderBy('id', 'desc').first();
    expect(run).toMatchObject({ command: 'devices', status: 'failed', exit_code: 78 });
    expect(run.error).toMatch(/IOTHUB_CONNECTION_STRING is not set/);
  });

  it('a push that fails is a warning and does not change the exit code', async () => {
    const result = await runCli(['devices', '--db', db.url, '--lock-dir', lockDir, '--pushgateway', 'http://127.0.0.1:9'], hub.env());
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/warn: metrics not pushed/);
  });
});
