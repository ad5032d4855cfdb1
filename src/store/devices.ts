import type { Knex } from 'knex';
import type { CurrentRecord, DesiredRecord, Plan, Scalar } from '../reconcile/index.js';
import type { ApplyOutcome } from './types.js';
import type { DbClient } from './db.js';
import { canonicalTags, chunks, toBool, toIso, toScalar } from './rows.js';
import { columns, distinctFrom, insertRows, quote } from './sql.js';

/** Columns of `lorawan_devices` besides `id`, with the type the plan compares them as. */
export const LORAWAN_COLUMNS = {
  app_eui: 'string',
  app_key: 'string',
  app_s_key: 'string',
  nwk_s_key: 'string',
  dev_addr: 'string',
  sensor_decoder: 'string',
  class_type: 'string',
  preferred_window: 'integer',
  deduplication: 'string',
  rx1_dr_offset: 'integer',
  rx2_data_rate: 'integer',
  rx_delay: 'integer',
  abp_relax_mode: 'boolean',
  fcnt_up_start: 'integer',
  fcnt_down_start: 'integer',
  fcnt_reset_counter: 'integer',
  supports_32bit_fcnt: 'boolean',
  keep_alive_timeout: 'integer',
  downlink: 'boolean',
  use_otaa: 'boolean',
  gateway_id: 'string',
  data_rate: 'string',
  tx_power: 'string',
  nb_rep: 'integer',
  reported_rx2_data_rate: 'integer',
  reported_rx1_dr_offset: 'integer',
  reported_rx_delay: 'integer',
  already_logged_in_once: 'boolean',
} as const;

export type LorawanColumn = keyof typeof LORAWAN_COLUMNS;
export const LORAWAN_COLUMN_NAMES = Object.keys(LORAWAN_COLUMNS) as LorawanColumn[];
export const LORAWAN_SECRET_COLUMNS: readonly LorawanColumn[] = ['app_key', 'app_s_key', 'nwk_s_key'];

const DEVICE_COLUMNS = [
  'name',
  'device_model_id',
  'layer_id',
  'is_enabled',
  'is_connected',
  'status_updated_at',
  'last_activity_at',
] as const;

/** Bulk-insert column lists, in the order the row builders below produce values. */
const DEVICE_TABLE = columns({
  id: 'text',
  version: 'bigint',
  name: 'text',
  device_model_id: 'text',
  layer_id: 'text',
  is_enabled: 'boolean',
  is_connected: 'boolean',
  status_updated_at: 'timestamptz',
  last_activity_at: 'timestamptz',
});
const TAG_TABLE = columns({ device_id: 'text', name: 'text', value: 'text' });
const PG_TYPES = { string: 'text', integer: 'integer', boolean: 'boolean' } as const;
const LORAWAN_TABLE = columns({
  id: 'text',
  ...Object.fromEntries(LORAWAN_COLUMN_NAMES.map((c) => [c, PG_TYPES[LORAWAN_COLUMNS[c]]])),
});

/** Fields that move without a twin version bump. */
export const DEVICE_LIVE_FIELDS = ['is_connected', 'is_enabled', 'status_updated_at', 'last_activity_at'] as const;

/** `kind` is `lora` when the device has a `lorawan_devices` row. */
export type DeviceKind = 'lora' | 'standard';


/** Rows per batch when reading the portal's devices: bounds the memory a large table costs to read. */
const READ_BATCH = 5_000;

/**
 * The portal's devices as plan records, keyed by device id. Read in id order, a batch of devices at a
 * time with the tags and LoRaWAN rows of that id range: a few statements per batch, never one per row.
 */
export async function loadCurrentDevices(db: Knex): Promise<Map<string, CurrentRecord>> {
  const current = new Map<string, CurrentRecord>();
  let after: string | null = null;
  for (;;) {
    const query = db('devices').select('id', 'version', ...DEVICE_COLUMNS).orderBy('id').limit(READ_BATCH);
    if (after !== null) query.where('id', '>', after);
    const rows: Array<Record<string, unknown>> = await query;
    if (rows.length === 0) break;
    const first = String(rows[0]!.id);
    const last = String(rows[rows.length - 1]!.id);
    const tags = await loadTags(db, first, last);
    const lorawan = new Map<string, Record<string, unknown>>();
    const loraRows: Array<Record<string, unknown>> = await db('lorawan_devices').whereBetween('id', [first, last]).select('*');
    for (const row of loraRows) lorawan.set(String(row.id), row);
    for (const row of rows) {
      const id = String(row.id);
      const lora = lorawan.get(id);
      const fields: Record<string, Scalar> = {
        name: toScalar(row.name),
        device_model_id: toScalar(row.device_model_id),
        layer_id: toScalar(row.layer_id),
        is_enabled: toBool(row.is_enabled),
        is_connected: toBool(row.is_connected),
        status_updated_at: toIso(row.status_updated_at),
        last_activity_at: toIso(row.last_activity_at),
        kind: lora ? 'lora' : 'standard',
        tags: tags.get(id) ?? '{}',
      };
      if (lora) {
        for (const column of LORAWAN_COLUMN_NAMES) fields[column] = normalizeLorawan(column, lora[column]);
      }
      current.set(id, { key: id, version: Number(row.version), fields });
    }
    if (rows.length < READ_BATCH) break;
    after = last;
  }
  return current;
}

