/**
 * A pass survives what the database refuses, and its run log tells what the statements did, on
 * SQLite and PostgreSQL: a delete the portal's own foreign key forbids fails that one record only;
 * ten passes racing over one database record each deletion once.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseJson, runCli } from '../support/cli.js';
import { BACKENDS } from '../support/backends.js';
import { startPortal, type Portal } from '../support/portal.js';
import { fleet, MODELS, standard } from './fleet.js';

describe.each(BACKENDS)('robustness on %s', (backend) => {
  let portal: Portal;
  const twins = (n: number) => Array.from({ length: n }, (_, i) => standard(`dev-${i}`));
  const sync = (...args: string[]) => runCli(['devices', '--db', portal.db.url, '--lock-dir', portal.lockDir, '--json', ...args], portal.hub.env());

  beforeEach(async () => {
    portal = await startPortal(backend, fleet(twins(20)), { devices: MODELS });
  });
  afterEach(() => portal.close());

  it('a row the database refuses fails alone: the rest is applied, deletes included, and the pass ends partial (3)', async () => {
    expect((await sync()).code).toBe(0);
    const k = portal.db.knex();
    // A table of the portal's own that references devices without ON DELETE CASCADE.
    await k.schema.createTable('alarms', (t) => {
      t.string('device_id', 255).notNullable().references('id').inTable('devices');
    });
    await k('alarms').insert({ device_id: 'dev-3' });
    const next = twins(20).filter((t) => t.deviceId !== 'dev-3' && t.deviceId !== 'dev-4');
    next[5] = standard('dev-7', 2, { tags: { deviceName: 'Renamed', modelId: 'm-thermo' } });
    portal.hub.write(fleet([...next, standard('dev-new')], []));

    const result = await sync();
    const doc = parseJson(result);
    expect(result.code).toBe(3);
    expect(doc.status).toBe('partial');
    expect(doc.failed).toEqual([{ ref: 'dev-3', error: expect.stringMatching(/^the database refused the row: .*foreign key/i) }]);
    expect(doc.applied).toMatchObject({ create: 1, update: 1, delete: 1 });
    expect(await k('devices').where('id', 'dev-3').first()).toBeDefined();
    expect(await k('devices').where('id', 'dev-4').first()).toBeUndefined();
    expect(await k('devices').where('id', 'dev-new').first()).toBeDefined();
    expect(await k('devices').where('id', 'dev-7').first()).toMatchObject({ name: 'Renamed' });
    const events = await k('sync_events').where('run_id', doc.runId).orderBy('id').select('type', 'ref');
    expect(events).toEqual(
      expect.arrayContaining([
        { type: 'fail', ref: 'dev-3' },
        { type: 'delete', ref: 'dev-4' },
        { type: 'create', ref: 'dev-new' },
        { type: 'update', ref: 'dev-7' },
      ]),
    );
  });

  it('ten passes racing over one database record each deletion once, and each conflict once', async () => {
    portal.hub.write(fleet(twins(400), []));
    expect((await sync()).code).toBe(0);
    portal.hub.write(fleet(twins(250), []));
    const runs = await Promise.all(
      Array.from({ length: 10 }, () =>
        runCli(['devices', '--db', portal.db.url, '--lock-dir', mkdtempSync(join(tmpdir(), 'portal-sync-race-')), '--json'], portal.hub.env()),
      ),
    );
    // Separate lock folders, so the file locks do not exclude each other; on PostgreSQL every pass
    // also holds the database's advisory lock, so there some runs are refused (75) instead of racing.
    for (const run of runs) expect(run.code === 0 || (backend === 'postgres' && run.code === 75), run.stderr).toBe(true);
    const k = portal.db.knex();
    expect(await k('devices').count({ n: '*' }).first()).toMatchObject({ n: 250 });
    const deletes = await k('sync_events').where('type', 'delete').pluck('ref');
    expect(deletes).toHaveLength(150);
    expect(new Set(deletes).size).toBe(150);
    const docs = runs.filter((r) => r.code === 0).map(parseJson);
    expect(docs.length).toBeGreaterThan(0);
    expect(docs.reduce((sum, d) => sum + d.applied.delete, 0)).toBe(150);
    const summaries = (await k('sync_runs').pluck('summary')).map((s) => JSON.parse(String(s)));
    expect(summaries.reduce((sum, s) => sum + s.delete, 0)).toBe(150);
    // Every planned delete is either done or a conflict, and no record is counted twice in one run.
    for (const d of docs) {
      expect(new Set(d.applied.conflicts).size).toBe(d.applied.conflicts.length);
      expect(d.applied.delete + d.applied.conflicts.length).toBe(d.summary.delete);
    }
    const conflicts = await k('sync_events').where('type', 'conflict').count({ n: '*' }).first();
    expect(Number(conflicts!.n)).toBe(docs.reduce((sum, d) => sum + d.applied.conflicts.length, 0));
  });
});
