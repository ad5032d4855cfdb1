import type { AwsConfig } from '../config.js';
import type { AwsIot } from '../providers/aws/client.js';
import { mapConcurrent } from '../providers/concurrency.js';
import type { EdgeVerdict } from '../providers/aws/edge.js';
import { ApiCallCounter, ProviderError } from '../providers/errors.js';
import { readAhead } from '../providers/read-ahead.js';
import type { CurrentRecord, RemoteEntry } from '../reconcile/index.js';
import type { Inventory, RemoteContext } from '../run/inventory.js';
import type { Logger } from '../run/log.js';
import { applyThingsPlan, loadCurrentThings, THING_LIVE_FIELDS, thingValidator } from '../store/aws-things.js';
import { loadModelCatalog, type ModelCatalog } from '../store/models.js';
import { deleteThingFacts, loadThingFacts, writeThingFacts, type ThingFact } from '../store/thing-facts.js';
import { awsClient } from './aws-source.js';
import { callsNeeded, placeThing, readListedThing, thingEntry, typeProblem, type ListedThing, type RawThing } from './things-mapping.js';

export interface ThingsOptions {
  /** Ask DescribeThing and GetThingShadow for every thing, not only new or changed ones (--full). */
  readonly full: boolean;
}

/** Core device status by thing name, or why ListCoreDevices could not be read to its end. */
type CoreDevices = { readonly status: ReadonlyMap<string, string> } | { readonly error: string };

/**
 * AWS IoT things -> `devices` (standard types) and `edge_devices` (edge types), rows keyed by thingId
 * and marked with the thing name (the rows this command owns; Azure's are never touched).
 *
 * Calls per pass: the ListThings pages; per thing type, once (cached by the client), its edge
 * verdict; ListCoreDevices over all pages once, when the first edge thing needs it; and per thing,
 * DescribeThing (+ GetThingShadow for standard things) only when it is new or its version moved
 * since the facts stored by an earlier pass (`--full`: every thing), at most --concurrency at once.
 * The facts learnt are written in the pass's transaction: a dry run or a failed pass stores none.
 */
export function thingsInventory(aws: AwsConfig, options: ThingsOptions): Inventory {
  const calls = new ApiCallCounter();
  let client: AwsIot | null = null;
  const clientFor = (log: Logger) => (client ??= awsClient(aws, calls, log));
  let idByName = new Map<string, string>();
  // What this pass learnt, written by apply(); and what it listed, to forget vanished things' facts.
  let learnt: ThingFact[] = [];
  let storedFacts = new Map<string, ThingFact>();
  const listed = new Set<string>();
  let listedAll = false;
  let names: Map<string, string> | null = null;

  return {
    command: 'things',
    noun: 'thing',
    calls,
    policy: { liveFields: THING_LIVE_FIELDS, secretFields: [] },
    // Read once the pass is over, when every thingId it met is known with its name.
    nameOf(key) {
      names ??= new Map([
        ...[...idByName].map(([name, id]): [string, string] => [id, name]),
        ...[...storedFacts.values(), ...learnt].map((f): [string, string] => [f.thingId, f.thingName]),
      ]);
      return names.get(key) ?? null;
    },
    async *remote(ctx: RemoteContext): AsyncIterable<RemoteEntry[]> {
      const iot = clientFor(ctx.log);
      const catalog = await loadModelCatalog(ctx.db);
      storedFacts = await loadThingFacts(ctx.db);
      let cores: Promise<CoreDevices> | null = null;
      const coreDevices = () =>
        (cores ??= readCoreDevices(iot).then((result) => {
          if ('error' in result) ctx.markIncomplete(`Greengrass core devices not listed (${result.error}): edge things failed`);
          return result;
        }));
      const judge = (raw: RawThing) => judgeThing(raw, { iot, catalog, facts: storedFacts, idByName, full: options.full, coreDevices, learnt, listed });
      try {
        // The next ListThings page comes while this page's per-thing calls run.
        for await (const page of readAhead(iot.listThings())) {
          yield await mapConcurrent(page, aws.concurrency, judge);
        }
        listedAll = true;
      } finally {
        await iot.close();
      }
    },
    validate: thingValidator(),
    async loadCurrent(db) {
      const current = await loadCurrentThings(db);
      idByName = namesOf(current);
      return current;
    },
    async apply(trx, plan, dbClient) {
      const outcome = await applyThingsPlan(trx, plan, dbClient);
      await writeThingFacts(trx, dbClient, learnt);
      // Only a listing read to its end says which things are gone.
      if (listedAll) await deleteThingFacts(trx, [...storedFacts.keys()].filter((name) => !listed.has(name)));
      return outcome;
    },
  };
}

