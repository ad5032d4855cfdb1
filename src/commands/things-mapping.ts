import type { EdgeVerdict } from '../providers/aws/edge.js';
import type { RemoteEntry, Scalar } from '../reconcile/index.js';
import type { ThingTable } from '../store/aws-things.js';
import { canonicalTags } from '../store/entity.js';
import type { ModelCatalog, NamedModel } from '../store/models.js';
import type { ThingFact } from '../store/thing-facts.js';

/**
 * The `things` mapping (INVENTORIES.md, AWS, things), pure: what one listed thing becomes, given
 * what the pass learnt of it (its type's edge verdict, its thingId, its classic shadow, its core
 * device's status) and the portal's models. The calls themselves are made in things.ts.
 */

/** What ListThings says of a thing. */
export interface ListedThing {
  readonly name: string;
  readonly typeName: string | null;
  readonly version: number;
  readonly attributes: Readonly<Record<string, string>>;
}

/** A ListThings item as the SDK gives it. */
export interface RawThing {
  readonly thingName?: string | undefined;
  readonly thingTypeName?: string | undefined;
  readonly version?: number | undefined;
  readonly attributes?: Record<string, string> | undefined;
}

/** The listed thing, or why it cannot be used (a thing without a name has no key at all). */
export function readListedThing(raw: RawThing): ListedThing | Extract<RemoteEntry, { kind: 'skipped' }> {
  const name = typeof raw.thingName === 'string' ? raw.thingName : '';
  if (name === '') return { kind: 'skipped', key: '(no thingName)', reason: 'ListThings gave a thing without a name', keyless: true };
  if (typeof raw.version !== 'number' || !Number.isSafeInteger(raw.version)) {
    return { kind: 'skipped', key: name, reason: 'ListThings gave no version for the thing' };
  }
  const typeName = typeof raw.thingTypeName === 'string' && raw.thingTypeName !== '' ? raw.thingTypeName : null;
  const attributes: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw.attributes ?? {})) if (typeof v === 'string') attributes[k] = v;
  return { name, typeName, version: raw.version, attributes };
}

/**
 * Why a thing is skipped before any call about it: no type, or a type no portal model is named
 * after (neither a device model nor an edge device model). Null: its type's edge verdict is needed.
 */
export function typeProblem(thing: ListedThing, catalog: ModelCatalog): string | null {
  if (thing.typeName === null) return 'the thing has no thing type';
  if (!catalog.deviceModels.has(thing.typeName) && !catalog.edgeModels.has(thing.typeName)) {
    return `thing type ${thing.typeName} is unknown to the portal: no device model or edge device model is named ${thing.typeName}`;
  }
  return null;
}

export type Placement = { readonly kind: 'place'; readonly table: ThingTable; readonly modelId: string } | { readonly kind: 'skip'; readonly reason: string };

/**
 * Where a thing of a known type goes: edge types (iotEdge true) to `edge_devices` with the edge
 * device model named like the type; standard types to `devices` with the device model named like
 * it (the one `thing-types` made from that type first, when several share the name).
 */
export function placeThing(typeName: string, verdict: EdgeVerdict, catalog: ModelCatalog): Placement {
  if (verdict.kind === 'unknown') return { kind: 'skip', reason: `thing type ${typeName}: ${verdict.reason}` };
  if (verdict.kind === 'edge') {
    const model = pick(catalog.edgeModels.get(typeName) ?? [], typeName);
    if (model === null) return { kind: 'skip', reason: `thing type ${typeName} is for edge devices, and no edge device model is named ${typeName}` };
    if (model === 'ambiguous') return { kind: 'skip', reason: `several edge device models are named ${typeName}: which one is ambiguous` };
    return { kind: 'place', table: 'edge', modelId: model.id };
  }
  const model = pick(catalog.deviceModels.get(typeName) ?? [], typeName);
  if (model === null) return { kind: 'skip', reason: `thing type ${typeName} is for standard devices, and no device model is named ${typeName}` };
  if (model === 'ambiguous') return { kind: 'skip', reason: `several device models are named ${typeName}: which one is ambiguous` };
  return { kind: 'place', table: 'device', modelId: model.id };
}

function pick(models: readonly NamedModel[], typeName: string): NamedModel | 'ambiguous' | null {
  const fromType = models.filter((m) => m.thingTypeName === typeName);
  const candidates = fromType.length > 0 ? fromType : models;
  if (candidates.length === 0) return null;
  return candidates.length === 1 ? candidates[0]! : 'ambiguous';
}

/**
 * The per-thing calls a thing needs: DescribeThing (its thingId) only when it is new, its version
 * or type moved since the stored facts, or `--full`; GetThingShadow for standard things when it was
 * described again, or never answered (the thing was edge before, or the call failed).
 */
export function callsNeeded(thing: ListedThing, fact: ThingFact | undefined, table: ThingTable, full: boolean): { describe: boolean; shadow: boolean } {
  const describe = full || fact === undefined || fact.version !== thing.version || fact.thingTypeName !== thing.typeName;
  const shadow = table === 'device' && (describe || fact?.hasClassicShadow === null);
  return { describe, shadow };
}

/** Greengrass core device status -> the portal's connection state: HEALTHY is connected, anything else (or no core device) is not. */
export function connectionStateOf(status: string | undefined): 'Connected' | 'Disconnected' {
  return status === 'HEALTHY' ? 'Connected' : 'Disconnected';
}

export interface ThingFacts {
  readonly thing: ListedThing;
  readonly thingId: string;
  readonly placement: Extract<Placement, { kind: 'place' }>;
  /** Standard things: whether the classic shadow exists. */
  readonly hasClassicShadow: boolean | null;
  /** Edge things: the core device's status from ListCoreDevices (undefined: no core device of that name). */
  readonly coreStatus: string | undefined;
}

/**
 * The row of a thing whose facts are all known. Standard: a device, only when its classic shadow
 * exists. Edge: an edge device, connected when its core device is HEALTHY. Both enabled (a thing
 * has no disabled state), named like the thing, tagged with its attributes, marked with its name.
 */
export function thingEntry(f: ThingFacts): RemoteEntry {
  const common = {
    name: f.thing.name,
    device_model_id: f.placement.modelId,
    is_enabled: true,
    thing_name: f.thing.name,
    tags: canonicalTags(f.thing.attributes),
  };
  let fields: Record<string, Scalar>;
  if (f.placement.table === 'device') {
    if (f.hasClassicShadow !== true) return { kind: 'skipped', key: f.thingId, reason: 'the thing has no classic shadow: not imported' };
    fields = { table: 'device', ...common };
  } else {
    fields = { table: 'edge', ...common, connection_state: connectionStateOf(f.coreStatus) };
  }
  return { kind: 'desired', key: f.thingId, version: f.thing.version, fields };
}
