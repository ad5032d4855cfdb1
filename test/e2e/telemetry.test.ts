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
import { DEFAULT_KEY, type EventHubEventInput } from '../../src/emulators/eventhub/index.js';
import { migrateLatest } from '../../src/store/migrate.js';
import { BACKENDS, createTestDatabase, type TestDatabase } from '../support/backends.js';
import { collect, parseJson, runCli, spawnCli, waitFor, type CliResult } from '../support/cli.js';
import { startTestEventHub, type TestEventHub } from '../support/eventhub.js';

// Enough devices that the newest-100 rule keeps every event of the larger runs below (6,000 events: 60 each).
const LORA = Array.from({ length: 100 }, (_, i) => `lora-${i + 1}`);
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

/**
 * What the hub was sent, with each event's partition set (round robin) so that the key the hub gives
 * it (partition, sequence number in order of arrival there) is known, and whether it is to be stored.
 */
class Sent {
  private readonly next: number[];
  private readonly accepted: string[] = [];
  constructor(private readonly partitions: number) {
    this.next = new Array<number>(partitions).fill(0);
  }
  place(events: readonly EventHubEventInput[]): EventHubEventInput[] {
    return events.map((e, i) => {
      const partition = Number(e.partition ?? (this.next.reduce((a, b) => a + b, 0) + i) % this.partitions);
      return { ...e, partition };
    }).map((e) => {
      const seq = this.next[e.partition as number]!++;
      const ok = LORA.includes(String(e.deviceId)) && !e.moduleId && (e.messageSource ?? 'Telemetry') === 'Telemetry' && typeof e.body === 'object';
      if (ok) this.accepted.push(`${e.partition}/${seq}`);
      return e;
    });
  }
  keys(): string[] {
    return [...this.accepted].sort(byKey);
  }
}
const byKey = (a: string, b: string) => {
  const [pa, sa] = a.split('/').map(Number);
  const [pb, sb] = b.split('/').map(Number);
  return pa! - pb! || sa! - sb!;
};

