import type { Knex } from 'knex';
import type { CurrentRecord, DesiredRecord, Plan, Scalar } from '../reconcile/index.js';
import type { DbClient } from './db.js';
import { applyEntityPlan, loadEntities, mapLazily, normalize, tagSet, type EntityTable } from './entity.js';
import { chunks } from './rows.js';
import { columns, insertRows, quote } from './sql.js';
import type { ApplyOutcome } from './types.js';

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

/** Bulk-insert column lists: `id`, `version`, then columns named like the plan's fields. */
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
const PG_TYPES = { string: 'text', integer: 'integer', boolean: 'boolean' } as const;
const LORAWAN_TABLE = columns({
  id: 'text',
  ...Object.fromEntries(LORAWAN_COLUMN_NAMES.map((c) => [c, PG_TYPES[LORAWAN_COLUMNS[c]]])),
});

/** Fields that move without a twin version bump. */
export const DEVICE_LIVE_FIELDS = ['is_connected', 'is_enabled', 'status_updated_at', 'last_activity_at'] as const;

const DEVICES: EntityTable = {
  table: 'devices',
  columns: DEVICE_TABLE,
  liveFields: DEVICE_LIVE_FIELDS,
  childSets: [tagSet('device_tag_values', 'device_id')],
};

/** The portal's devices as plan records, with `kind` and the LoRaWAN columns of LoRa devices. */
export function loadCurrentDevices(db: Knex): Promise<Map<string, CurrentRecord>> {
  return loadEntities(db, DEVICES, async (db, first, last) => {
    const lorawan = new Map<string, Record<string, unknown>>();
    const rows: Array<Record<string, unknown>> = await db('lorawan_devices').whereBetween('id', [first, last]).select('*');
    for (const row of rows) lorawan.set(String(row.id), row);
    return (id, fields) => {
      const lora = lorawan.get(id);
      fields.kind = lora ? 'lora' : 'standard';
      if (lora) for (const column of LORAWAN_TABLE.slice(1)) fields[column.name] = normalize(column, lora[column.name]);
    };
  });
}


/** Applies a devices plan inside `trx`: the shared entity apply, then the LoRaWAN rows of the devices written. */
export async function applyDevicesPlan(trx: Knex.Transaction, plan: Plan, client: DbClient): Promise<ApplyOutcome> {
  const { outcome, applied } = await applyEntityPlan(trx, client, DEVICES, plan);
  const stored = new Map(plan.update.map((u) => [u.desired.key, u.current]));
  const loraWrites: DesiredRecord[] = [];
  const loraRemovals: string[] = [];
  for (const desired of [...plan.create, ...plan.update.map((u) => u.desired)]) {
    if (!applied.has(desired.key)) continue;
    const current = stored.get(desired.key);
    if (desired.fields.kind === 'lora') {
      if (!current || current.fields.kind !== 'lora' || LORAWAN_COLUMN_NAMES.some((c) => lorawanDiffers(current, desired, c))) {
        loraWrites.push(desired);
      }
    } else if (current?.fields.kind === 'lora') {
      loraRemovals.push(desired.key);
    }
  }
  // COALESCE keeps a stored value when the twin does not carry that key (imported by other means).
  const set = Object.fromEntries(LORAWAN_COLUMN_NAMES.map((c) => [c, `COALESCE(excluded.${quote(c)}, lorawan_devices.${quote(c)})`]));
  const rows = mapLazily(loraWrites, (d) => [d.key, ...LORAWAN_COLUMN_NAMES.map((c) => d.fields[c] ?? null)]);
  await insertRows(trx, client, 'lorawan_devices', LORAWAN_TABLE, rows, { upsert: { target: ['id'], set } });
  for (const chunk of chunks(loraRemovals, 500)) await trx('lorawan_devices').whereIn('id', chunk).del();
  return outcome;
}

function lorawanDiffers(stored: CurrentRecord, desired: DesiredRecord, column: string): boolean {
  const next = desired.fields[column];
  return next !== undefined && next !== (stored.fields[column] ?? null);
}