/** Tags of the devices in [first, last] as canonical JSON, grouped without a map per device. */
async function loadTags(db: Knex, first: string, last: string): Promise<Map<string, string>> {
  const rows: Array<{ device_id: string; name: string; value: string | null }> = await db('device_tag_values')
    .whereBetween('device_id', [first, last])
    .select('device_id', 'name', 'value')
    .orderBy('device_id');
  const out = new Map<string, string>();
  let device: string | null = null;
  let tags: Record<string, string> = {};
  for (const row of rows) {
    if (row.device_id !== device) {
      if (device !== null) out.set(device, canonicalTags(tags));
      device = row.device_id;
      tags = {};
    }
    tags[row.name] = row.value ?? '';
  }
  if (device !== null) out.set(device, canonicalTags(tags));
  return out;
}

function normalizeLorawan(column: LorawanColumn, value: unknown): Scalar {
  if (value === null || value === undefined) return null;
  switch (LORAWAN_COLUMNS[column]) {
    case 'boolean':
      return toBool(value);
    case 'integer':
      return Number(value);
    default:
      return String(value);
  }
}

/** Applies a devices plan inside `trx`. Every statement is multi-row; the upsert re-checks the version. */
export async function applyDevicesPlan(trx: Knex.Transaction, plan: Plan, client: DbClient): Promise<ApplyOutcome> {
  const liveChanged = DEVICE_LIVE_FIELDS.map((f) => distinctFrom(client, `devices.${quote(f)}`, `excluded.${quote(f)}`)).join(' OR ');
  const writes: DesiredRecord[] = [...plan.create, ...plan.update.map((u) => u.desired)];
  const returned = await insertRows(trx, client, 'devices', DEVICE_TABLE, mapLazily(writes, deviceRow), {
    upsert: {
      target: ['id'],
      set: Object.fromEntries(DEVICE_TABLE.slice(1).map((c) => [c.name, `excluded.${quote(c.name)}`])),
      where: `devices.version < excluded.version OR (devices.version = excluded.version AND (${liveChanged}))`,
    },
    returning: 'id',
  });
  const applied = new Set(returned.map((r) => String(r.id)));

  const currentByKey = new Map(plan.update.map((u) => [u.desired.key, u.current]));
  const tagWrites: DesiredRecord[] = [];
  const loraWrites: DesiredRecord[] = [];
  const loraRemovals: string[] = [];
  for (const desired of writes) {
    if (!applied.has(desired.key)) continue;
    const stored = currentByKey.get(desired.key);
    if (!stored || stored.fields.tags !== desired.fields.tags) tagWrites.push(desired);
    if (desired.fields.kind === 'lora') {
      if (!stored || stored.fields.kind !== 'lora' || LORAWAN_COLUMN_NAMES.some((c) => lorawanDiffers(stored, desired, c))) {
        loraWrites.push(desired);
      }
    } else if (stored?.fields.kind === 'lora') {
      loraRemovals.push(desired.key);
    }
  }

  await replaceTags(trx, client, tagWrites, currentByKey);
  await upsertLorawan(trx, client, loraWrites);
  for (const chunk of chunks(loraRemovals, 500)) await trx('lorawan_devices').whereIn('id', chunk).del();

  let deleted = 0;
  for (const chunk of chunks(plan.delete.map((d) => d.key), 500)) {
    // Tag values, labels and the LoRaWAN row go with the device (ON DELETE CASCADE).
    deleted += await trx('devices').whereIn('id', chunk).del();
  }

  const conflicts = writes.filter((d) => !applied.has(d.key)).map((d) => d.key);
  const updatedKeys = new Set(plan.update.map((u) => u.desired.key));
  let created = 0;
  let updated = 0;
  for (const key of applied) (updatedKeys.has(key) ? updated++ : created++);
  return { created, updated, deleted, conflicts };
}

function lorawanDiffers(stored: { fields: Record<string, Scalar | undefined> }, desired: DesiredRecord, column: string): boolean {
  const next = desired.fields[column];
  return next !== undefined && next !== (stored.fields[column] ?? null);
}

function deviceRow(d: DesiredRecord): Scalar[] {
  const f = d.fields;
  return [
    d.key,
    d.version,
    f.name ?? null,
    f.device_model_id ?? null,
    f.layer_id ?? null,
    f.is_enabled ?? true,
    f.is_connected ?? false,
    f.status_updated_at ?? null,
    f.last_activity_at ?? null,
  ];
}

async function replaceTags(
  trx: Knex.Transaction,
  client: DbClient,
  writes: DesiredRecord[],
  existing: ReadonlyMap<string, unknown>,
): Promise<void> {
  const replaced = writes.filter((d) => existing.has(d.key)).map((d) => d.key);
  for (const chunk of chunks(replaced, 500)) await trx('device_tag_values').whereIn('device_id', chunk).del();
  function* rows(): Generator<Scalar[]> {
    for (const d of writes) {
      const tags = JSON.parse(String(d.fields.tags ?? '{}')) as Record<string, string>;
      for (const name in tags) yield [d.key, name, tags[name]!];
    }
  }
  await insertRows(trx, client, 'device_tag_values', TAG_TABLE, rows());
}

async function upsertLorawan(trx: Knex.Transaction, client: DbClient, writes: DesiredRecord[]): Promise<void> {
  // COALESCE keeps a stored value when the twin does not carry that key (imported by other means).
  const set = Object.fromEntries(
    LORAWAN_COLUMN_NAMES.map((c) => [c, `COALESCE(excluded.${quote(c)}, lorawan_devices.${quote(c)})`]),
  );
  const rows = mapLazily(writes, (d) => [d.key, ...LORAWAN_COLUMN_NAMES.map((c) => d.fields[c] ?? null)]);
  await insertRows(trx, client, 'lorawan_devices', LORAWAN_TABLE, rows, { upsert: { target: ['id'], set } });
}

function* mapLazily<T, U>(items: Iterable<T>, fn: (item: T) => U): Generator<U> {
  for (const item of items) yield fn(item);
}
