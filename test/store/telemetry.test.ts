/**
 * `lorawan_telemetry` and the Event Hubs checkpoint store on SQLite and PostgreSQL: a batch and its
 * checkpoint commit together or not at all, the checkpoint is a compare-and-set, devices are sorted
 * at the write, the newest 100 per device stay, and ownership never passes from a live owner.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PartitionOwnership } from '@azure/event-hubs';
import { migrateLatest } from '../../src/store/migrate.js';
import { PortalCheckpointStore, readPosition, writeCheckpoint, type HubScope } from '../../src/store/eventhub-checkpoints.js';
import { BODY_FIELDS, CheckpointMovedError, KEEP_PER_DEVICE, storeTelemetryBatch, type TelemetryRow } from '../../src/store/telemetry.js';
import { BACKENDS, createTestDatabase, type TestDatabase } from '../support/backends.js';

const SCOPE: HubScope = { namespace: 'ns.example', hub: 'portal-hub', consumerGroup: 'iothub-portal' };
const body = () => Object.fromEntries(BODY_FIELDS.map((f) => [f, null])) as TelemetryRow['body'] & Record<string, unknown>;

function row(partitionId: string, sequenceNumber: number, deviceId: string, at: number): TelemetryRow {
  return { partitionId, sequenceNumber, deviceId, enqueuedAt: new Date(at).toISOString(), body: { ...body(), fcnt: sequenceNumber, rssi: -80.5 } };
}

describe.each(BACKENDS)('telemetry store on %s', (backend) => {
  let db: TestDatabase;

  beforeEach(async () => {
    db = await createTestDatabase(backend);
    const k = db.knex();
    await migrateLatest(k);
    await k('device_models').insert([{ id: 'm', name: 'model', support_lora_features: true }]);
    await k('devices').insert(['lora-1', 'lora-2', 'plain'].map((id) => ({ id, name: id, device_model_id: 'm', version: 1 })));
    await k('lorawan_devices').insert([{ id: 'lora-1' }, { id: 'lora-2' }]);
  });

  afterEach(async () => {
    await db.drop();
  });

  const keys = async () =>
    (await db.knex()('lorawan_telemetry').orderBy(['partition_id', 'sequence_number']).select('partition_id', 'sequence_number')).map(
      (r: { partition_id: string; sequence_number: number | string }) => `${r.partition_id}/${Number(r.sequence_number)}`,
    );

  it('stores a batch with its checkpoint, and sorts devices: unknown and non-LoRaWAN ones are skipped with the reason', async () => {
    const rows = [row('0', 0, 'lora-1', 1000), row('0', 1, 'plain', 1001), row('0', 2, 'ghost', 1002), row('0', 3, 'lora-2', 1003)];
    const outcome = await storeTelemetryBatch(db.knex(), { scope: SCOPE, partitionId: '0', rows, to: { offset: '300', sequenceNumber: 3 }, from: null });
    expect(outcome.stored).toBe(2);
    expect(outcome.skipped.map((s) => [s.row.deviceId, s.reason])).toEqual([
      ['plain', 'not a LoRaWAN device'],
      ['ghost', 'unknown device'],
    ]);
    expect(await keys()).toEqual(['0/0', '0/3']);
    expect(await readPosition(db.knex(), SCOPE, '0')).toEqual({ offset: '300', sequenceNumber: 3 });
    const stored = await db.knex()('lorawan_telemetry').where({ sequence_number: 3 }).first();
    expect(Number(stored.fcnt)).toBe(3);
    expect(Number(stored.rssi)).toBe(-80.5);
  });

  it('keys rows by partition and sequence number: the same sequence number in two partitions is two rows', async () => {
    await storeTelemetryBatch(db.knex(), { scope: SCOPE, partitionId: '0', rows: [row('0', 7, 'lora-1', 1)], to: { offset: '1', sequenceNumber: 7 }, from: null });
    await storeTelemetryBatch(db.knex(), { scope: SCOPE, partitionId: '1', rows: [row('1', 7, 'lora-1', 2)], to: { offset: '1', sequenceNumber: 7 }, from: null });
    expect(await keys()).toEqual(['0/7', '1/7']);
  });

  it('refuses a batch whose checkpoint moved under it, and writes none of its rows', async () => {
    await writeCheckpoint(db.knex(), SCOPE, '0', { offset: '50', sequenceNumber: 5 }, null);
    const stale = storeTelemetryBatch(db.knex(), { scope: SCOPE, partitionId: '0', rows: [row('0', 3, 'lora-1', 1)], to: { offset: '30', sequenceNumber: 3 }, from: { offset: '20', sequenceNumber: 2 } });
    await expect(stale).rejects.toBeInstanceOf(CheckpointMovedError);
    const fresh = storeTelemetryBatch(db.knex(), { scope: SCOPE, partitionId: '0', rows: [row('0', 6, 'lora-1', 1)], to: { offset: '60', sequenceNumber: 6 }, from: null });
    await expect(fresh).rejects.toBeInstanceOf(CheckpointMovedError);
    expect(await keys()).toEqual([]);
    expect(await readPosition(db.knex(), SCOPE, '0')).toEqual({ offset: '50', sequenceNumber: 5 });
  });

  it('rolls the checkpoint back with the rows when the write fails', async () => {
    const bad = { ...row('0', 1, 'lora-1', 1), body: { ...row('0', 1, 'lora-1', 1).body, port: 'not a number' } } as unknown as TelemetryRow;
    const batch = storeTelemetryBatch(db.knex(), { scope: SCOPE, partitionId: '0', rows: [row('0', 0, 'lora-1', 1), bad], to: { offset: '10', sequenceNumber: 1 }, from: null });
    if (backend === 'postgres') {
      await expect(batch).rejects.toThrow();
      expect(await keys()).toEqual([]);
      expect(await readPosition(db.knex(), SCOPE, '0')).toBeNull();
    } else {
      // SQLite takes any value in any column: the mapping's validation is what keeps such a row out.
      await batch;
      expect(await keys()).toEqual(['0/0', '0/1']);
    }
  });

  it(`keeps the newest ${KEEP_PER_DEVICE} rows of each device, by enqueued time, ties broken by key`, async () => {
    const rows: TelemetryRow[] = [];
    for (let i = 0; i < 130; i++) rows.push(row('0', i, 'lora-1', 10_000 + Math.floor(i / 2)));
    for (let i = 130; i < 140; i++) rows.push(row('0', i, 'lora-2', 20_000 + i));
    const outcome = await storeTelemetryBatch(db.knex(), { scope: SCOPE, partitionId: '0', rows, to: { offset: '1', sequenceNumber: 139 }, from: null });
    expect(outcome.stored).toBe(140);
    expect(outcome.pruned).toBe(30);
    const kept = await db.knex()('lorawan_telemetry').where({ device_id: 'lora-1' }).orderBy('sequence_number').select('sequence_number');
    expect(kept.map((r: { sequence_number: number | string }) => Number(r.sequence_number))).toEqual(Array.from({ length: 100 }, (_, i) => i + 30));
    expect(Number((await db.knex()('lorawan_telemetry').where({ device_id: 'lora-2' }).count({ n: '*' }).first())!.n)).toBe(10);
    // Older events arriving later (another partition) do not push newer ones out.
    const late = await storeTelemetryBatch(db.knex(), { scope: SCOPE, partitionId: '1', rows: [row('1', 0, 'lora-1', 5)], to: { offset: '1', sequenceNumber: 0 }, from: null });
    expect(late).toMatchObject({ stored: 1, pruned: 1 });
    expect(await db.knex()('lorawan_telemetry').where({ device_id: 'lora-1', partition_id: '1' }).select('sequence_number')).toEqual([]);
  });

  it('a device deleted takes its telemetry with it', async () => {
    await storeTelemetryBatch(db.knex(), { scope: SCOPE, partitionId: '0', rows: [row('0', 0, 'lora-1', 1), row('0', 1, 'lora-2', 2)], to: { offset: '1', sequenceNumber: 1 }, from: null });
    await db.knex()('devices').where({ id: 'lora-1' }).del();
    expect(await keys()).toEqual(['0/1']);
  });

  it('counts rows the table had already instead of storing them twice', async () => {
    await storeTelemetryBatch(db.knex(), { scope: SCOPE, partitionId: '0', rows: [row('0', 0, 'lora-1', 1)], to: { offset: '1', sequenceNumber: 0 }, from: null });
    const other = { ...SCOPE, consumerGroup: 'other' };
    const again = await storeTelemetryBatch(db.knex(), { scope: other, partitionId: '0', rows: [row('0', 0, 'lora-1', 1)], to: { offset: '1', sequenceNumber: 0 }, from: null });
    expect(again).toMatchObject({ stored: 0, alreadyStored: 1 });
    expect(await keys()).toEqual(['0/0']);
  });
});

describe.each(BACKENDS)('the Event Hubs checkpoint store on %s', (backend) => {
  let db: TestDatabase;
  let now = 1_000_000;
  const claim = (ownerId: string, partitionId: string, etag?: string): PartitionOwnership => ({
    fullyQualifiedNamespace: SCOPE.namespace,
    eventHubName: SCOPE.hub,
    consumerGroup: SCOPE.consumerGroup,
    partitionId,
    ownerId,
    ...(etag !== undefined ? { etag } : {}),
  });

  beforeEach(async () => {
    db = await createTestDatabase(backend);
    await migrateLatest(db.knex());
    now = 1_000_000;
  });

  afterEach(async () => {
    await db.drop();
  });

  it('lets one owner claim a free partition, with optimistic concurrency on the etag', async () => {
    const store = new PortalCheckpointStore(db.knex(), 30_000, () => now);
    const [won] = await store.claimOwnership([claim('a', '0')]);
    expect(won).toMatchObject({ ownerId: 'a', partitionId: '0', lastModifiedTimeInMs: now });
    // A second claim made on the view before the first one (no etag) loses.
    expect(await store.claimOwnership([claim('b', '0')])).toEqual([]);
    // Renewal with the current etag wins and changes the etag.
    const [renewed] = await store.claimOwnership([claim('a', '0', won!.etag)]);
    expect(renewed!.etag).not.toBe(won!.etag);
    expect(await store.listOwnership(SCOPE.namespace, SCOPE.hub, SCOPE.consumerGroup)).toEqual([expect.objectContaining({ ownerId: 'a', etag: renewed!.etag })]);
  });

  it('never hands a partition from a live owner to another, but does once the owner is silent past the expiry or gave it up', async () => {
    const store = new PortalCheckpointStore(db.knex(), 30_000, () => now);
    const [a] = await store.claimOwnership([claim('a', '0')]);
    now += 29_999;
    expect(await store.claimOwnership([claim('b', '0', a!.etag)])).toEqual([]);
    expect(store.refused()).toEqual([{ partitionId: '0', ownerId: 'a' }]);
    now += 1;
    const [b] = await store.claimOwnership([claim('b', '0', a!.etag)]);
    expect(b).toMatchObject({ ownerId: 'b' });
    expect(store.refused()).toEqual([]);
    // Given up (owner ''), as the SDK does when a subscription closes: free at once.
    const [released] = await store.claimOwnership([claim('', '0', b!.etag)]);
    expect(await store.claimOwnership([claim('c', '0', released!.etag)])).toEqual([expect.objectContaining({ ownerId: 'c' })]);
  });

  it('lists checkpoints per hub and consumer group, and updateCheckpoint writes one', async () => {
    const store = new PortalCheckpointStore(db.knex(), 30_000);
    await store.updateCheckpoint({ fullyQualifiedNamespace: SCOPE.namespace, eventHubName: SCOPE.hub, consumerGroup: SCOPE.consumerGroup, partitionId: '2', offset: '42', sequenceNumber: 4 });
    await store.updateCheckpoint({ fullyQualifiedNamespace: SCOPE.namespace, eventHubName: SCOPE.hub, consumerGroup: 'other', partitionId: '2', offset: '9', sequenceNumber: 1 });
    expect(await store.listCheckpoints(SCOPE.namespace, SCOPE.hub, SCOPE.consumerGroup)).toEqual([
      { fullyQualifiedNamespace: SCOPE.namespace, eventHubName: SCOPE.hub, consumerGroup: SCOPE.consumerGroup, partitionId: '2', offset: '42', sequenceNumber: 4 },
    ]);
  });
});
