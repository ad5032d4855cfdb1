import type { ThingOfType } from '../providers/aws/client.js';
import type { EdgeVerdict } from '../providers/aws/edge.js';
import type { DesiredRecord, RemoteAction, RemoteEntry } from '../reconcile/index.js';
import { columnCheck, type ColumnSpec } from '../store/schema.js';
import { DEVICE_MODEL_VERSION } from '../store/device-models.js';

export const DEFAULT_DEPRECATION_GRACE_MS = 5 * 60_000;

/** What the pass knows of one thing type: ListThingTypes, DescribeThingType and (non-deprecated types) its edge verdict. */
export interface ThingTypeFacts {
  readonly name: string;
  /** thingTypeId, from DescribeThingType: the device model's id. */
  readonly id: string;
  readonly description: string | null;
  readonly deprecated: boolean;
  readonly deprecationDate: Date | null;
  /** Not asked for deprecated types: they are no device model, edge or not. */
  readonly edge: EdgeVerdict | null;
}

/**
 * What becomes of one type:
 * - `entry`: a device model (desired) or a skip with its reason;
 * - `retire`: deprecated, so no device model (an existing one leaves the portal); past the grace
 *   period it is also deleted in AWS with its dynamic thing group (the remote action).
 */
export type ThingTypeDecision =
  | { readonly kind: 'entry'; readonly entry: RemoteEntry }
  | { readonly kind: 'retire'; readonly key: string; readonly name: string; readonly note: string; readonly action: RemoteAction | null };

export const DELETE_THING_TYPE = 'delete-thing-type';

/** The remote action deleting a type and the dynamic thing group of the same name. */
export function deleteThingTypeAction(name: string): RemoteAction {
  return { kind: DELETE_THING_TYPE, ref: name, description: `delete thing type ${name} in AWS, then its dynamic thing group ${name}` };
}

/** The decision for one type, at `now`, with the deprecation grace period `graceMs` (INVENTORIES.md, thing-types). */
export function decideThingType(facts: ThingTypeFacts, now: number, graceMs: number): ThingTypeDecision {
  if (facts.deprecated) {
    const since = facts.deprecationDate?.getTime();
    if (since === undefined || Number.isNaN(since)) {
      // No date: it cannot be shown to be past the grace period, so it is left in AWS.
      return { kind: 'retire', key: facts.id, name: facts.name, note: 'deprecated (no deprecation date): no longer a device model; left in AWS', action: null };
    }
    const age = now - since;
    if (age > graceMs) {
      return {
        kind: 'retire',
        key: facts.id,
        name: facts.name,
        note: `deprecated ${formatAge(age)} ago, past the ${formatAge(graceMs)} grace period: deleted in AWS`,
        action: deleteThingTypeAction(facts.name),
      };
    }
    return {
      kind: 'retire',
      key: facts.id,
      name: facts.name,
      note: `deprecated ${formatAge(Math.max(0, age))} ago, within the ${formatAge(graceMs)} grace period: no longer a device model; left in AWS`,
      action: null,
    };
  }
  const edge = facts.edge ?? { kind: 'unknown', reason: 'its iotEdge tag was not read' };
  if (edge.kind === 'edge') {
    return { kind: 'entry', entry: { kind: 'skipped', key: facts.id, reason: `thing type ${facts.name} is for edge devices (iotEdge true): not a device model` } };
  }
  if (edge.kind === 'unknown') {
    return { kind: 'entry', entry: { kind: 'skipped', key: facts.id, reason: `thing type ${facts.name}: ${edge.reason}` } };
  }
  return { kind: 'entry', entry: { kind: 'desired', ...deviceModelOf(facts) } };
}

/** The device model row of a standard type: id = thingTypeId, name, description. */
export function deviceModelOf(facts: Pick<ThingTypeFacts, 'id' | 'name' | 'description'>): DesiredRecord {
  return { key: facts.id, version: DEVICE_MODEL_VERSION, fields: { name: facts.name, description: facts.description } };
}

