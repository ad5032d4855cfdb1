/**
 * Deterministic generator of AWS fleets (the fixture's `aws` section) for benchmarks and demos.
 *
 * Spec: comma-separated `key=integer`, every key optional:
 *   things       things (default 0): `thing-000001`.. standard, `core-000001`.. edge
 *   thingTypes   thing types every thing is spread over (default 4, at most `things` when things > 0)
 *   edge         how many of `things` are Greengrass core devices (default 0, <= things)
 *   deployments  Greengrass deployments (default: one per edge type)
 * What it builds:
 *   - standard types `type-01`.. tagged `iotEdge=false`, edge types `edge-type-01`.. tagged
 *     `iotEdge=true`; edge types get their share of the T types (T·E/N rounded, at least one of each
 *     kind when there are both kinds of thing);
 *   - every thing has a type (round robin within its kind), a version 1..5 and attributes
 *     `site`/`building`; standard things have a classic shadow, edge things a core device (90%
 *     HEALTHY);
 *   - fleet indexing says 75% of the standard things are connected, and the edge things whose core
 *     device is HEALTHY (drawn from their own random sequence, so the rest of the fleet is what it
 *     was before connectivity was generated);
 *   - a dynamic thing group per edge type, named like it, `queryString` `thingTypeName:<type>`;
 *   - deployments `dep-000001`.. target those groups in turn; each group's last one is its latest
 *     (named like the edge type, so the `greengrass` command's edge device model carries the name
 *     the edge things' type has): FAILED for every second group (`edge-type-02`, `-04`...), ACTIVE
 *     for the others; earlier ones are history (INACTIVE).
 * The same spec and seed always give the same fleet.
 *
 * `emulate --generate` takes Azure and AWS keys in one spec (splitGenerateSpec): `edge` goes to each
 * provider the spec names (Azure: devices, lora, modules, gateways, concentrators; AWS: things,
 * thingTypes, deployments), and to Azure when it names neither.
 */
import { derivedId } from './fixture.js';
import { prng } from '../prng.js';

export interface AwsGenerateSpec {
  things: number;
  thingTypes: number;
  edge: number;
  deployments: number;
}

export const AWS_GENERATE_KEYS = ['things', 'thingTypes', 'edge', 'deployments'] as const;
const AWS_ONLY_KEYS = ['things', 'thingTypes', 'deployments'];
/** The IoT Hub generator's keys (../iothub/generate.ts); `edge` is both providers'. */
const AZURE_KEYS = ['devices', 'lora', 'edge', 'modules', 'gateways', 'concentrators'];
const MAX_COUNT = 10_000_000;
const MAX_TYPES = 10_000;

export class GenerateSpecError extends Error {
  override name = 'GenerateSpecError';
}

/**
 * Splits one `--generate` spec into the IoT Hub generator's part and this one's (undefined: that
 * provider gets an empty fleet). Unknown and repeated keys are refused here, naming every key.
 */
export function splitGenerateSpec(text: string): { azure: string | undefined; aws: string | undefined } {
  const azure: string[] = [];
  const aws: string[] = [];
  const given = new Set<string>();
  let edge: string | undefined;
  for (const part of text.split(',')) {
    const item = part.trim();
    if (item === '') continue;
    const eq = item.indexOf('=');
    const key = eq <= 0 ? item : item.slice(0, eq).trim();
    const known = [...new Set([...AZURE_KEYS, ...AWS_GENERATE_KEYS])];
    if (eq <= 0) throw new GenerateSpecError(`generate spec: "${item}" is not key=value (keys: ${known.join(', ')})`);
    if (!known.includes(key)) throw new GenerateSpecError(`generate spec: unknown key "${key}" (keys: ${known.join(', ')})`);
    if (given.has(key)) throw new GenerateSpecError(`generate spec: "${key}" is given twice`);
    given.add(key);
    if (key === 'edge') edge = item;
    else if (AWS_ONLY_KEYS.includes(key)) aws.push(item);
    else azure.push(item);
  }
  const hasAws = aws.length > 0;
  const hasAzure = azure.length > 0 || !hasAws;
  if (edge !== undefined) {
    if (hasAws) aws.push(edge);
    if (hasAzure) azure.push(edge);
  }
  return { azure: hasAzure ? azure.join(',') : undefined, aws: hasAws ? aws.join(',') : undefined };
}

