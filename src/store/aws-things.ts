import type { Knex } from 'knex';
import type { CurrentRecord, DesiredRecord, Plan, PlannedUpdate } from '../reconcile/index.js';
import type { DbClient } from './db.js';
import { applyEntityPlan, entityValidator, loadEntities, tagSet, type EntityTable } from './entity.js';
import { AWS_THING_ROWS } from './owners.js';
import { declaredColumns } from './schema.js';
import type { ApplyOutcome } from './types.js';

/**
 * The rows `things` imports from AWS IoT: standard things in `devices`, Greengrass core devices in
 * `edge_devices`, both keyed by thingId and marked with their thing name (the owner mark: only
 * rows with a thing name are loaded, written or deleted here; owners.ts).
 *
 * One inventory over two tables: every plan record carries the field `table` ('device' | 'edge')
 * saying where its row lives. A thing whose type switched between standard and edge is an update
 * whose `table` changed: its row is written into the new table and removed from the old one, in
 * the pass's transaction.
 */
export type ThingTable = 'device' | 'edge';
export const TABLE_FIELD = 'table';

/**
 * Columns written: a standard thing has no connection state in the listing (is_connected keeps its
 * default, false) and no layer; an edge device's module counts keep their default 0 (Greengrass
 * components are not read: that would be a call per core device).
 */
const THING_DEVICES: EntityTable = {
  table: 'devices',
  columns: declaredColumns('devices', ['id', 'version', 'name', 'device_model_id', 'is_enabled', 'thing_name']),
  // The model follows the portal's models (a model re-created by `thing-types`), not the thing's version.
  liveFields: ['device_model_id'],
  childSets: [tagSet('device_tag_values', 'device_id')],
  owner: AWS_THING_ROWS,
  deletesFirst: true,
};

const THING_EDGES: EntityTable = {
  table: 'edge_devices',
  columns: declaredColumns('edge_devices', ['id', 'version', 'name', 'device_model_id', 'connection_state', 'is_enabled', 'thing_name']),
  liveFields: ['connection_state', 'device_model_id'],
  childSets: [tagSet('edge_device_tag_values', 'edge_device_id')],
  owner: AWS_THING_ROWS,
  deletesFirst: true,
};

const SPECS: Record<ThingTable, EntityTable> = { device: THING_DEVICES, edge: THING_EDGES };

/** Fields whose change updates a row at the same thing version (the plan's live fields). */
export const THING_LIVE_FIELDS = [TABLE_FIELD, 'device_model_id', 'connection_state'] as const;

export function tableOf(fields: Readonly<Record<string, unknown>>): ThingTable {
  return fields[TABLE_FIELD] === 'edge' ? 'edge' : 'device';
}

/**
 * The rows `things` owns in both tables, as one map keyed by thingId. A key in both tables (which
 * this command never leaves behind: a switch is one transaction) keeps its device row; the edge row
 * is rewritten or removed with it by the next switch.
 */
export async function loadCurrentThings(db: Knex): Promise<Map<string, CurrentRecord>> {
  const current = new Map<string, CurrentRecord>();
  for (const table of ['edge', 'device'] as const) {
    for (const [key, record] of await loadEntities(db, SPECS[table])) {
      current.set(key, { ...record, fields: { ...record.fields, [TABLE_FIELD]: table } });
    }
  }
  return current;
}

/** Why a thing's row cannot be stored (fields named as AWS names them), or null. */
export function thingValidator(): (record: DesiredRecord) => string | null {
  const labels = { id: 'thingId', name: 'thingName', thing_name: 'thingName', tags: 'attributes' };
  const device = entityValidator(THING_DEVICES, labels);
  const edge = entityValidator(THING_EDGES, labels);
  return (record) => (tableOf(record.fields) === 'edge' ? edge(record) : device(record));
}

interface SubPlan {
  create: DesiredRecord[];
  update: PlannedUpdate[];
  delete: CurrentRecord[];
}

const emptySub = (): SubPlan => ({ create: [], update: [], delete: [] });

function asPlan(sub: SubPlan, plan: Plan): Plan {
  return { ...plan, create: sub.create, update: sub.update, delete: sub.delete };
}

/**
 * Applies a things plan inside `trx`: the plan split by table, each part through the shared entity
 * apply (owner-scoped, version re-checked). A switched thing is created in its new table first; its
 * old row is removed only once the new one was written, so a refused write never loses the row.
 */
export async function applyThingsPlan(trx: Knex.Transaction, plan: Plan, client: DbClient): Promise<ApplyOutcome> {
  const subs: Record<ThingTable, SubPlan> = { device: emptySub(), edge: emptySub() };
  const switched = new Map<string, PlannedUpdate>();
  for (const c of plan.create) subs[tableOf(c.fields)].create.push(c);
  for (const u of plan.update) {
    const to = tableOf(u.desired.fields);
    if (to === tableOf(u.current.fields)) subs[to].update.push(u);
    else {
      subs[to].create.push(u.desired);
      switched.set(u.desired.key, u);
    }
  }
  for (const d of plan.delete) subs[tableOf(d.fields)].delete.push(d);

  const outcomes: ApplyOutcome[] = [];
  for (const table of ['device', 'edge'] as const) outcomes.push(await applyEntityPlan(trx, client, SPECS[table], asPlan(subs[table], plan)));
  const written = new Set(outcomes.flatMap((o) => o.created));
  const leaving: Record<ThingTable, SubPlan> = { device: emptySub(), edge: emptySub() };
  for (const [key, u] of switched) if (written.has(key)) leaving[tableOf(u.current.fields)].delete.push(u.current);
  const left: ApplyOutcome[] = [];
  for (const table of ['device', 'edge'] as const) {
    if (leaving[table].delete.length > 0) left.push(await applyEntityPlan(trx, client, SPECS[table], asPlan(leaving[table], plan)));
  }

  const all = [...outcomes, ...left];
  const created = outcomes.flatMap((o) => o.created);
  return {
    created: created.filter((k) => !switched.has(k)),
    // A switched thing was created in its new table: for the plan, it is the update it was planned as.
    updated: [...outcomes.flatMap((o) => o.updated), ...created.filter((k) => switched.has(k))],
    deleted: outcomes.flatMap((o) => o.deleted),
    // The old row of a switched thing changed meanwhile (another writer): it stays, reported as a conflict.
    conflicts: [...new Set(all.flatMap((o) => o.conflicts))],
    failed: all.flatMap((o) => o.failed),
  };
}