/**
 * A model to create whose id is already a row that no command owns (emulate --seed-models, or the
 * portal before models had an owner) adopts that row: the entry says so, as a warning on the record,
 * so the dry run and `history --ref` show it. Other entries pass through as they are.
 */
export function adopting(entry: RemoteEntry, unowned: ReadonlySet<string>): RemoteEntry {
  if (entry.kind !== 'desired' || !unowned.has(entry.key)) return entry;
  const message =
    `adopts the existing device model ${entry.key}, which no command owned: thing-types sets its name and description ` +
    'and owns it from now on (its LoRa flag is kept)';
  return { ...entry, warnings: [...(entry.warnings ?? []), message] };
}

/** The reason a model that devices still use is kept (and its type, when deprecated, left in AWS). */
export function keptForDevices(name: string | null, devices: number, why: string): string {
  const used = `still used by ${devices} device${devices === 1 ? '' : 's'}`;
  return name === null ? `${why}, but ${used}: not deleted` : `thing type ${name} ${why}, but the model is ${used}: not deleted, and the type is not deleted in AWS either`;
}

/**
 * A long-deprecated type that things still have is not deleted in AWS: AWS refuses ("You cannot
 * delete a thing type if it has things associated with it", DeleteThingType), and would every pass.
 * A skip, not a failure: nothing went wrong, the pass just cannot do it, and exit 3 on every pass
 * until someone retypes the things would only teach people to ignore exit 3. Its ref is the type's
 * name, as its deletion's is, not its model's id: the model leaves the portal as for any deprecated
 * type (a skip under the model's id would keep it).
 */
export function keptForThings(facts: Pick<ThingTypeFacts, 'name' | 'deprecationDate'>, now: number, thing: ThingOfType): RemoteEntry {
  const used = thing.more ? `1+ things still have this type (e.g. ${thing.name})` : `1 thing still has this type (${thing.name})`;
  return {
    kind: 'skipped',
    key: facts.name,
    reason: `thing type ${facts.name}, ${deprecatedAgo(facts, now)}, but ${used}: AWS refuses to delete it; retype or delete ${thing.more ? 'those things' : 'that thing'} first`,
  };
}

/**
 * Whether things still have a long-deprecated type could not be read: its deletion is not planned
 * (the safe side), and the pass is partial. Under the type's name, as {@link keptForThings}.
 */
export function thingCheckFailed(facts: Pick<ThingTypeFacts, 'name' | 'deprecationDate'>, now: number, error: string): RemoteEntry {
  return {
    kind: 'failed',
    key: facts.name,
    error: `thing type ${facts.name}, ${deprecatedAgo(facts, now)}, is not deleted in AWS: whether things still have it could not be read: ${error}`,
  };
}

function deprecatedAgo(facts: Pick<ThingTypeFacts, 'deprecationDate'>, now: number): string {
  const since = facts.deprecationDate?.getTime();
  return since === undefined || Number.isNaN(since) ? 'deprecated' : `deprecated ${formatAge(Math.max(0, now - since))} ago`;
}

/** `device_models` columns: id and name are varchar(255) (migration 001), the description is text. */
const KEY: ColumnSpec = { type: 'string', length: 255 };
const TEXT: ColumnSpec = { type: 'text' };

/** Why a device model record cannot be stored, or null. */
export function deviceModelProblem(record: DesiredRecord): string | null {
  const id = columnCheck(KEY)(record.key);
  if (id) return `thingTypeId ${id}`;
  const name = columnCheck(KEY)(record.fields.name);
  if (name) return `thingTypeName ${name}`;
  const description = columnCheck(TEXT)(record.fields.description);
  return description ? `description ${description}` : null;
}

function formatAge(ms: number): string {
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 1) return `${Math.floor(ms / 1000)} s`;
  if (minutes < 120) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return hours < 48 ? `${hours} h` : `${Math.floor(hours / 24)} days`;
}