function validate(spec: AwsGenerateSpec): AwsGenerateSpec {
  for (const key of AWS_GENERATE_KEYS) {
    const v = spec[key];
    if (!Number.isSafeInteger(v) || v < 0) throw new GenerateSpecError(`generate spec: ${key} must be a non-negative integer, got ${String(v)}`);
    if (v > MAX_COUNT) throw new GenerateSpecError(`generate spec: ${key}=${v} is more than ${MAX_COUNT}`);
  }
  if (spec.thingTypes > MAX_TYPES) throw new GenerateSpecError(`generate spec: thingTypes=${spec.thingTypes} is more than ${MAX_TYPES}`);
  if (spec.edge > spec.things) throw new GenerateSpecError(`generate spec: edge=${spec.edge} exceeds things=${spec.things} (edge things are a subset of things)`);
  if (spec.things > 0 && spec.thingTypes < 1) throw new GenerateSpecError('generate spec: things need at least one thing type (thingTypes >= 1)');
  if (spec.edge > 0 && spec.edge < spec.things && spec.thingTypes < 2) {
    throw new GenerateSpecError('generate spec: standard and edge things need at least two thing types (thingTypes >= 2)');
  }
  if (spec.deployments > 0 && spec.edge === 0) throw new GenerateSpecError('generate spec: deployments target edge things\' groups: give edge=E too');
  return spec;
}

/** `things=50000,thingTypes=20,edge=5000,deployments=40` (AWS keys only; see splitGenerateSpec). */
export function parseAwsGenerateSpec(text: string): AwsGenerateSpec {
  const given: Partial<AwsGenerateSpec> = {};
  for (const part of text.split(',')) {
    const item = part.trim();
    if (item === '') continue;
    const eq = item.indexOf('=');
    const key = item.slice(0, Math.max(eq, 0)).trim() as keyof AwsGenerateSpec;
    if (eq <= 0 || !(AWS_GENERATE_KEYS as readonly string[]).includes(key)) {
      throw new GenerateSpecError(`generate spec: "${item}" is not one of ${AWS_GENERATE_KEYS.map((k) => `${k}=N`).join(', ')}`);
    }
    if (given[key] !== undefined) throw new GenerateSpecError(`generate spec: "${key}" is given twice`);
    const value = item.slice(eq + 1).trim();
    if (!/^\d+$/.test(value)) throw new GenerateSpecError(`generate spec: ${key} must be a non-negative integer, got "${value}"`);
    given[key] = Number(value);
  }
  return completeSpec(given);
}

/** Fills the defaults (see the header) and validates. */
export function completeSpec(given: Partial<AwsGenerateSpec>): AwsGenerateSpec {
  const things = given.things ?? 0;
  const edge = given.edge ?? 0;
  const thingTypes = given.thingTypes ?? Math.min(things, 4);
  const spec = validate({ things, thingTypes, edge, deployments: 0 });
  return validate({ ...spec, deployments: given.deployments ?? edgeTypeCount(spec) });
}

/** How many of the T types are edge types. */
function edgeTypeCount(s: Pick<AwsGenerateSpec, 'things' | 'thingTypes' | 'edge'>): number {
  if (s.edge === 0) return 0;
  if (s.edge === s.things) return s.thingTypes;
  return Math.min(s.thingTypes - 1, Math.max(1, Math.round((s.thingTypes * s.edge) / s.things)));
}

/** The seed of the connectivity draws, apart from the main sequence (see the header). */
const CONNECTIVITY_SEED = 0x636f6e6e;
const CONNECTED_SHARE = 0.75;

