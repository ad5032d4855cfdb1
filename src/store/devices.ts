import type { Knex } from 'knex';
import type { CurrentRecord, DesiredRecord, Plan, Scalar } from '../reconcile/index.js';
import type { ApplyOutcome } from './types.js';
import { canonicalTags, chunks, chunkSizeFor, toBool, toIso, toScalar } from './rows.js';

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

/** Fields that move without a twin version bump. */
export const DEVICE_LIVE_FIELDS = ['is_connected', 'is_enabled', 'status_updated_at', 'last_activity_at'] as const;

/** `kind` is `lora` when the device has a `lorawan_devices` row. */
export type DeviceKind = 'lora' | 'standard';


/** The portal's devices as plan records, keyed by device id. */
export async function loadCurrentDevices(db: Knex): Promise<Map<string, CurrentRecord>> {
  const rows: Array<Record<string, unknown>> = await db('devices as d')
    .leftJoin('lorawan_devices as l', 'l.id', 'd.id')
    .select(
      'd.id',
      'd.version',
      ...DEVICE_COLUMNS.map((c) => `d.${c}`),
      db.raw('CASE WHEN l.id IS NULL THEN 0 ELSE 1 END AS is_lora'),
      ...LORAWAN_COLUMN_NAMES.map((c) => `l.${c}`),
    );
  const tags = await loadTags(db);
  const current = new Map<string, CurrentRecord>();
  for (const row of rows) {
    const id = String(row.id);
    const isLora = toBool(row.is_lora) === true;
    const fields: Record<string, Scalar> = {
      name: toScalar(row.name),
      device_model_id: toScalar(row.device_model_id),
      layer_id: toScalar(row.layer_id),
      is_enabled: toBool(row.is_enabled),
      is_connected: toBool(row.is_connected),
      status_updated_at: toIso(row.status_updated_at),
      last_activity_at: toIso(row.last_activity_at),
      kind: isLora ? 'lora' : 'standard',
      tags: tags.get(id) ?? '{}',
    };
    if (isLora) {
      for (const column of LORAWAN_COLUMN_NAMES) fields[column] = normalizeLorawan(column, row[column]);
    }
    current.set(id, { key: id, version: Number(row.version), fields });
  }
  return current;
}

async function loadTags(db: Knex): Promise<Map<string, string>> {
  const rows: Array<{ device_id: string; name: string; value: string | null }> = await db('device_tag_values').select(
    'device_id',
    'name',
    'value',
  );
  const byDevice = new Map<string, Map<string, string>>();
  for (const row of rows) {
    let tags = byDevice.get(row.device_id);
    if (!tags) byDevice.set(row.device_id, (tags = new Map()));
    tags.set(row.name, row.value ?? '');
  }
  const out = new Map<string, string>();
  for (const [id, tags] of byDevice) out.set(id, canonicalTags(tags));
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
export async function applyDevicesPlan(trx: Knex.Transaction, plan: Plan, client: 'sqlite' | 'postgres'): Promise<ApplyOutcome> {
  const distinct = client === 'sqlite' ? 'IS NOT' : 'IS DISTINCT FROM';
  const liveChanged = DEVICE_LIVE_FIELDS.map((f) => `devices.${f} ${distinct} excluded.${f}`).join(' OR ');
  const versionGate = `devices.version < excluded.version OR (devices.version = excluded.version AND (${liveChanged}))`;

  const writes: DesiredRecord[] = [...plan.create, ...plan.update.map((u) => u.desired)];
  const applied = new Set<string>();
  for (const chunk of chunks(writes, chunkSizeFor(DEVICE_COLUMNS.length + 2))) {
    const returned: Array<{ id: string }> = await trx('devices')
      .insert(chunk.map(deviceRow))
      .onConflict('id')
      .merge([...DEVICE_COLUMNS, 'version'])
      .where(trx.raw(versionGate))
      .returning('id');
    for (const r of returned) applied.add(r.id);
  }

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

  await replaceTags(trx, tagWrites, currentByKey);
  await upsertLorawan(trx, loraWrites);
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

function deviceRow(d: DesiredRecord): Record<string, Scalar> {
  return {
    id: d.key,
    version: d.version,
    name: d.fields.name ?? null,
    device_model_id: d.fields.device_model_id ?? null,
    layer_id: d.fields.layer_id ?? null,
    is_enabled: d.fields.is_enabled ?? true,
    is_connected: d.fields.is_connected ?? false,
    status_updated_at: d.fields.status_updated_at ?? null,
    last_activity_at: d.fields.last_activity_at ?? null,
  };
}

async function replaceTags(trx: Knex.Transaction, writes: DesiredRecord[], existing: ReadonlyMap<string, unknown>): Promise<void> {
  const replaced = writes.filter((d) => existing.has(d.key)).map((d) => d.key);
  for (const chunk of chunks(replaced, 500)) await trx('device_tag_values').whereIn('device_id', chunk).del();
  const rows: Array<{ device_id: string; name: string; value: string }> = [];
  for (const d of writes) {
    const tags = JSON.parse(String(d.fields.tags ?? '{}')) as Record<string, string>;
    for (const [name, value] of Object.entries(tags)) rows.push({ device_id: d.key, name, value });
  }
  for (const chunk of chunks(rows, chunkSizeFor(3))) await trx('device_tag_values').insert(chunk);
}

async function upsertLorawan(trx: Knex.Transaction, writes: DesiredRecord[]): Promise<void> {
  // COALESCE keeps a stored value when the twin does not carry that key (imported by other means).
  const merge = Object.fromEntries(
    LORAWAN_COLUMN_NAMES.map((c) => [c, trx.raw(`COALESCE(excluded.${c}, lorawan_devices.${c})`)]),
  );
  const rows = writes.map((d) => {
    const row: Record<string, Scalar> = { id: d.key };
    for (const c of LORAWAN_COLUMN_NAMES) row[c] = d.fields[c] ?? null;
    return row;
  });
  for (const chunk of chunks(rows, chunkSizeFor(LORAWAN_COLUMN_NAMES.length + 1))) {
    await trx('lorawan_devices').insert(chunk).onConflict('id').merge(merge);
  }
}
