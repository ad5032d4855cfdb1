import type { ThingTypeDefinition } from '@aws-sdk/client-iot';
import type { AwsConfig } from '../config.js';
import type { AwsIot } from '../providers/aws/client.js';
import { mapConcurrent } from '../providers/concurrency.js';
import { ApiCallCounter, ProviderError } from '../providers/errors.js';
import type { CurrentRecord, RemoteAction, RemoteEntry } from '../reconcile/index.js';
import type { ActionContext, Inventory, RemoteContext } from '../run/inventory.js';
import type { Logger } from '../run/log.js';
import { applyDeviceModelsPlan, DEVICE_MODEL_FIELDS, deviceCountsByModel, loadCurrentDeviceModels, unownedDeviceModelIds } from '../store/device-models.js';
import { awsClient, nameField } from './aws-source.js';
import { adopting, decideThingType, DELETE_THING_TYPE, deviceModelProblem, keptForDevices, keptForThings, thingCheckFailed, type ThingTypeFacts } from './thing-types-mapping.js';

export interface ThingTypesOptions {
  /** A type deprecated longer ago than this is deleted in AWS (--deprecation-grace). */
  readonly graceMs: number;
  /** The time the grace period is measured against; tests set it. */
  readonly now?: () => number;
}

/**
 * AWS IoT thing types -> `device_models`: standard, non-deprecated types are device models; edge
 * types and types whose `iotEdge` tag does not say are skipped with the reason; types deprecated
 * past the grace period are deleted in AWS (a remote action) with their dynamic thing group. A
 * model that devices still use is never deleted, and neither is its type; nor is a type that things
 * still have in AWS (AWS would refuse: skipped with the reason, its model leaving all the same).
 *
 * Its models are the rows it wrote (thing_type_name set): the Azure fleet's and the portal's own
 * models are never loaded, so never updated or deleted. An unowned row whose id is a standard type's
 * thingTypeId is adopted by the create of that model (store/device-models.ts), with a warning.
 */
export function thingTypesInventory(aws: AwsConfig, options: ThingTypesOptions): Inventory {
  const calls = new ApiCallCounter();
  const now = options.now ?? Date.now;
  let client: AwsIot | null = null;
  const clientFor = (log: Logger) => (client ??= awsClient(aws, calls, log));
  let stored = new Map<string, CurrentRecord>();
  const typeNames = new Map<string, string>();
  return {
    command: 'thing-types',
    noun: 'device model',
    calls,
    versioned: false,
    nameOf: (key) => typeNames.get(key) ?? nameField(stored.get(key)),
    // No version column: name and description are compared as live fields at a constant version.
    policy: { liveFields: DEVICE_MODEL_FIELDS, secretFields: [] },
    async *remote(ctx: RemoteContext): AsyncIterable<RemoteEntry[]> {
      const iot = clientFor(ctx.log);
      const usage = await deviceCountsByModel(ctx.db);
      // Read at planning time for the warning only: the insert re-checks ownership when it adopts.
      const unowned = await unownedDeviceModelIds(ctx.db);
      const listed = new Set<string>();
      for await (const page of iot.listThingTypes()) {
        const facts = await mapConcurrent(page, aws.concurrency, (type) => factsOf(iot, type));
        const verdicts = await mapConcurrent(facts, aws.concurrency, async (fact) => ('error' in fact ? null : judge(iot, fact, usage, now(), options.graceMs)));
        const entries: RemoteEntry[] = [];
        facts.forEach((fact, i) => {
          if ('error' in fact) {
            // The type exists but could not be read: its model (whatever its id) must not be deleted.
            ctx.markIncomplete(`thing type ${fact.name} could not be read`);
            entries.push({ kind: 'failed', key: fact.name, error: fact.error });
            return;
          }
          listed.add(fact.id);
          typeNames.set(fact.id, fact.name);
          const verdict = verdicts[i]!;
          if (verdict.note !== null) ctx.log.info(`thing type ${fact.name} ${verdict.note}`);
          // Planned here, in listing order, not as the concurrent checks end: the plan is the same every pass.
          if (verdict.action !== null) ctx.planAction(verdict.action);
          entries.push(...verdict.entries.map((entry) => adopting(entry, unowned)));
        });
        yield entries;
      }
      // The listing is complete: models without a live type go, unless devices still use them.
      const kept: RemoteEntry[] = [];
      for (const key of stored.keys()) {
        const devices = usage.get(key) ?? 0;
        if (!listed.has(key) && devices > 0) kept.push({ kind: 'skipped', key, reason: keptForDevices(null, devices, 'no live thing type has this id') });
      }
      if (kept.length > 0) yield kept;
    },
    validate: deviceModelProblem,
    async loadCurrent(db) {
      stored = await loadCurrentDeviceModels(db);
      return stored;
    },
    apply: applyDeviceModelsPlan,
    performAction: (action: RemoteAction, ctx: ActionContext) => deleteThingType(clientFor(ctx.log), action),
  };
}

