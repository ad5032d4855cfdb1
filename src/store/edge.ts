import type { Knex } from 'knex';
import type { CurrentRecord, DesiredRecord, Plan } from '../reconcile/index.js';
import type { DbClient } from './db.js';
import { applyEntityPlan, entityValidator, loadEntities, tagSet, type ChildSet, type EntityTable } from './entity.js';
import { AZURE_ROWS } from './owners.js';
import { declaredColumns } from './schema.js';
import type { ApplyOutcome } from './types.js';

/** One module of an edge device, as the portal lists it. */
export interface EdgeModule {
  name: string;
  status: string | null;
  version: string | null;
  image: string | null;
}

/** Modules as one comparable value: JSON array sorted by name, fixed key order. */
export function canonicalModules(modules: readonly EdgeModule[]): string {
  const sorted = [...modules].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return JSON.stringify(sorted.map((m) => ({ name: m.name, status: m.status, version: m.version, image: m.image })));
}

const text = (value: unknown): string | null => (value === null || value === undefined ? null : String(value));

const MODULES: ChildSet = {
  field: 'modules',
  noun: 'module',
  table: 'edge_device_modules',
  parentColumn: 'edge_device_id',
  columns: declaredColumns('edge_device_modules', ['name', 'status', 'version', 'image']),
  encode: (rows) => canonicalModules(rows.map((r) => ({ name: String(r.name), status: text(r.status), version: text(r.version), image: text(r.image) }))),
  decode: (value) => (JSON.parse(value) as EdgeModule[]).map((m) => [m.name, m.status, m.version, m.image]),
};

/** Module data lives in module twins, whose changes do not raise the device twin's version. */
export const EDGE_LIVE_FIELDS = ['connection_state', 'is_enabled', 'nb_modules', 'nb_devices', 'modules'] as const;

const EDGE_DEVICES: EntityTable = {
  table: 'edge_devices',
  columns: declaredColumns('edge_devices', ['id', 'version', 'name', 'device_model_id', 'connection_state', 'is_enabled', 'nb_modules', 'nb_devices']),
  liveFields: EDGE_LIVE_FIELDS,
  // Azure's rows only: AWS things imported here (thing_name set) are the `things` command's.
  owner: AZURE_ROWS,
  childSets: [MODULES, tagSet('edge_device_tag_values', 'edge_device_id')],
};

export function loadCurrentEdgeDevices(db: Knex): Promise<Map<string, CurrentRecord>> {
  return loadEntities(db, EDGE_DEVICES);
}

export function applyEdgeDevicesPlan(trx: Knex.Transaction, plan: Plan, client: DbClient): Promise<ApplyOutcome> {
  return applyEntityPlan(trx, client, EDGE_DEVICES, plan);
}

/** Why an edge device record cannot be stored (`labels` name its fields as the twin does), or null. */
export function edgeDeviceValidator(labels: Readonly<Record<string, string>>): (record: DesiredRecord) => string | null {
  return entityValidator(EDGE_DEVICES, labels);
}