const SITES = Array.from({ length: 20 }, (_, i) => `site-${String(i + 1).padStart(2, '0')}`);
const BUILDINGS = Array.from({ length: 8 }, (_, i) => `B${i + 1}`);
const BASE_TIME = Date.UTC(2026, 0, 1);
const HOUR_MS = 3_600_000;

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** Builds the `aws` section (fixture input form). Deterministic for the same spec and seed. */
export function generateAwsFleet(spec: Partial<AwsGenerateSpec>, seed = 1): Record<string, unknown> {
  const s = completeSpec(spec);
  const rnd = prng(seed);
  const connectedDraw = prng(seed ^ CONNECTIVITY_SEED);
  const int = (n: number) => Math.floor(rnd() * n);
  const iso = (ms: number) => new Date(ms).toISOString();
  const edgeTypes = edgeTypeCount(s);
  const standardTypes = s.thingTypes - edgeTypes;
  const w = Math.max(2, String(s.thingTypes).length);
  const standardNames = Array.from({ length: standardTypes }, (_, i) => `type-${pad(i + 1, w)}`);
  const edgeNames = Array.from({ length: edgeTypes }, (_, i) => `edge-type-${pad(i + 1, w)}`);

  const thingTypes = [
    ...standardNames.map((name, i) => ({ name, id: derivedId('thingType', name), description: `Generated device type ${i + 1}`, tags: { iotEdge: 'false' }, creationDate: iso(BASE_TIME + i * HOUR_MS) })),
    ...edgeNames.map((name, i) => ({ name, id: derivedId('thingType', name), description: `Generated Greengrass core type ${i + 1}`, tags: { iotEdge: 'true' }, creationDate: iso(BASE_TIME + i * HOUR_MS) })),
  ];

  const standard = s.things - s.edge;
  const things: Record<string, unknown>[] = [];
  for (let i = 0; i < standard; i++) {
    things.push({
      name: `thing-${pad(i + 1, 6)}`,
      type: standardNames[i % standardTypes]!,
      version: 1 + int(5),
      attributes: { site: SITES[int(SITES.length)]!, building: BUILDINGS[int(BUILDINGS.length)]! },
      shadow: true,
      connected: connectedDraw() < CONNECTED_SHARE,
    });
  }
  const coreDevices: Record<string, unknown>[] = [];
  for (let i = 0; i < s.edge; i++) {
    const name = `core-${pad(i + 1, 6)}`;
    const thing: Record<string, unknown> = { name, type: edgeNames[i % edgeTypes]!, version: 1 + int(5), attributes: { site: SITES[int(SITES.length)]! } };
    things.push(thing);
    const status = rnd() < 0.9 ? 'HEALTHY' : 'UNHEALTHY';
    // A healthy Greengrass core is connected to AWS IoT; an unhealthy one is taken as not.
    thing['connected'] = status === 'HEALTHY';
    coreDevices.push({ thingName: name, status, lastStatusUpdateTimestamp: iso(BASE_TIME + int(300 * 24) * HOUR_MS) });
  }

  const thingGroups = edgeNames.map((name) => ({ name, queryString: `thingTypeName:${name}` }));
  const deployments: Record<string, unknown>[] = [];
  const lastOf = new Map<string, number>();
  for (let j = 0; j < s.deployments; j++) lastOf.set(edgeNames[j % edgeTypes]!, j);
  const revisions = new Map<string, number>();
  for (let j = 0; j < s.deployments; j++) {
    const group = edgeNames[j % edgeTypes]!;
    const revision = (revisions.get(group) ?? 0) + 1;
    revisions.set(group, revision);
    const latest = lastOf.get(group) === j;
    // Every second group's latest deployment failed, so the failed-deployment gauge has a value.
    const failed = j % edgeTypes % 2 === 1;
    deployments.push({
      id: `dep-${pad(j + 1, 6)}`,
      name: latest ? group : `${group} revision ${revision}`,
      target: `thinggroup/${group}`,
      isLatestForTarget: latest,
      status: !latest ? 'INACTIVE' : failed ? 'FAILED' : 'ACTIVE',
      creationTimestamp: iso(BASE_TIME + j * HOUR_MS),
      revisionId: String(revision),
    });
  }
  return { thingTypes, things, thingGroups, coreDevices, deployments };
}
