import type { Knex } from 'knex';
import type { Scalar } from '../reconcile/index.js';
import { clientOf } from './db.js';
import { writeCheckpoint, type HubScope, type Position } from './eventhub-checkpoints.js';
import { chunks } from './rows.js';
import { declaredColumns } from './schema.js';
import { insertRows } from './sql.js';

/** Rows kept per device: the newest by enqueued time. */
export const KEEP_PER_DEVICE = 100;

/** The body fields of a LoRaWAN uplink, as the network server writes them (INVENTORIES.md). */
export const BODY_FIELDS = [
  'time',
  'tmms',
  'freq',
  'chan',
  'rfch',
  'modu',
  'datr',
  'rssi',
  'lsnr',
  'data',
  'port',
  'fcnt',
  'edgets',
  'rawdata',
  'eui',
  'gatewayid',
  'stationeui',
  'dupmsg',
] as const;
export type BodyField = (typeof BODY_FIELDS)[number];

const KEY_FIELDS = ['partition_id', 'sequence_number', 'device_id', 'enqueued_at'] as const;
export const TELEMETRY_COLUMNS = declaredColumns('lorawan_telemetry', [...KEY_FIELDS, ...BODY_FIELDS]);

/** One event ready to store: its key, its device, when the hub enqueued it, and its body's fields. */
export interface TelemetryRow {
  readonly partitionId: string;
  readonly sequenceNumber: number;
  readonly deviceId: string;
  /** ISO 8601 from toISOString(): one format, so SQLite's text ordering is time ordering. */
  readonly enqueuedAt: string;
  readonly body: Readonly<Record<BodyField, Scalar>>;
}

/** A batch of one partition and the checkpoint that covers it (its last event, stored or skipped). */
export interface TelemetryBatch {
  readonly scope: HubScope;
  readonly partitionId: string;
  readonly rows: readonly TelemetryRow[];
  readonly to: Position;
  /** Where this run last saw the checkpoint (null: none): the write is refused if it moved since. */
  readonly from: Position | null;
}

export type DeviceSkip = 'unknown device' | 'not a LoRaWAN device';

export interface BatchOutcome {
  readonly stored: number;
  /** Rows the table had already (the same hub read under another consumer group, or a reset checkpoint). */
  readonly alreadyStored: number;
  /** Rows left out because of what the portal knows of their device, at the moment of the write. */
  readonly skipped: ReadonlyArray<{ readonly row: TelemetryRow; readonly reason: DeviceSkip }>;
  readonly pruned: number;
}

/** Another reader moved the partition's checkpoint since this run saw it: the batch is not this run's to store. */
export class CheckpointMovedError extends Error {
  constructor(readonly partitionId: string) {
    super(`partition ${partitionId}: its checkpoint moved under this run (another reader took the partition); the batch was not stored`);
    this.name = 'CheckpointMovedError';
  }
}

/**
 * Stores one batch and moves its partition's checkpoint, in ONE transaction: a crash at any point
 * leaves either both or neither, so no stored event is lost or stored twice. The device check runs
 * inside it too (a device deleted meanwhile is skipped, not a foreign-key failure of the batch), and
 * so does the pruning of the batch's devices to their newest rows.
 */
export async function storeTelemetryBatch(db: Knex, batch: TelemetryBatch): Promise<BatchOutcome> {
  const client = clientOf(db);
  return db.transaction(async (trx) => {
    if (!(await writeCheckpoint(trx, batch.scope, batch.partitionId, batch.to, batch.from))) throw new CheckpointMovedError(batch.partitionId);
    const { accepted, skipped } = await sortByDevice(trx, batch.rows);
    if (accepted.length === 0) return { stored: 0, alreadyStored: 0, skipped, pruned: 0 };
    const inserted = await insertRows(trx, client, 'lorawan_telemetry', TELEMETRY_COLUMNS, accepted.map(toValues), {
      upsert: { target: ['partition_id', 'sequence_number'], set: {} },
      returning: 'device_id',
    });
    const touched = [...new Set(inserted.map((r) => String(r['device_id'])))];
    const pruned = await pruneToNewest(trx, touched, KEEP_PER_DEVICE);
    return { stored: inserted.length, alreadyStored: accepted.length - inserted.length, skipped, pruned };
  });
}