describe.each(BACKENDS)('telemetry on %s', (backend) => {
  let db: TestDatabase;
  let hub: TestEventHub;
  let sent: Sent;
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

  const start = async (partitions: number, events: EventHubEventInput[], faults?: Record<string, unknown>) => {
    sent = new Sent(partitions);
    hub = await startTestEventHub({ partitions, events: sent.place(events), ...(faults ? { faults } : {}) });
  };
  const append = (events: EventHubEventInput[]) => hub.emulator.append(sent.place(events));
  const env = () => hub.emulator.env();
  const telemetry = (args: string[] = [], environment: Record<string, string> = env(), dir = lockDir): Promise<CliResult> =>
    runCli(['telemetry', '--db', db.url, '--lock-dir', dir, '--json', ...args], environment);

  /** partition/sequence of every stored row, in key order. */
  const storedKeys = async () =>
    (await db.knex()('lorawan_telemetry').select('partition_id', 'sequence_number'))
      .map((r: { partition_id: string; sequence_number: number | string }) => `${r.partition_id}/${Number(r.sequence_number)}`)
      .sort(byKey);
  const acceptedKeys = () => sent.keys();

  it('stores every accepted event once, skips the others by reason, and a second run stores nothing new', async () => {
    await start(4, [...uplinks(40), ...ONE_OF_EACH_SKIP]);
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
    expect(first.stdout + first.stderr).not.toContain(DEFAULT_KEY);

    const events = await db.knex()('sync_events').where({ run_id: doc.runId, type: 'skip' }).select('message');
    expect(events).toHaveLength(5);

    const second = parseJson(await telemetry());
    expect(second.totals).toMatchObject({ read: 0, stored: 0 });
    expect(second.partitions.every((p: { end: string }) => p.end === 'drained')).toBe(true);

    append(uplinks(8, 100));
    const third = parseJson(await telemetry());
    expect(third.totals).toMatchObject({ read: 8, stored: 8 });
    expect(await storedKeys()).toEqual(acceptedKeys());
  });

  it('keeps the newest 100 events of a device', async () => {
    await start(2, Array.from({ length: 130 }, (_, i) => ({ deviceId: 'lora-1', enqueuedTime: new Date(1_764_928_800_000 + i * 1000).toISOString(), body: uplink(i) })));
    const doc = parseJson(await telemetry(['--batch-size', '25']));
    expect(doc.totals).toMatchObject({ read: 130, stored: 130, pruned: 30 });
    const kept = await db.knex()('lorawan_telemetry').where({ device_id: 'lora-1' }).orderBy('fcnt').select('fcnt');
    expect(kept.map((r: { fcnt: number | string }) => Number(r.fcnt))).toEqual(Array.from({ length: 100 }, (_, i) => i + 30));
  });

  it('resumes after a SIGKILL between batches and stores every event exactly once', async () => {
    await start(4, uplinks(6000));
    const child = spawnCli(['telemetry', '--db', db.url, '--lock-dir', lockDir, '--batch-size', '20', '--json'], env());
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
    await start(2, uplinks(1000), { dropConnectionAfterEvents: 300 });
    const result = await telemetry(['--batch-size', '50']);
    expect(result.code, result.stderr).toBe(0);
    expect(hub.emulator.stats().connectionsDropped).toBe(1);
    expect(await storedKeys()).toEqual(acceptedKeys());
  });

  it('two runs at once never read one partition both, and store every event once', async () => {
    await start(4, uplinks(4000));
    const otherLocks = mkdtempSync(join(tmpdir(), 'portal-sync-telemetry-locks-'));
    try {
      // File locks in two folders: two hosts, as far as the file locks can tell.
      const args = ['--batch-size', '50', '--lock', 'file'];
      const [a, b] = await Promise.all([telemetry(args), telemetry(args, env(), otherLocks)]);
      const ran = [a, b].filter((r) => r.code === 0);
      if (backend === 'postgres') {
        // A pass on PostgreSQL also holds the database's advisory lock: runs that overlap cannot both run.
        expect([a.code, b.code].sort(), a.stderr + b.stderr).toEqual(ran.length === 2 ? [0, 0] : [0, 75]);
      } else {
        // Nothing but the ownership table stands between these two: each partition goes to one of them.
        expect([a.code, b.code], a.stderr + b.stderr).toEqual([0, 0]);
      }
      const readBy = ran.map((r) => new Set(parseJson(r).partitions.filter((p: { read: number }) => p.read > 0).map((p: { partitionId: string }) => p.partitionId)));
      if (readBy.length === 2) expect([...readBy[0]!].filter((p) => readBy[1]!.has(p))).toEqual([]);
      expect(ran.reduce((n, r) => n + parseJson(r).totals.stored, 0)).toBe(4000);
      expect(await storedKeys()).toEqual(acceptedKeys());
    } finally {
      rmSync(otherLocks, { recursive: true, force: true });
    }
  });

  it('leaves a partition another live run holds to it, and reads it once that run gave it up', async () => {
    await start(2, uplinks(40));
    const held = { namespace: '127.0.0.1', hub: hub.emulator.hubName, consumer_group: 'iothub-portal', partition_id: '1', owner_id: 'portal-sync@other-host#0', etag: 'e1' };
    await db.knex()('eventhub_ownership').insert({ ...held, last_modified_ms: Date.now() });
    const first = parseJson(await telemetry());
    expect(first.status).toBe('ok');
    expect(first.partitions.map((p: { partitionId: string; end: string; ownedBy: string | null; read: number }) => [p.partitionId, p.end, p.ownedBy, p.read])).toEqual([
      ['0', 'drained', null, 20],
      ['1', 'owned elsewhere', 'portal-sync@other-host#0', 0],
    ]);
    await db.knex()('eventhub_ownership').where({ partition_id: '1' }).update({ owner_id: '', etag: 'e2' });
    const second = parseJson(await telemetry());
    expect(second.totals).toMatchObject({ read: 20, stored: 20 });
    expect(await storedKeys()).toEqual(acceptedKeys());
  });

  it('--dry-run stores nothing and moves no checkpoint; --max-events stops early and the next run continues', async () => {
    await start(2, uplinks(300));
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
    await start(2, uplinks(50));
    expect(parseJson(await telemetry(['--start', 'latest'])).totals).toMatchObject({ read: 0, stored: 0 });
    append(uplinks(6, 500));
    expect(parseJson(await telemetry(['--start', 'latest'])).totals).toMatchObject({ read: 6, stored: 6 });
    expect(await storedKeys()).toHaveLength(6);
  });

  it('a wrong key is a configuration error (78) and an unreachable namespace 69; neither prints the key', async () => {
    await start(1, uplinks(5));
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
