import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { upsertDeviceModels } from '../../src/store/models.js';
import { BACKENDS, createTestDatabase, type TestDatabase } from '../support/backends.js';
import { parseJson, runCli, type CliResult } from '../support/cli.js';
import type { TestHub } from '../support/hub.js';
import { startPortal, type Portal } from '../support/portal.js';
import { BASE_TWINS, fleet, HUB_KEY, lora, MODELS, SECRET_APP_KEY, SECRET_APP_S_KEY, standard, type Twin } from './fleet.js';

describe.each(BACKENDS)('devices end to end on %s', (backend) => {
  let portal: Portal;
  let db: TestDatabase;
  let hub: TestHub;
  let lockDir: string;

  beforeEach(async () => {
    portal = await startPortal(backend, fleet(BASE_TWINS), { devices: MODELS });
    ({ db, hub, lockDir } = portal);
  });

  afterEach(() => portal.close());

  const sync = (...args: string[]): Promise<CliResult> =>
    runCli(['devices', '--db', db.url, '--lock-dir', lockDir, '--page-size', '2', ...args], hub.env());
  const syncJson = async (...args: string[]) => {
    const result = await sync('--json', ...args);
    return { result, doc: parseJson(result) };
  };
  const deviceIds = async () => (await db.knex()('devices').orderBy('id').pluck('id')) as string[];
  const device = (id: string) => db.knex()('devices').where('id', id).first();
  const setTwins = (twins: Twin[], faults: Parameters<typeof fleet>[1] = []) => hub.write(fleet(twins, faults));

  it('creates devices, LoRaWAN rows and tag values, and skips each bad twin with its reason', async () => {
    const { result, doc } = await syncJson();
    expect(result.code).toBe(0);
    expect(doc.status).toBe('ok');
    expect(doc.summary).toEqual({ create: 3, update: 0, delete: 0, unchanged: 0, skipped: 4, failed: 0 });
    expect(await deviceIds()).toEqual(['lora-1', 'std-1', 'std-2']);
    expect(doc.skipped).toEqual([
      { ref: 'skip-malformed', reason: 'malformed twin: desired.RXDelay is not an integer' },
      { ref: 'skip-no-model', reason: 'no modelId tag' },
      { ref: 'skip-no-name', reason: 'no deviceName tag' },
      { ref: 'skip-unknown-model', reason: 'unknown model "m-gone"' },
    ]);
    const std = await device('std-1');
    expect(std).toMatchObject({ name: 'Device std-1', device_model_id: 'm-thermo', layer_id: 'layer-1' });
    expect(Number(std.version)).toBe(3);
    const tags = await db.knex()('device_tag_values').where('device_id', 'std-1').orderBy('name').select('name', 'value');
    expect(tags).toEqual([
      { name: 'floor', value: '2' },
      { name: 'site', value: 'Lyon' },
    ]);
    const loraRow = await db.knex()('lorawan_devices').where('id', 'lora-1').first();
    expect(loraRow).toMatchObject({ app_eui: '70B3D57ED0000001', app_key: SECRET_APP_KEY, dev_addr: null, gateway_id: 'gw-1', rx2_data_rate: 3 });
    expect(Boolean(loraRow.use_otaa)).toBe(true);
    expect(await db.knex()('lorawan_devices').count({ n: '*' })).toEqual([{ n: 1 }]);
    // 7 device twins at 2 per page: 4 pages, one request each, no COUNT query.
    expect(doc.apiCalls).toEqual({ total: 4, operations: { 'query:devices': 4 } });
    expect(hub.emulator.stats().operations).toEqual({ 'query:devices': 4 });

    const events = await db.knex()('sync_events').where({ run_id: doc.runId, type: 'skip' }).orderBy('ref').pluck('ref');
    expect(events).toEqual(['skip-malformed', 'skip-no-model', 'skip-no-name', 'skip-unknown-model']);

    const second = await sync();
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('No changes.');
  });

  it('updates on a version bump, showing old -> new, and replaces the tag set', async () => {
    await sync();
    setTwins([standard('std-1', 4, { tags: { deviceName: 'Renamed', modelId: 'm-thermo', site: 'Paris' } }), ...BASE_TWINS.slice(1)]);
    const { result, doc } = await syncJson();
    expect(result.code).toBe(0);
    expect(doc.summary.update).toBe(1);
    const change = doc.changes.find((c: any) => c.ref === 'std-1');
    expect(change).toMatchObject({ action: 'update', cause: 'version', version: 4 });
    expect(change.fields).toEqual(
      expect.arrayContaining([
        { field: 'version', old: 3, new: 4 },
        { field: 'name', old: 'Device std-1', new: 'Renamed' },
        { field: 'layer_id', old: 'layer-1', new: null },
      ]),
    );
    expect(await db.knex()('device_tag_values').where('device_id', 'std-1').pluck('name')).toEqual(['site']);
    expect((await device('std-1')).name).toBe('Renamed');

    const table = await sync('--dry-run');
    expect(table.stdout).toContain('No changes.');
  });

  it('updates a connection change that did not raise the twin version', async () => {
    await sync();
    setTwins([standard('std-1', 3, { connectionState: 'Connected', lastActivityTime: '2026-11-23T09:00:00Z' }), ...BASE_TWINS.slice(1)]);
    const { doc } = await syncJson();
    expect(doc.summary.update).toBe(1);
    const change = doc.changes.find((c: any) => c.ref === 'std-1');
    expect(change.cause).toBe('live');
    expect(change.fields).toEqual(
      expect.arrayContaining([
        { field: 'is_connected', old: false, new: true },
        { field: 'last_activity_at', old: '2026-11-20T10:00:00.000Z', new: '2026-11-23T09:00:00.000Z' },
      ]),
    );
    expect(Boolean((await device('std-1')).is_connected)).toBe(true);
  });

  it('never lets an older twin overwrite a newer stored row', async () => {
    await sync();
    await db.knex()('devices').where('id', 'std-1').update({ version: 10, name: 'Newer in portal' });
    setTwins([standard('std-1', 4, { connectionState: 'Connected' }), ...BASE_TWINS.slice(1)]);
    const { doc } = await syncJson();
    expect(doc.stale).toEqual([{ ref: 'std-1', remoteVersion: 4, storedVersion: 10 }]);
    expect((await device('std-1')).name).toBe('Newer in portal');
  });

  it('deletes a device gone from a complete listing, with its tags and LoRaWAN row', async () => {
    await sync();
    setTwins(BASE_TWINS.filter((t) => t.deviceId !== 'lora-1' && t.deviceId !== 'std-1'));
    const { result, doc } = await syncJson();
    expect(result.code).toBe(0);
    expect(doc.changes.filter((c: any) => c.action === 'delete').map((c: any) => c.ref)).toEqual(['lora-1', 'std-1']);
    expect(await deviceIds()).toEqual(['std-2']);
    expect(await db.knex()('lorawan_devices').count({ n: '*' })).toEqual([{ n: 0 }]);
    expect(await db.knex()('device_tag_values').whereIn('device_id', ['std-1', 'lora-1']).count({ n: '*' })).toEqual([{ n: 0 }]);
    const deletes = await db.knex()('sync_events').where({ run_id: doc.runId, type: 'delete' }).orderBy('ref').pluck('ref');
    expect(deletes).toEqual(['lora-1', 'std-1']);
  });

  it('never deletes a device that still exists but is now skipped', async () => {
    await sync();
    setTwins([{ deviceId: 'std-1', version: 4, tags: { deviceName: 'No model now' } }, ...BASE_TWINS.slice(1)]);
    const { doc } = await syncJson();
    expect(doc.summary.delete).toBe(0);
    expect(await deviceIds()).toContain('std-1');
  });

  it('moves a device cleanly between a LoRa and a standard model, keeping imported LoRa keys', async () => {
    await sync();
    // A key imported by other means (not in the twin) must survive an update of the twin.
    await db.knex()('lorawan_devices').where('id', 'lora-1').update({ app_s_key: SECRET_APP_S_KEY });
    setTwins([lora('lora-1', 6, { connectionState: 'Disconnected' }), ...BASE_TWINS.filter((t) => t.deviceId !== 'lora-1')]);
    await sync();
    expect((await db.knex()('lorawan_devices').where('id', 'lora-1').first()).app_s_key).toBe(SECRET_APP_S_KEY);

    setTwins([standard('lora-1', 7), ...BASE_TWINS.filter((t) => t.deviceId !== 'lora-1')]);
    const toStandard = await syncJson();
    expect(toStandard.doc.changes.find((c: any) => c.ref === 'lora-1').fields).toEqual(
      expect.arrayContaining([{ field: 'kind', old: 'lora', new: 'standard' }]),
    );
    expect(await db.knex()('lorawan_devices').where('id', 'lora-1').first()).toBeUndefined();
    expect((await device('lora-1')).device_model_id).toBe('m-thermo');

    setTwins(BASE_TWINS);
    setTwins([lora('lora-1', 8), ...BASE_TWINS.filter((t) => t.deviceId !== 'lora-1')]);
    await sync();
    expect((await db.knex()('lorawan_devices').where('id', 'lora-1').first()).app_key).toBe(SECRET_APP_KEY);
    expect((await device('lora-1')).device_model_id).toBe('m-lora');
  });

  it('refuses a mass delete unless --allow-mass-delete', async () => {
    const many = Array.from({ length: 12 }, (_, i) => standard(`bulk-${String(i).padStart(2, '0')}`));
    setTwins(many);
    expect((await sync()).code).toBe(0);
    setTwins([]);
    const { result, doc } = await syncJson();
    expect(result.code, JSON.stringify({ ...doc, changes: undefined })).toBe(1);
    expect(doc.status).toBe('refused');
    expect(doc.guard).toEqual({ refused: true, wouldDelete: 12, tableRows: 12, maxShare: 0.5 });
    expect(await deviceIds()).toHaveLength(12);
    const refused = await db.knex()('sync_runs').where('id', doc.runId).first();
    expect(refused.status).toBe('refused');
    expect(await db.knex()('sync_events').where({ run_id: doc.runId, type: 'guard' }).count({ n: '*' })).toEqual([{ n: 1 }]);

    const table = await sync();
    expect(table.stdout).toContain('--allow-mass-delete');

    const allowed = await sync('--allow-mass-delete');
    expect(allowed.code).toBe(0);
    expect(await deviceIds()).toEqual([]);
  });

  it('applies what it read but deletes nothing when a page fails (exit 3)', async () => {
    await sync();
    // std-2 is gone remotely, but page 2 fails: its absence proves nothing.
    setTwins(
      [standard('std-1', 3), lora('lora-1', 5), standard('new-1'), ...BASE_TWINS.slice(3)].map((t) => t),
      [{ operation: 'query:devices', page: 2, status: 500 }],
    );
    const { result, doc } = await syncJson('--max-retries', '1');
    expect(result.code).toBe(3);
    expect(doc.status).toBe('partial');
    expect(doc.summary.delete).toBe(0);
    expect(doc.deletesWithheld).toMatch(/page 1/);
    expect(doc.failed[0].error).toMatch(/HTTP 500/);
    expect(await deviceIds()).toContain('std-2');
    const withheld = await db.knex()('sync_events').where({ run_id: doc.runId, type: 'deletes-withheld' }).count({ n: '*' });
    expect(withheld).toEqual([{ n: 1 }]);
  });

  it('waits out a 429 with Retry-After and succeeds', async () => {
    setTwins(BASE_TWINS, [{ operation: 'query:devices', status: 429, retryAfterMs: 50, times: 2 }]);
    const { result, doc } = await syncJson();
    expect(result.code).toBe(0);
    expect(doc.summary.create).toBe(3);
    // 4 pages plus the 2 throttled attempts.
    expect(doc.apiCalls.total).toBe(6);
    expect(result.stderr).toMatch(/throttled \(HTTP 429\); retry 1/);

    // The same warnings as JSON lines with --log-format json; stdout stays one document.
    setTwins(BASE_TWINS, [{ operation: 'query:devices', status: 429, retryAfterMs: 10, times: 1 }]);
    const logged = await sync('--json', '--log-format', 'json');
    const lines = logged.stderr.trim().split('\n').map((line) => JSON.parse(line));
    expect(lines[0]).toMatchObject({ level: 'warn', command: 'devices', msg: expect.stringMatching(/throttled/) });
    expect(parseJson(logged).status).toBe('ok');
  });

  it('fails with exit 1 and applies nothing when every attempt at page 1 fails', async () => {
    setTwins(BASE_TWINS, [{ operation: 'query:devices', status: 500 }]);
    const { result, doc } = await syncJson('--max-retries', '2');
    expect(result.code).toBe(1);
    expect(doc.status).toBe('failed');
    expect(doc.error).toMatch(/page 1 of query:devices gave up after 3 attempts: failed with HTTP 500$/);
    expect(doc.apiCalls.total).toBe(3);
    expect(await deviceIds()).toEqual([]);
  });

  it('--dry-run changes nothing at all, not even the run log', async () => {
    await sync();
    setTwins([standard('std-1', 9, { connectionState: 'Connected' }), standard('brand-new')]);
    const before = {
      devices: await db.knex()('devices').orderBy('id').select('*'),
      runs: await db.knex()('sync_runs').count({ n: '*' }),
      events: await db.knex()('sync_events').count({ n: '*' }),
      tags: await db.knex()('device_tag_values').count({ n: '*' }),
    };
    const { result, doc } = await syncJson('--dry-run', '--detailed-exitcode');
    expect(result.code).toBe(2);
    expect(doc.dryRun).toBe(true);
    expect(doc.runId).toBeNull();
    expect(doc.summary).toMatchObject({ create: 1, update: 1, delete: 2 });
    const after = {
      devices: await db.knex()('devices').orderBy('id').select('*'),
      runs: await db.knex()('sync_runs').count({ n: '*' }),
      events: await db.knex()('sync_events').count({ n: '*' }),
      tags: await db.knex()('device_tag_values').count({ n: '*' }),
    };
    expect(after).toEqual(before);
  });

  it.runIf(backend === 'sqlite')('--dry-run on an existing empty (0-byte) file writes not one byte to it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portal-sync-empty-'));
    try {
      const file = join(dir, 'empty.db');
      writeFileSync(file, '');
      const before = statSync(file);
      const result = await runCli(['devices', '--db', `sqlite:${file}`, '--lock-dir', lockDir, '--dry-run'], hub.env());
      expect(result.code).toBe(78);
      expect(result.stderr).toMatch(/has migrations to apply/);
      const after = statSync(file);
      expect(after.size).toBe(0);
      expect(after.mtimeMs).toBe(before.mtimeMs);
      expect(readdirSync(dir)).toEqual(['empty.db']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--dry-run on a database without the schema changes nothing and says how to prepare it (78)', async () => {
    const fresh = await createTestDatabase(backend);
    try {
      if (backend === 'sqlite') rmSync(fresh.url.slice('sqlite:'.length), { force: true });
      // A password in the URL (PostgreSQL here trusts any): the hint must mask it and stay runnable.
      const url = backend === 'postgres' ? fresh.url.replace('postgres@', 'postgres:s3cret-pw@') : fresh.url;
      const result = await runCli(['devices', '--db', url, '--lock-dir', lockDir, '--dry-run'], hub.env());
      expect(result.code).toBe(78);
      expect(result.stderr).toMatch(/dry run (creates|changes) nothing: run `portal-sync migrate --db /);
      expect(result.stderr).not.toContain('s3cret-pw');
      if (backend === 'sqlite') expect(existsSync(fresh.url.slice('sqlite:'.length))).toBe(false);
      else expect(await fresh.knex().schema.hasTable('portal_sync_migrations')).toBe(false);
      // The hint is complete: copied as it is, it prepares this database, and the dry run then works.
      const hint = /`portal-sync (migrate --db \S+)`/.exec(result.stderr)![1]!;
      if (backend === 'postgres') expect(hint).toContain('postgres:***@');
      expect((await runCli(hint.split(' '), {})).code).toBe(0);
      expect((await runCli(['devices', '--db', url, '--lock-dir', lockDir, '--dry-run'], hub.env())).code).toBe(0);
    } finally {
      await fresh.drop();
    }
  });

  it('--detailed-exitcode: 2 when a pass applied changes, 0 when none', async () => {
    expect((await sync('--detailed-exitcode')).code).toBe(2);
    expect((await sync('--detailed-exitcode')).code).toBe(0);
  });

  it('leaves the database exactly as before when applying fails midway', async () => {
    await sync();
    const k = db.knex();
    // A trigger that rejects one row, after earlier statements of the same pass have run.
    if (backend === 'sqlite') {
      await k.raw(`CREATE TRIGGER poison BEFORE INSERT ON device_tag_values WHEN NEW.device_id = 'poison' BEGIN SELECT RAISE(ABORT, 'poisoned row'); END`);
    } else {
      await k.raw(`CREATE FUNCTION poison() RETURNS trigger AS $$ BEGIN IF NEW.device_id = 'poison' THEN RAISE EXCEPTION 'poisoned row'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql`);
      await k.raw(`CREATE TRIGGER poison BEFORE INSERT ON device_tag_values FOR EACH ROW EXECUTE FUNCTION poison()`);
    }
    const snapshot = async () => ({
      devices: await k('devices').orderBy('id').select('*'),
      lora: await k('lorawan_devices').orderBy('id').select('*'),
      tags: await k('device_tag_values').orderBy(['device_id', 'name']).select('*'),
    });
    const before = await snapshot();
    setTwins([standard('a-new'), standard('poison'), standard('std-1', 4, { tags: { deviceName: 'Changed', modelId: 'm-thermo' } }), ...BASE_TWINS.slice(2)]);
    const { result, doc } = await syncJson();
    expect(result.code).toBe(1);
    expect(doc.status).toBe('failed');
    expect(doc.error).toMatch(/poisoned row/);
    expect(await snapshot()).toEqual(before);
    const failedRun = await k('sync_runs').orderBy('id', 'desc').first();
    expect(failedRun.status).toBe('failed');
  });

  it('prints a diff table with a summary line and cuts long lists', async () => {
    setTwins(Array.from({ length: 8 }, (_, i) => standard(`t-${i}`)));
    const first = await sync('--max-rows', '3');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/\+ +│ t-0/);
    expect(first.stdout).toContain('... and 5 more');
    expect(first.stdout).toContain('Plan: 8 to create, 0 to update, 0 to delete, 0 unchanged, 0 skipped.');
    // Not a TTY: no colour codes.
    expect(first.stdout).not.toMatch(/\x1b\[/);
    setTwins([standard('t-0', 2, { connectionState: 'Connected' }), ...Array.from({ length: 7 }, (_, i) => standard(`t-${i + 1}`))]);
    const second = await sync();
    expect(second.stdout).toMatch(/~ +│ t-0 +│ version: 1 -> 2/);
    expect(second.stdout).toContain('is_connected: false -> true');
  });

  it('records runs that history lists and filters', async () => {
    const first = (await syncJson()).doc;
    setTwins(BASE_TWINS.filter((t) => t.deviceId !== 'std-2'));
    await sync();
    const runs = parseJson(await runCli(['history', '--db', db.url, '--json', '--command', 'devices'], {}));
    expect(runs.runs.map((r: any) => r.status)).toEqual(['ok', 'ok']);
    const events = parseJson(await runCli(['history', '--db', db.url, '--json', '--run', String(first.runId)], {}));
    expect(events.run.id).toBe(first.runId);
    // Every applied change is an event too: the 3 creates of the first pass, with the 4 skips.
    expect(events.events.map((e: any) => e.type).sort()).toEqual(['create', 'create', 'create', 'skip', 'skip', 'skip', 'skip']);
    const byRef = parseJson(await runCli(['history', '--db', db.url, '--json', '--ref', 'std-2', '--type', 'delete'], {}));
    expect(byRef.events).toHaveLength(1);
    expect(byRef.events[0].message).toMatch(/deleted device/);
    const future = parseJson(await runCli(['history', '--db', db.url, '--json', '--since', '2999-01-01'], {}));
    expect(future.runs).toEqual([]);
    const past = parseJson(await runCli(['history', '--db', db.url, '--json', '--until', '2999-01-01', '--limit', '1'], {}));
    expect(past.runs).toHaveLength(1);
    const table = await runCli(['history', '--db', db.url, '--ref', 'skip-no-model'], {});
    expect(table.stdout).toContain('no modelId tag');
  });

  it("history --ref tells a device's whole story: created, each change with its fields, deleted", async () => {
    await sync();
    setTwins([standard('std-1', 4, { tags: { deviceName: 'Boiler', modelId: 'm-thermo' } }), ...BASE_TWINS.slice(1)]);
    await sync();
    setTwins(BASE_TWINS.filter((t) => t.deviceId !== 'std-1'));
    await sync();
    const story = parseJson(await runCli(['history', '--db', db.url, '--json', '--ref', 'std-1'], {}));
    // Newest first, like every list of history.
    expect(story.events.map((e: any) => e.type)).toEqual(['delete', 'update', 'create']);
    expect(story.events[2].message).toBe('created device (version 3)');
    expect(story.events[1].message).toMatch(/^updated device: version: 3 -> 4; name: "Device std-1" -> "Boiler"; layer_id: "layer-1" -> null; tags: - floor; tags: - site$/);
    expect(story.events[0].message).toBe('deleted device (stored version 4)');
    // A LoRa key change is in the story, its value is not.
    setTwins([lora('lora-1', 6, { properties: { desired: { AppKey: SECRET_APP_S_KEY }, reported: {} } })]);
    await sync('--allow-mass-delete');
    const lora1 = parseJson(await runCli(['history', '--db', db.url, '--json', '--ref', 'lora-1', '--type', 'update'], {}));
    expect(lora1.events[0].message).toContain('app_key: (secret changed)');
    expect(JSON.stringify(lora1)).not.toContain(SECRET_APP_S_KEY);
  });

  it('never prints a secret: keys, connection string, LoRa session keys', async () => {
    setTwins([lora('lora-1', 1, { properties: { desired: { AppKey: SECRET_APP_KEY, AppSKey: SECRET_APP_S_KEY }, reported: {} } })]);
    const outputs: CliResult[] = [];
    outputs.push(await sync('--log-format', 'json'));
    setTwins([lora('lora-1', 2, { properties: { desired: { AppKey: SECRET_APP_S_KEY, AppSKey: SECRET_APP_KEY }, reported: {} } })]);
    outputs.push(await sync('--dry-run'));
    outputs.push(await sync('--json', '--dry-run'));
    outputs.push(await sync());
    outputs.push(await runCli(['history', '--db', db.url, '--json'], {}));
    const wrongKey = hub.env().IOTHUB_CONNECTION_STRING!.replace(HUB_KEY, 'd3Jvbmcta2V5LXRoYXQtbXVzdC1uZXZlci1sZWFrLXRvbw==');
    outputs.push(await runCli(['devices', '--db', db.url, '--lock-dir', lockDir], { ...hub.env(), IOTHUB_CONNECTION_STRING: wrongKey }));
    const text = outputs.map((o) => o.stdout + o.stderr).join('\n');
    expect(text).toContain('(secret changed)');
    for (const secret of [SECRET_APP_KEY, SECRET_APP_S_KEY, HUB_KEY, 'd3Jvbmcta2V5LXRoYXQtbXVzdC1uZXZlci1sZWFrLXRvbw==', 'SharedAccessKey=']) {
      expect(text).not.toContain(secret);
    }
  });

  it('a wrong key is a configuration error (78) that names the hub; an unreachable hub is 69', async () => {
    const wrong = hub.env().IOTHUB_CONNECTION_STRING!.replace(HUB_KEY, 'b3RoZXIta2V5');
    const denied = await runCli(['devices', '--db', db.url, '--lock-dir', lockDir], { ...hub.env(), IOTHUB_CONNECTION_STRING: wrong });
    expect(denied.code).toBe(78);
    expect(denied.stderr).toContain('test-hub.azure-devices.net');
    expect(denied.stderr).not.toContain('b3RoZXIta2V5');

    const closed = await runCli(['devices', '--db', db.url, '--lock-dir', lockDir, '--json', '--max-retries', '1'], {
      ...hub.env(),
      IOTHUB_ENDPOINT: 'http://127.0.0.1:9',
    });
    expect(closed.code).toBe(69);
    expect(parseJson(closed).error).toMatch(/unreachable/);
  });

  it('a missing or malformed connection string is a configuration error (78)', async () => {
    const missing = await runCli(['devices', '--db', db.url], {});
    expect(missing.code).toBe(78);
    expect(missing.stderr).toContain('IOTHUB_CONNECTION_STRING is not set');
    const asJson = await runCli(['devices', '--db', db.url, '--json'], {});
    expect(asJson.code).toBe(78);
    expect(parseJson(asJson)).toMatchObject({ command: 'devices', status: 'failed', exitCode: 78, error: expect.stringContaining('IOTHUB_CONNECTION_STRING') });
    const malformed = await runCli(['devices', '--db', db.url], { IOTHUB_CONNECTION_STRING: 'HostName=x;SharedAccessKey=c2VjcmV0' });
    expect(malformed.code).toBe(78);
    expect(malformed.stderr).toContain('SharedAccessKeyName');
    expect(malformed.stderr).not.toContain('c2VjcmV0');
  });

  it('emulate --seed-models writes the fixture\'s models into the portal database', async () => {
    await db.knex()('device_models').del();
    const { spawnCli, collect, waitFor } = await import('../support/cli.js');
    const child = spawnCli(['emulate', '--fixture', hub.fixturePath, '--seed-models', db.url], {});
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const done = collect(child);
    await waitFor(() => out.includes('IOTHUB_ENDPOINT'), 'the emulator to print its environment');
    const env = Object.fromEntries([...out.matchAll(/^export (\w+)='([^']*)'$/gm)].map((m) => [m[1]!, m[2]!]));
    expect(Object.keys(env).filter((k) => k.startsWith('IOTHUB_')).sort()).toEqual(['IOTHUB_CONNECTION_STRING', 'IOTHUB_ENDPOINT']);
    expect(await db.knex()('device_models').orderBy('id').pluck('id')).toEqual(['m-lora', 'm-thermo']);
    const pass = await runCli(['devices', '--db', db.url, '--lock-dir', lockDir, '--json'], env);
    expect(parseJson(pass).summary.create).toBe(3);
    child.kill('SIGTERM');
    expect((await done).code).toBe(0);
  });

  it('examples/fleet.json is a valid fixture the demo can sync', async () => {
    const example = JSON.parse(readFileSync(new URL('../../examples/fleet.json', import.meta.url), 'utf8'));
    await upsertDeviceModels(db.knex(), example.deviceModels);
    // Keep this hub's key: the environment the CLI gets was printed for it.
    hub.write({ ...example, hub: fleet([]).hub });
    const { doc } = await syncJson();
    expect(doc.status).toBe('ok');
    expect(doc.summary.create).toBeGreaterThan(0);
    expect(existsSync(hub.fixturePath)).toBe(true);
  });
});