/** What one readable type brings to the plan: its entries, the deletion in AWS it plans, a line for the log. */
interface Verdict {
  readonly entries: RemoteEntry[];
  readonly action: RemoteAction | null;
  readonly note: string | null;
}

/**
 * The verdict on one readable type. A deprecated one is no device model (its model, not listed,
 * leaves the portal); past the grace period its deletion in AWS is planned, unless devices still
 * use its model, or things still have the type in AWS, which refuses to delete it then: asked with
 * one ListThings call, made for such a type only.
 */
async function judge(iot: AwsIot, fact: ThingTypeFacts, usage: ReadonlyMap<string, number>, now: number, graceMs: number): Promise<Verdict> {
  const decision = decideThingType(fact, now, graceMs);
  if (decision.kind === 'entry') return { entries: [decision.entry], action: null, note: null };
  const devices = usage.get(decision.key) ?? 0;
  if (devices > 0) return { entries: [{ kind: 'skipped', key: decision.key, reason: keptForDevices(fact.name, devices, 'is deprecated') }], action: null, note: null };
  if (decision.action === null) return { entries: [], action: null, note: decision.note };
  try {
    const thing = await iot.thingOfType(fact.name);
    if (thing !== null) return { entries: [keptForThings(fact, now, thing)], action: null, note: null };
  } catch (error) {
    if (isPassWide(error)) throw error;
    return { entries: [thingCheckFailed(fact, now, error instanceof Error ? error.message : String(error))], action: null, note: null };
  }
  return { entries: [], action: decision.action, note: decision.note };
}

/** Refused credentials or an unreachable AWS: no other type would escape it, so the listing ends. */
function isPassWide(error: unknown): boolean {
  return error instanceof ProviderError && (error.kind === 'auth' || error.kind === 'unreachable' || error.kind === 'timeout');
}

type Facts = ThingTypeFacts | { readonly name: string; readonly error: string };

/**
 * What a type is, from the listing and DescribeThingType (its id), plus its edge verdict when it is
 * not deprecated. A failure of this one type is its own (the others go on), except refused
 * credentials or an unreachable AWS, which no other type would escape: those end the listing.
 */
async function factsOf(iot: AwsIot, type: ThingTypeDefinition): Promise<Facts> {
  const name = type.thingTypeName ?? '';
  try {
    if (name === '') throw new ProviderError('aws', 'protocol', 'ListThingTypes gave a type without a name');
    const described = await iot.describeThingType(name);
    if (!described.thingTypeId) throw new ProviderError('aws', 'protocol', `DescribeThingType gave no thingTypeId for ${name}`);
    const metadata = described.thingTypeMetadata ?? type.thingTypeMetadata ?? {};
    const properties = described.thingTypeProperties ?? type.thingTypeProperties ?? {};
    const deprecated = metadata.deprecated === true;
    return {
      name,
      id: described.thingTypeId,
      description: properties.thingTypeDescription ?? null,
      deprecated,
      deprecationDate: metadata.deprecationDate ?? null,
      edge: deprecated ? null : await iot.thingTypeEdge(name),
    };
  } catch (error) {
    if (isPassWide(error)) throw error;
    return { name: name || '(no name)', error: error instanceof Error ? error.message : String(error) };
  }
}

/** The remote action: the type, then its dynamic thing group (none of that name is not a failure). */
async function deleteThingType(iot: AwsIot, action: RemoteAction): Promise<string> {
  if (action.kind !== DELETE_THING_TYPE) throw new Error(`thing-types cannot carry out a ${action.kind} action`);
  const type = await iot.deleteThingType(action.ref);
  const group = await iot.deleteDynamicThingGroup(action.ref);
  return [
    type === 'deleted' ? 'thing type deleted' : 'the thing type was gone already',
    group === 'deleted' ? 'dynamic thing group deleted' : 'no dynamic thing group of that name',
  ].join('; ');
}
