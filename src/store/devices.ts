import type { Knex } from 'knex';
import type { CurrentRecord, DesiredRecord, Plan, Scalar } from '../reconcile/index.js';
import type { DbClient } from './db.js';
import { applyEntityPlan, entityValidator, loadEntities, normalize, tagSet, type EntityExtension, type EntityTable } from './entity.js';
import { chunks, mapLazily } from './rows.js';
import { AZURE_ROWS } from './owners.js';
import { DECLARED, declaredColumns } from './schema.js';
import { insertRows, quote } from './sql.js';
import type { ApplyOutcome } from './types.js';

/** Columns of `lorawan_devices` besides `id`: what they hold is declared in migrations/columns.cjs. */
export const LORAWAN_COLUMN_NAMES = Object.keys(DECLARED.lorawan_devices!).filter((c) => c !== 'id');
export const LORAWAN_SECRET_COLUMNS: readonly string[] = ['app_key', 'app_s_key', 'nwk_s_key'];

/** Bulk-insert column lists: `id`, `version`, then columns named like the plan's fields. */
const DEVICE_TABLE = declaredColumns('devices', [
  'id',
  'version',
  'name',
  'device_model_id',
  'layer_id',
  'is_enabled',
  'is_connected',
  'status_updated_at',
  'last_activity_at',
]);
const LORAWAN_TABLE = declaredColumns('lorawan_devices', ['id', ...LORAWAN_COLUMN_NAMES]);

/** Fields that move without a twin version bump. */
export const DEVICE_LIVE_FIELDS = ['is_connected', 'is_enabled', 'status_updated_at', 'last_activity_at'] as const;

/** A LoRaWAN device's row in `lorawan_devices`, read and written with its device. */
const LORAWAN: EntityExtension = {
  columns: LORAWAN_TABLE.slice(1),
  async load(db, first, last) {
    const lorawan = new Map<string, Record<string, unknown>>();
    const rows: Array<Record<string, unknown>> = await db('lorawan_devices').whereBetween('id', [first, last]).select('*');
    for (const row of rows) lorawan.set(String(row.id), row);
    return (id, fields) => {
      const lora = lorawan.get(id);
      fields.kind = lora ? 'lora' : 'standard';
      if (lora) for (const column of LORAWAN_TABLE.slice(1)) fields[column.name] = normalize(column, lora[column.name]);
    };
  },
  write: writeLorawanRows,
};

const DEVICES: EntityTable = {
  table: 'devices',
  columns: DEVICE_TABLE,
  liveFields: DEVICE_LIVE_FIELDS,
  // Azure's rows only: AWS things imported here (thing_name set) are the `things` command's.
  owner: AZURE_ROWS,
  childSets: [tagSet('device_tag_values', 'device_id')],
  extension: LORAWAN,
};

/** The portal's devices as plan records, with `kind` and the LoRaWAN columns of LoRa devices. */
export function loadCurrentDevices(db: Knex): Promise<Map<string, CurrentRecord>> {
  return loadEntities(db, DEVICES);
}

/** Why a device record cannot be stored (`labels` name its fields as the twin does), or null. */
export function deviceValidator(labels: Readonly<Record<string, string>>): (record: DesiredRecord) => string | null {
  return entityValidator(DEVICES, labels);
}

/** Applies a devices plan inside `trx`: the shared entity apply, LoRaWAN rows included. */
export function applyDevicesPlan(trx: Knex.Transaction, plan: Plan, client: DbClient): Promise<ApplyOutcome> {
  return applyEntityPlan(trx, client, DEVICES, plan);
}

/** Writes, changes kind of, or removes the LoRaWAN rows of devices just written. */
async function writeLorawanRows(
  db: Knex.Transaction,
  client: DbClient,
  written: readonly DesiredRecord[],
  stored: ReadonlyMap<string, CurrentRecord>,
): Promise<void> {
  const loraWrites: DesiredRecord[] = [];
  const loraRemovals: string[] = [];
  for (const desired of written) {
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
  await insertRows(db, client, 'lorawan_devices', LORAWAN_TABLE, rows, { upsert: { target: ['id'], set } });
  for (const chunk of chunks(loraRemovals, 500)) await db('lorawan_devices').whereIn('id', chunk).del();
}

function lorawanDiffers(stored: CurrentRecord, desired: DesiredRecord, column: string): boolean {
  const next = desired.fields[column];
  return next !== undefined && next !== (stored.fields[column] ?? null);
}