function toValues(row: TelemetryRow): Scalar[] {
  const values: Scalar[] = [row.partitionId, row.sequenceNumber, row.deviceId, row.enqueuedAt];
  for (const field of BODY_FIELDS) values.push(row.body[field] ?? null);
  return values;
}

const ID_CHUNK = 500;

/** The rows whose device is a LoRaWAN device of the portal, and the others with the reason. */
export async function sortByDevice(
  db: Knex | Knex.Transaction,
  rows: readonly TelemetryRow[],
): Promise<{ accepted: TelemetryRow[]; skipped: Array<{ row: TelemetryRow; reason: DeviceSkip }> }> {
  const kinds = await deviceKinds(db, [...new Set(rows.map((r) => r.deviceId))]);
  const accepted: TelemetryRow[] = [];
  const skipped: Array<{ row: TelemetryRow; reason: DeviceSkip }> = [];
  for (const row of rows) {
    const kind = kinds.get(row.deviceId);
    if (kind === 'lorawan') accepted.push(row);
    else skipped.push({ row, reason: kind === undefined ? 'unknown device' : 'not a LoRaWAN device' });
  }
  return { accepted, skipped };
}

/** 'lorawan' for a device with LoRaWAN settings, 'other' for any other known device; absent: unknown. */
async function deviceKinds(db: Knex | Knex.Transaction, ids: readonly string[]): Promise<Map<string, 'lorawan' | 'other'>> {
  const kinds = new Map<string, 'lorawan' | 'other'>();
  for (const chunk of chunks(ids, ID_CHUNK)) {
    const rows = await db('devices as d')
      .leftJoin('lorawan_devices as l', 'l.id', 'd.id')
      .whereIn('d.id', chunk)
      .select<Array<{ id: string; lora: string | null }>>('d.id as id', 'l.id as lora');
    for (const r of rows) kinds.set(r.id, r.lora === null ? 'other' : 'lorawan');
  }
  return kinds;
}

/**
 * Deletes all but the newest `keep` rows of each of `deviceIds`, one set-based statement per chunk
 * of devices (ties in enqueued time broken by partition and sequence number, so exactly `keep` stay).
 */
export async function pruneToNewest(db: Knex | Knex.Transaction, deviceIds: readonly string[], keep: number): Promise<number> {
  let pruned = 0;
  for (const candidates of chunks(deviceIds, ID_CHUNK)) {
    // Counting walks the (device, enqueued time) index only; ranking sorts rows: rank only the
    // devices that hold more than they may (none, while a fleet's telemetry is filling up).
    const over = await db('lorawan_telemetry')
      .whereIn('device_id', candidates)
      .groupBy('device_id')
      .havingRaw('COUNT(*) > ?', [keep])
      .select<Array<{ device_id: string }>>('device_id');
    if (over.length === 0) continue;
    const chunk = over.map((r) => r.device_id);
    const placeholders = chunk.map(() => '?').join(', ');
    const result = (await db.raw(
      `DELETE FROM lorawan_telemetry WHERE (partition_id, sequence_number) IN (
         SELECT partition_id, sequence_number FROM (
           SELECT partition_id, sequence_number,
                  ROW_NUMBER() OVER (PARTITION BY device_id ORDER BY enqueued_at DESC, partition_id DESC, sequence_number DESC) AS newest
             FROM lorawan_telemetry WHERE device_id IN (${placeholders})
         ) ranked WHERE newest > ?)`,
      [...chunk, keep],
    )) as unknown;
    pruned += deletedCount(result);
  }
  return pruned;
}

function deletedCount(result: unknown): number {
  const r = result as { rowCount?: number; changes?: number } | null;
  return r?.rowCount ?? r?.changes ?? 0;
}
