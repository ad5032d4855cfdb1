/**
 * `telemetry` end to end: the built CLI as its own process, the real @azure/event-hubs consumer over
 * AMQP to the emulated Event Hubs-compatible endpoint, on SQLite and PostgreSQL. What is checked is
 * the table itself: the key set stored equals the key set of the accepted events sent, exactly once,
 * whatever happened to the runs in between (a second run, a SIGKILL, a dropped connection, a
 * concurrent run).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EventHubEventInput } from '../../src/emulators/eventhub/index.js';
import { migrateLatest } from '../../src/store/migrate.js';
import { BACKENDS, createTestDatabase, type TestDatabase } from '../support/backends.js';
import { collect, parseJson, runCli, spawnCli, waitFor, type CliResult } from '../support/cli.js';
import { startTestEventHub, type TestEventHub } from '../support/eventhub.js';

const LORA = ['lora-1', 'lora-2', 'lora-3', 'lora-4'];
const uplink = (fcnt: number) => ({ time: new Date(1_764_928_800_000 + fcnt * 1000).toISOString(), freq: 868.1, chan: 2, rssi: -70 - (fcnt % 20), lsnr: 7.25, port: 1, fcnt, gatewayid: 'gw-1', data: { t: 20 + (fcnt % 5) } });

/** `n` accepted uplinks spread over the LoRaWAN devices, fcnt from `from`. */
const uplinks = (n: number, from = 0): EventHubEventInput[] => Array.from({ length: n }, (_, i) => ({ deviceId: LORA[(from + i) % LORA.length]!, body: uplink(from + i) }));

const ONE_OF_EACH_SKIP: EventHubEventInput[] = [
  { deviceId: 'lora-1', body: 'not json at all' },
  { deviceId: 'ghost', body: uplink(1) },
  { deviceId: 'plain-1', body: uplink(2) },
  { deviceId: 'lora-2', moduleId: 'LoRaWanNetworkSrvModule', authScope: 'module', body: uplink(3) },
  { deviceId: 'lora-3', messageSource: 'twinChangeEvents', body: uplink(4) },
];

