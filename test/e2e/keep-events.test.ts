/** Every pass applies the run log's retention (--keep-events, 30 days by default) after its commit. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { recordRun } from '../../src/store/runlog.js';
import { BACKENDS } from '../support/backends.js';
import { runCli } from '../support/cli.js';
import { startPortal, type Portal } from '../support/portal.js';
import { BASE_TWINS, fleet, MODELS } from './fleet.js';

const DAY = 86_400_000;

describe.each(BACKENDS)('--keep-events on %s', (backend) => {
  let portal: Portal;
  beforeEach(async () => {
    portal = await startPortal(backend, fleet(BASE_TWINS), { devices: MODELS });
    const at = (days: number) => new Date(Date.now() - days * DAY);
    for (const days of [45, 10]) {
      await recordRun(portal.db.knex(), { command: 'devices', status: 'ok', dryRun: false, startedAt: at(days), finishedAt: at(days), exitCode: 0, summary: {}, error: null }, [
        { level: 'info', type: 'skip', ref: `old-${days}`, message: `skipped ${days} days ago` },
      ]);
    }
  });
  afterEach(() => portal.close());
  const sync = (...args: string[]) => runCli(['devices', '--db', portal.db.url, '--lock-dir', portal.lockDir, ...args], portal.hub.env());
  const refs = async () => (await portal.db.knex()('sync_events').whereLike('ref', 'old-%').orderBy('ref').pluck('ref')) as string[];

  it('by default a pass drops events older than 30 days and keeps the rest', async () => {
    expect((await sync()).code).toBe(0);
    expect(await refs()).toEqual(['old-10']);
    expect(await portal.db.knex()('sync_events').where('type', 'create').count({ n: '*' }).first()).toMatchObject({ n: 3 });
  });

  it('--keep-events 7d keeps a week; forever keeps everything; a dry run prunes nothing', async () => {
    expect((await sync('--dry-run', '--keep-events', '7d')).code).toBe(0);
    expect(await refs()).toEqual(['old-10', 'old-45']);
    expect((await sync('--keep-events', 'forever')).code).toBe(0);
    expect(await refs()).toEqual(['old-10', 'old-45']);
    expect((await sync('--keep-events', '7d')).code).toBe(0);
    expect(await refs()).toEqual([]);
    expect((await sync('--keep-events', '5')).code).toBe(64);
  });
});
