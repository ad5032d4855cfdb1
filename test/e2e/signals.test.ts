/**
 * SIGTERM (Kubernetes eviction) and SIGINT end a run cleanly, on SQLite and PostgreSQL: before the
 * commit nothing is applied, the lock is released, the run is recorded as interrupted and the exit
 * is 143/130; once committed, the run finishes printing and exits with the pass's own code.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collect, spawnCli, waitFor } from '../support/cli.js';
import { BACKENDS } from '../support/backends.js';
import { startPortal, type Portal } from '../support/portal.js';
import { fleet, MODELS, standard } from './fleet.js';

describe.each(BACKENDS)('signals on %s', (backend) => {
  let portal: Portal;
  const twins = (n: number) => Array.from({ length: n }, (_, i) => standard(`dev-${i}`));
  const start = (...args: string[]) =>
    spawnCli(['devices', '--db', portal.db.url, '--lock-dir', portal.lockDir, '--json', ...args], portal.hub.env());

  beforeEach(async () => {
    portal = await startPortal(backend, fleet(twins(50)), { devices: MODELS });
  });
  afterEach(() => portal.close());

  for (const [signal, code] of [['SIGTERM', 143], ['SIGINT', 130]] as const) {
    it(`${signal} while a page hangs: nothing applied, run recorded as interrupted, lock free, exit ${code}`, async () => {
      // Page 3 answers only after a minute: the pass is mid-listing when the signal comes.
      portal.hub.write(fleet(twins(50), [{ operation: 'query:devices', page: 3, delayMs: 60_000, times: 1 }]));
      const child = start('--page-size', '10');
      const done = collect(child);
      await waitFor(() => (portal.hub.emulator.stats().operations['query:devices'] ?? 0) >= 3, 'page 3 to be asked for');
      const sentAt = Date.now();
      child.kill(signal);
      const result = await done;
      expect(result.code).toBe(code);
      // It does not wait for the hanging page (a minute) nor its request timeout (30 s).
      expect(Date.now() - sentAt).toBeLessThan(10_000);
      expect(JSON.parse(result.stdout)).toMatchObject({ status: 'interrupted', exitCode: code });
      const k = portal.db.knex();
      expect(await k('devices').count({ n: '*' }).first()).toMatchObject({ n: 0 });
      expect(await k('sync_runs').orderBy('id', 'desc').first()).toMatchObject({ status: 'interrupted', exit_code: code });
      // The lock was released: the next run proceeds at once and applies everything.
      const next = await collect(start());
      expect(next.code).toBe(0);
      expect(await k('devices').count({ n: '*' }).first()).toMatchObject({ n: 50 });
    });
  }

  it('SIGTERM after the commit: the run finishes printing and exits with the pass code', async () => {
    portal.hub.write(fleet(twins(3000), []));
    const child = start('--page-size', '1000');
    let signalled = false;
    // The result is printed only after the commit: the first byte on stdout means it has committed.
    child.stdout!.once('data', () => {
      signalled = child.kill('SIGTERM');
    });
    const result = await collect(child);
    expect(signalled).toBe(true);
    expect(result.code).toBe(0);
    const doc = JSON.parse(result.stdout);
    expect(doc.status).toBe('ok');
    expect(doc.applied.create).toBe(3000);
    expect(await portal.db.knex()('devices').count({ n: '*' }).first()).toMatchObject({ n: 3000 });
  });
});