function namesOf(current: ReadonlyMap<string, CurrentRecord>): Map<string, string> {
  const out = new Map<string, string>();
  for (const record of current.values()) {
    const name = record.fields.thing_name;
    if (typeof name === 'string') out.set(name, record.key);
  }
  return out;
}

interface JudgeContext {
  readonly iot: AwsIot;
  readonly catalog: ModelCatalog;
  readonly facts: ReadonlyMap<string, ThingFact>;
  readonly idByName: ReadonlyMap<string, string>;
  readonly full: boolean;
  coreDevices(): Promise<CoreDevices>;
  readonly learnt: ThingFact[];
  readonly listed: Set<string>;
}

/**
 * One listed thing -> its entry. A failure of this thing's own calls is its own (failed, never
 * deleted; the others go on), except refused credentials or an unreachable AWS, which no other
 * thing would escape: those end the listing. Skips and failures are keyed by the thingId when one is
 * known (so the stored row is kept), else by the thing name.
 */
async function judgeThing(raw: RawThing, ctx: JudgeContext): Promise<RemoteEntry> {
  const thing = readListedThing(raw);
  if ('kind' in thing) return thing;
  ctx.listed.add(thing.name);
  const fact = ctx.facts.get(thing.name);
  const knownKey = ctx.idByName.get(thing.name) ?? fact?.thingId ?? thing.name;
  const problem = typeProblem(thing, ctx.catalog);
  if (problem !== null) return { kind: 'skipped', key: knownKey, reason: problem };
  const typeName = thing.typeName!;
  let verdict: EdgeVerdict;
  try {
    verdict = await ctx.iot.thingTypeEdge(typeName);
  } catch (error) {
    return failure(knownKey, `the edge verdict of thing type ${typeName} could not be read: ${messageOf(error)}`, error);
  }
  const placement = placeThing(typeName, verdict, ctx.catalog);
  if (placement.kind === 'skip') return { kind: 'skipped', key: knownKey, reason: placement.reason };

  let coreStatus: string | undefined;
  if (placement.table === 'edge') {
    const cores = await ctx.coreDevices();
    // Not guessed disconnected: the thing fails and its row stays as it is.
    if ('error' in cores) return { kind: 'failed', key: knownKey, error: `its core device status was not read: ${cores.error}` };
    coreStatus = cores.status.get(thing.name);
  }

  const need = callsNeeded(thing, fact, placement.table, ctx.full);
  let thingId = need.describe ? null : fact!.thingId;
  let hasClassicShadow = need.describe ? null : fact!.hasClassicShadow;
  try {
    if (thingId === null) thingId = await describeThingId(ctx.iot, thing.name);
    if (need.shadow) hasClassicShadow = await ctx.iot.hasClassicShadow(thing.name);
  } catch (error) {
    // What was learnt is kept (a thingId): the next pass asks only what is still missing.
    if (thingId !== null) ctx.learnt.push(factOf(thing, thingId, hasClassicShadow));
    return failure(thingId ?? knownKey, messageOf(error), error);
  }
  if (need.describe || need.shadow) ctx.learnt.push(factOf(thing, thingId, hasClassicShadow));
  return thingEntry({ thing, thingId, placement, hasClassicShadow, coreStatus });
}

function factOf(thing: ListedThing, thingId: string, hasClassicShadow: boolean | null): ThingFact {
  return { thingName: thing.name, thingId, version: thing.version, thingTypeName: thing.typeName, hasClassicShadow };
}

async function describeThingId(iot: AwsIot, name: string): Promise<string> {
  const described = await iot.describeThing(name);
  if (!described.thingId) throw new ProviderError('aws', 'protocol', `AWS DescribeThing (thing ${name}) gave no thingId`);
  return described.thingId;
}

/** A failed thing, unless the failure is one every other call would meet too: then the listing ends. */
function failure(key: string, message: string, error: unknown): RemoteEntry {
  if (error instanceof ProviderError && (error.kind === 'auth' || error.kind === 'unreachable')) throw error;
  return { kind: 'failed', key, error: message };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Every page of ListCoreDevices, once per pass: each core device's status by its thing name. */
async function readCoreDevices(iot: AwsIot): Promise<CoreDevices> {
  const status = new Map<string, string>();
  try {
    for await (const page of iot.listCoreDevices()) {
      for (const core of page) if (core.coreDeviceThingName) status.set(core.coreDeviceThingName, core.status ?? '');
    }
  } catch (error) {
    // Even refused credentials (an IAM policy without greengrass:ListCoreDevices) fail only the edge
    // things: the standard ones do not need Greengrass and go on.
    return { error: messageOf(error) };
  }
  return { status };
}