describe.each(BACKENDS)('telemetry on %s', (backend) => {
  let db: TestDatabase;
  let hub: TestEventHub;
  let lockDir: string;

  beforeEach(async () => {
    db = await createTestDatabase(backend);
    const k = db.knex();
    await migrateLatest(k);
    await k('device_models').insert([{ id: 'm', name: 'model', support_lora_features: true }]);
    await k('devices').insert([...LORA, 'plain-1'].map((id) => ({ id, name: id, device_model_id: 'm', version: 1 })));
    await k('lorawan_devices').insert(LORA.map((id) => ({ id })));
    lockDir = mkdtempSync(join(tmpdir(), 'portal-sync-telemetry-locks-'));
  });

  afterEach(async () => {
    await hub?.close();
    await db.drop();
    rmSync(lockDir, { recursive: true, force: true });
  });

  const telemetry = (args: string[] = [], env: Record<string, string> = hub.env(), dir = lockDir): Promise<CliResult> =>
    runCli(['telemetry', '--db', db.url, '--lock-dir', dir, '--json', ...args], env);

  /** partition/sequence of every stored row, sorted. */
  const storedKeys = async () =>
    (await db.knex()('lorawan_telemetry').orderBy(['partition_id', 'sequence_number']).select('partition_id', 'sequence_number')).map(
      (r: { partition_id: string; sequence_number: number | string }) => `${r.partition_id}/${Number(r.sequence_number)}`,
    );
  /** The keys the hub gave the accepted events: read back from the emulator's log of what it holds. */
  const acceptedKeys = () => hub.keysOf((e) => LORA.includes(String(e.deviceId)) && !e.moduleId && (e.messageSource ?? 'Telemetry') === 'Telemetry' && typeof e.body === 'object');

  it('stores every accepted event once, skips the others by reason, and a second run stores nothing new', async () => {
    hub = await startTestEventHub({ partitions: 4, events: [...uplinks(40), ...ONE_OF_EACH_SKIP] });
    const first = await telemetry();
    const doc = parseJson(first);
    expect(first.code, first.stderr).toBe(0);
    expect(doc.totals).toMatchObject({ read: 45, stored: 40, skipped: 5 });
    expect(Object.fromEntries(Object.entries(doc.skipped as Record<string, { count: number }>).map(([r, t]) => [r, t.count]))).toEqual({
      'malformed body': 1,
      'module event': 1,
      'not a LoRaWAN device': 1,
      'not device telemetry': 1,
      'unknown device': 1,
    });
    expect(doc.skipped['unknown device'].samples[0]).toMatch(/^ghost@\d+\/\d+$/);
    expect(await storedKeys()).toEqual(acceptedKeys());
    expect(JSON.stringify(doc)).not.toContain(hub.key);

    const events = await db.knex()('sync_events').where({ run_id: doc.runId, type: 'skip' }).select('message');
    expect(events).toHaveLength(5);

    const second = parseJson(await telemetry());
    expect(second.totals).toMatchObject({ read: 0, stored: 0 });
    expect(second.partitions.every((p: { end: string }) => p.end === 'drained')).toBe(true);

    hub.append(uplinks(8, 100));
    const third = parseJson(await telemetry());
    expect(third.totals).toMatchObject({ read: 8, stored: 8 });
    expect(await storedKeys()).toEqual(acceptedKeys());
  });

  it('keeps the newest 100 events of a device', async () => {
    hub = await startTestEventHub({ partitions: 2, events: Array.from({ length: 130 }, (_, i) => ({ deviceId: 'lora-1', body: uplink(i) })) });
    const doc = parseJson(await telemetry(['--batch-size', '25']));
    expect(doc.totals).toMatchObject({ read: 130, stored: 130, pruned: 30 });
    const kept = await db.knex()('lorawan_telemetry').where({ device_id: 'lora-1' }).orderBy('fcnt').select('fcnt');
    expect(kept.map((r: { fcnt: number | string }) => Number(r.fcnt))).toEqual(Array.from({ length: 100 }, (_, i) => i + 30));
  });

  it('resumes after a SIGKILL between batches and stores every event exactly once', async () => {
    hub = await startTestEventHub({ partitions: 4, events: uplinks(6000) });
    const child = spawnCli(['telemetry', '--db', db.url, '--lock-dir', lockDir, '--batch-size', '20', '--json'], hub.env());
    const done = collect(child);
    const checkpointed = async () => Number((await db.knex()('eventhub_checkpoints').count({ n: '*' }).first())?.n ?? 0) > 0;
    await waitFor(checkpointed, 'a first checkpoint', 2000, 10);
    child.kill('SIGKILL');
    const killed = await done;
    expect(killed.signal).toBe('SIGKILL');
    const atKill = (await storedKeys()).length;
    expect(atKill).toBeLessThan(6000);

    const resumed = await telemetry();
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(parseJson(resumed).totals.read).toBe(6000 - atKill);
    const keys = await storedKeys();
    expect(keys).toHaveLength(6000);
    expect(keys).toEqual(acceptedKeys());
  });

  it('goes on when the connection drops mid-run: nothing lost, nothing twice', async () => {
    hub = await startTestEventHub({ partitions: 2, events: uplinks(1000), faults: { dropConnectionAfterEvents: 300 } });
    const result = await telemetry(['--batch-size', '50']);
    expect(result.code, result.stderr).toBe(0);
    expect(hub.stats().connections).toBeGreaterThan(1);
    expect(await storedKeys()).toEqual(acceptedKeys());
  });

  it('two runs at once under different locks never read one partition both, and store every event once', async () => {
    hub = await startTestEventHub({ partitions: 4, events: uplinks(4000) });
    const otherLocks = mkdtempSync(join(tmpdir(), 'portal-sync-telemetry-locks-'));
    try {
      const [a, b] = await Promise.all([telemetry(['--batch-size', '50']), telemetry(['--batch-size', '50'], hub.env(), otherLocks)]);
      expect(a.code, a.stderr).toBe(0);
      expect(b.code, b.stderr).toBe(0);
      const readBy = (doc: Record<string, any>) => new Set(doc.partitions.filter((p: { read: number }) => p.read > 0).map((p: { partitionId: string }) => p.partitionId));
      const [ra, rb] = [readBy(parseJson(a)), readBy(parseJson(b))];
      expect([...ra].filter((p) => rb.has(p))).toEqual([]);
      expect(parseJson(a).totals.stored + parseJson(b).totals.stored).toBe(4000);
      expect(await storedKeys()).toEqual(acceptedKeys());
    } finally {
      rmSync(otherLocks, { recursive: true, force: true });
    }
  });

  it('--dry-run stores nothing and moves no checkpoint; --max-events stops early and the next run continues', async () => {
    hub = await startTestEventHub({ partitions: 2, events: uplinks(300) });
    const dry = parseJson(await telemetry(['--dry-run']));
    expect(dry).toMatchObject({ dryRun: true, runId: null, totals: { read: 300, stored: 300 } });
    expect(await storedKeys()).toEqual([]);
    expect(await db.knex()('eventhub_checkpoints').select('*')).toEqual([]);

    const capped = parseJson(await telemetry(['--max-events', '120', '--batch-size', '50']));
    expect(capped).toMatchObject({ status: 'ok', stoppedBy: 'max-events', totals: { read: 120, stored: 120 } });
    const rest = parseJson(await telemetry());
    expect(rest.totals).toMatchObject({ read: 180, stored: 180 });
    expect(await storedKeys()).toEqual(acceptedKeys());
  });

  it('--start latest stores nothing already there and takes what comes after', async () => {
    hub = await startTestEventHub({ partitions: 2, events: uplinks(50) });
    expect(parseJson(await telemetry(['--start', 'latest'])).totals).toMatchObject({ read: 0, stored: 0 });
    hub.append(uplinks(6, 500));
    expect(parseJson(await telemetry(['--start', 'latest'])).totals).toMatchObject({ read: 6, stored: 6 });
    expect(await storedKeys()).toHaveLength(6);
  });

  it('a wrong key is a configuration error (78) and an unreachable namespace 69; neither prints the key', async () => {
    hub = await startTestEventHub({ partitions: 1, events: uplinks(5) });
    const wrong = await telemetry([], { EVENTHUB_CONNECTION_STRING: hub.emulator.connectionString({ key: Buffer.from('wrong key').toString('base64') }) });
    expect(wrong.code, wrong.stderr).toBe(78);
    expect(parseJson(wrong).error).toMatch(/Unauthorized/i);
    const closedPort = hub.emulator.connectionString().replace(/sb:\/\/127\.0\.0\.1:\d+/, 'sb://127.0.0.1:1');
    const unreachable = await telemetry(['--max-retries', '0'], { EVENTHUB_CONNECTION_STRING: closedPort });
    expect(unreachable.code, unreachable.stderr).toBe(69);
    for (const r of [wrong, unreachable]) expect(r.stdout + r.stderr).not.toMatch(/SharedAccessKey=[^<]/);
    expect(await storedKeys()).toEqual([]);

    hub.emulator.setFaults({ refuseCbs: true });
    expect((await telemetry()).code).toBe(78);
  });
});
