/**
 * The AWS emulator's fixture: section `aws` of the fleet file the IoT Hub emulator also reads
 * (each ignores the other's sections). Every field is optional:
 *
 * ```jsonc
 * "aws": {
 *   "region": "eu-west-1", "accountId": "123456789012",
 *   "accessKeyId": "AKIAEMULATOR00000000", "secretAccessKey": "...",
 *   "thingTypes": [{ "name": "sensor", "id": "tt-sensor", "description": "...", "tags": { "iotEdge": "false" },
 *                    "deprecated": false, "deprecationDate": "2026-11-23T10:00:00Z", "creationDate": "2026-01-01T00:00:00Z",
 *                    "searchableAttributes": ["site"] }],
 *   "things": [{ "name": "thing-1", "id": "...", "type": "sensor", "version": 3, "attributes": { "site": "Lyon" }, "shadow": true,
 *                "connected": true }],
 *   "thingGroups": [{ "name": "sensor", "queryString": "thingTypeName:sensor" }],
 *   "coreDevices": [{ "thingName": "edge-1", "status": "HEALTHY" }],
 *   "deployments": [{ "id": "d-1", "name": "edge-fleet", "target": "thinggroup/sensor", "isLatestForTarget": true,
 *                     "status": "ACTIVE", "creationTimestamp": "2026-11-01T00:00:00Z" }],
 *   "fleetIndexing": { "thingIndexingMode": "REGISTRY", "thingConnectivityIndexingMode": "STATUS", "indexStatus": "ACTIVE" },
 *   "faults": [{ "operation": "ListThings", "kind": "throttle", "times": 1 }],
 *   "quota": { "ListThings": "10/s" }
 * }
 * ```
 *
 * Defaults: region eu-west-1, account 123456789012, the emulator-only key pair below; ids derived
 * from names (stable: the same name always gets the same id); creation dates 2026-01-01; a thing's
 * `version` 1, no type, no attributes, no shadow, not `connected`; a thing type's `deprecated` false (true when a
 * `deprecationDate` is given), and a deprecated type without a date was deprecated when the fixture
 * was loaded; a deployment's `isLatestForTarget` true, `status` ACTIVE; a core device HEALTHY.
 * Dates are ISO 8601 in the fixture and epoch seconds on the wire. Names are unique per kind.
 *
 * Fleet indexing (SearchIndex, fleet-index.ts): `connected` is what the AWS_Things index says of a
 * thing's connectivity (`connectivity.connected`; a connected thing's `timestamp` is 2026-01-01, a
 * thing never connected has none). `fleetIndexing` is the account's indexing configuration, as
 * GetIndexingConfiguration names it, defaults as written above: `thingIndexingMode` OFF (thing
 * indexing disabled: SearchIndex answers ResourceNotFoundException), REGISTRY or
 * REGISTRY_AND_SHADOW; `thingConnectivityIndexingMode` OFF (a query on `connectivity.*` answers
 * InvalidQueryException) or STATUS, which needs thing indexing on (its default is OFF when
 * thingIndexingMode is OFF); `indexStatus` ACTIVE or BUILDING (SearchIndex answers
 * IndexNotReadyException), as DescribeIndex would report it.
 * References (a thing's type, a deployment's target group) are not checked: a test may build a fleet
 * that real AWS could not hold.
 *
 * Faults: faults.ts. Quota: quota.ts. A malformed section is refused with a FixtureError naming the
 * field, e.g. `aws.things[3].name must be a non-empty string`.
 */
import { createHash } from 'node:crypto';
import { QuotaError } from '../iothub/quota.js';
import { FixtureError, readFixtureJson } from '../fixture-file.js';
import { normalizeFault, type AwsFault } from './faults.js';
import { checkAwsQuotaSpec, type AwsQuotaSpec } from './quota.js';

export const DEFAULT_REGION = 'eu-west-1';
export const DEFAULT_ACCOUNT_ID = '123456789012';
/** A fixed, public, emulator-only key pair: never valid at AWS. */
export const DEFAULT_ACCESS_KEY_ID = 'AKIAEMULATOR00000000';
export const DEFAULT_SECRET_ACCESS_KEY = 'emulator/secret/key/not/valid/at/aws/000';
export const DEFAULT_CREATION = Date.UTC(2026, 0, 1);

export const CORE_DEVICE_STATUSES = ['HEALTHY', 'UNHEALTHY'] as const;
export const THING_INDEXING_MODES = ['OFF', 'REGISTRY', 'REGISTRY_AND_SHADOW'] as const;
export const CONNECTIVITY_INDEXING_MODES = ['OFF', 'STATUS'] as const;
export const INDEX_STATUSES = ['ACTIVE', 'BUILDING'] as const;
export const DEPLOYMENT_STATUSES = ['ACTIVE', 'COMPLETED', 'CANCELED', 'FAILED', 'INACTIVE'] as const;
export type CoreDeviceStatus = (typeof CORE_DEVICE_STATUSES)[number];
export type DeploymentStatus = (typeof DEPLOYMENT_STATUSES)[number];

/** Times are epoch milliseconds. */
export interface AwsThingType {
  name: string;
  id: string;
  description?: string;
  searchableAttributes?: string[];
  tags: Record<string, string>;
  deprecated: boolean;
  deprecationDate?: number;
  creationDate: number;
}

export interface AwsThing {
  name: string;
  id: string;
  type?: string;
  version: number;
  attributes: Record<string, string>;
  shadow: boolean;
  /** What fleet indexing says of its connectivity (`connectivity.connected`). */
  connected: boolean;
  tags: Record<string, string>;
}

/** The account's fleet indexing configuration (UpdateIndexingConfiguration), and its index's state. */
export interface AwsFleetIndexing {
  thingIndexingMode: (typeof THING_INDEXING_MODES)[number];
  thingConnectivityIndexingMode: (typeof CONNECTIVITY_INDEXING_MODES)[number];
  indexStatus: (typeof INDEX_STATUSES)[number];
}

export interface AwsThingGroup {
  name: string;
  id: string;
  description?: string;
  /** Present: a dynamic group. */
  queryString?: string;
  version: number;
  creationDate: number;
  tags: Record<string, string>;
}

export interface AwsCoreDevice {
  thingName: string;
  status: CoreDeviceStatus;
  lastStatusUpdate: number;
  platform: string;
  architecture: string;
  runtime: string;
  coreVersion: string;
}

export interface AwsDeployment {
  id: string;
  name?: string;
  /** Full ARN. */
  targetArn: string;
  isLatestForTarget: boolean;
  status: DeploymentStatus;
  creationTimestamp: number;
  revisionId: string;
}

export interface AwsFixture {
  region: string;
  accountId: string;
  accessKeyId: string;
  secretAccessKey: string;
  thingTypes: AwsThingType[];
  things: AwsThing[];
  thingGroups: AwsThingGroup[];
  coreDevices: AwsCoreDevice[];
  deployments: AwsDeployment[];
  fleetIndexing: AwsFleetIndexing;
  faults: AwsFault[];
  quota: AwsQuotaSpec;
}

/** The `aws` section as written (everything optional, dates as ISO text). */
export type AwsFixtureInput = Record<string, unknown>;
/** A whole fleet file's content: the AWS emulator reads its `aws` section. */
export interface FixtureWithAws {
  aws?: AwsFixtureInput;
  [key: string]: unknown;
}

type Obj = Record<string, unknown>;

function fail(where: string, message: string): never {
  throw new FixtureError(`${where} ${message}`);
}

function isObject(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** An object with only the given keys: a typo is an error, not a silently ignored field. */
function obj(v: unknown, where: string, keys: readonly string[]): Obj {
  if (!isObject(v)) fail(where, 'must be an object');
  for (const key of Object.keys(v)) if (!keys.includes(key)) fail(`${where}.${key}`, `is not a field here (expected ${keys.join(', ')})`);
  return v;
}

export const SECTION_KEYS = [
  'region',
  'accountId',
  'accessKeyId',
  'secretAccessKey',
  'thingTypes',
  'things',
  'thingGroups',
  'coreDevices',
  'deployments',
  'fleetIndexing',
  'faults',
  'quota',
] as const;
const THING_TYPE_KEYS = ['name', 'id', 'description', 'searchableAttributes', 'tags', 'deprecated', 'deprecationDate', 'creationDate'];
const THING_KEYS = ['name', 'id', 'type', 'version', 'attributes', 'shadow', 'connected', 'tags'];
const FLEET_INDEXING_KEYS = ['thingIndexingMode', 'thingConnectivityIndexingMode', 'indexStatus'];
const GROUP_KEYS = ['name', 'id', 'description', 'queryString', 'version', 'creationDate', 'tags'];
const CORE_DEVICE_KEYS = ['thingName', 'status', 'lastStatusUpdateTimestamp', 'platform', 'architecture', 'runtime', 'coreVersion'];
const DEPLOYMENT_KEYS = ['id', 'name', 'target', 'isLatestForTarget', 'status', 'creationTimestamp', 'revisionId'];

function reqString(o: Obj, key: string, where: string): string {
  const v = o[key];
  if (typeof v !== 'string' || v === '') fail(`${where}.${key}`, 'must be a non-empty string');
  return v;
}

function optString(o: Obj, key: string, where: string): string | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') fail(`${where}.${key}`, 'must be a string');
  return v;
}

function optBoolean(o: Obj, key: string, where: string): boolean | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') fail(`${where}.${key}`, 'must be true or false');
  return v;
}

function optEnum<T extends string>(o: Obj, key: string, where: string, allowed: readonly T[]): T | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) fail(`${where}.${key}`, `must be one of ${allowed.map((a) => `"${a}"`).join(', ')}`);
  return v as T;
}

function optDate(o: Obj, key: string, where: string): number | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  const ms = typeof v === 'string' && /^\d{4}-\d\d-\d\d/.test(v) ? Date.parse(v) : NaN;
  if (!Number.isFinite(ms)) fail(`${where}.${key}`, 'must be an ISO 8601 date such as "2026-11-23T10:00:00Z"');
  return ms;
}

function optStringMap(o: Obj, key: string, where: string): Record<string, string> {
  const v = o[key];
  if (v === undefined) return {};
  if (!isObject(v)) fail(`${where}.${key}`, 'must be an object of strings');
  for (const [k, value] of Object.entries(v)) if (typeof value !== 'string') fail(`${where}.${key}.${k}`, 'must be a string');
  return { ...(v as Record<string, string>) };
}

function optArray(o: Obj, key: string, where: string): unknown[] {
  const v = o[key];
  if (v === undefined) return [];
  if (!Array.isArray(v)) fail(`${where}.${key}`, 'must be an array');
  return v;
}

/** A stable id from a name: the same name always gets the same id. */
export function derivedId(kind: string, name: string): string {
  return createHash('sha256').update(`${kind}\0${name}`).digest('hex').slice(0, 32);
}

/** A stable UUID-shaped id (the shape of real thing ids). */
export function derivedUuid(kind: string, name: string): string {
  const h = derivedId(kind, name);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function arnPrefix(region: string, accountId: string): string {
  return `arn:aws:iot:${region}:${accountId}:`;
}

function unique<T>(items: T[], key: (t: T) => string, where: string, field: string): T[] {
  const seen = new Map<string, number>();
  items.forEach((item, i) => {
    const k = key(item);
    const prev = seen.get(k);
    if (prev !== undefined) fail(`${where}[${i}].${field}`, `"${k}" duplicates ${where}[${prev}]`);
    seen.set(k, i);
  });
  return items;
}

function normalizeThingType(raw: unknown, where: string, loadedAt: number): AwsThingType {
  const o = obj(raw, where, THING_TYPE_KEYS);
  const name = reqString(o, 'name', where);
  const deprecationDate = optDate(o, 'deprecationDate', where);
  const deprecated = optBoolean(o, 'deprecated', where) ?? deprecationDate !== undefined;
  const t: AwsThingType = {
    name,
    id: optString(o, 'id', where) || derivedId('thingType', name),
    tags: optStringMap(o, 'tags', where),
    deprecated,
    creationDate: optDate(o, 'creationDate', where) ?? DEFAULT_CREATION,
  };
  const description = optString(o, 'description', where);
  if (description !== undefined) t.description = description;
  const searchable = optArray(o, 'searchableAttributes', where);
  if (searchable.some((s) => typeof s !== 'string')) fail(`${where}.searchableAttributes`, 'must be an array of strings');
  if (searchable.length > 0) t.searchableAttributes = searchable as string[];
  if (deprecated) t.deprecationDate = deprecationDate ?? loadedAt;
  return t;
}

function normalizeThing(raw: unknown, where: string): AwsThing {
  const o = obj(raw, where, THING_KEYS);
  const name = reqString(o, 'name', where);
  const version = o['version'] ?? 1;
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) fail(`${where}.version`, 'must be a positive integer');
  const t: AwsThing = {
    name,
    id: optString(o, 'id', where) || derivedUuid('thing', name),
    version,
    attributes: optStringMap(o, 'attributes', where),
    shadow: optBoolean(o, 'shadow', where) ?? false,
    connected: optBoolean(o, 'connected', where) ?? false,
    tags: optStringMap(o, 'tags', where),
  };
  const type = optString(o, 'type', where);
  if (type !== undefined && type !== '') t.type = type;
  return t;
}

function normalizeGroup(raw: unknown, where: string): AwsThingGroup {
  const o = obj(raw, where, GROUP_KEYS);
  const name = reqString(o, 'name', where);
  const version = o['version'] ?? 1;
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) fail(`${where}.version`, 'must be a positive integer');
  const g: AwsThingGroup = {
    name,
    id: optString(o, 'id', where) || derivedUuid('thingGroup', name),
    version,
    creationDate: optDate(o, 'creationDate', where) ?? DEFAULT_CREATION,
    tags: optStringMap(o, 'tags', where),
  };
  const description = optString(o, 'description', where);
  if (description !== undefined) g.description = description;
  const queryString = optString(o, 'queryString', where);
  if (queryString !== undefined) {
    if (queryString === '') fail(`${where}.queryString`, 'must be a non-empty query (omit it for a static group)');
    g.queryString = queryString;
  }
  return g;
}

function normalizeCoreDevice(raw: unknown, where: string): AwsCoreDevice {
  const o = obj(raw, where, CORE_DEVICE_KEYS);
  return {
    thingName: reqString(o, 'thingName', where),
    status: optEnum(o, 'status', where, CORE_DEVICE_STATUSES) ?? 'HEALTHY',
    lastStatusUpdate: optDate(o, 'lastStatusUpdateTimestamp', where) ?? DEFAULT_CREATION,
    platform: optString(o, 'platform', where) || 'linux',
    architecture: optString(o, 'architecture', where) || 'amd64',
    runtime: optString(o, 'runtime', where) || 'aws_nucleus_classic',
    coreVersion: optString(o, 'coreVersion', where) || '2.12.0',
  };
}

function normalizeFleetIndexing(raw: unknown, where: string): AwsFleetIndexing {
  const o = raw === undefined ? {} : obj(raw, where, FLEET_INDEXING_KEYS);
  const thingIndexingMode = optEnum(o, 'thingIndexingMode', where, THING_INDEXING_MODES) ?? 'REGISTRY';
  const thingConnectivityIndexingMode = optEnum(o, 'thingConnectivityIndexingMode', where, CONNECTIVITY_INDEXING_MODES) ?? (thingIndexingMode === 'OFF' ? 'OFF' : 'STATUS');
  // AWS refuses this configuration too: connectivity is indexed only in the things' index.
  if (thingIndexingMode === 'OFF' && thingConnectivityIndexingMode === 'STATUS') fail(`${where}.thingConnectivityIndexingMode`, 'STATUS needs thing indexing: thingIndexingMode is OFF');
  return { thingIndexingMode, thingConnectivityIndexingMode, indexStatus: optEnum(o, 'indexStatus', where, INDEX_STATUSES) ?? 'ACTIVE' };
}

/** `thinggroup/x`, `thing/x` or a full ARN -> the full ARN. */
function targetArn(target: string, prefix: string, where: string): string {
  if (target.startsWith('arn:')) {
    if (!/^arn:aws[a-z-]*:iot:[a-z0-9-]+:\d{12}:(thing|thinggroup)\/.+$/.test(target)) fail(where, 'must be an ARN of a thing or thing group');
    return target;
  }
  if (!/^(thing|thinggroup)\/.+$/.test(target)) fail(where, 'must be "thinggroup/<name>", "thing/<name>" or an ARN');
  return prefix + target;
}

function normalizeDeployment(raw: unknown, where: string, prefix: string): AwsDeployment {
  const o = obj(raw, where, DEPLOYMENT_KEYS);
  const d: AwsDeployment = {
    id: reqString(o, 'id', where),
    targetArn: targetArn(reqString(o, 'target', where), prefix, `${where}.target`),
    isLatestForTarget: optBoolean(o, 'isLatestForTarget', where) ?? true,
    status: optEnum(o, 'status', where, DEPLOYMENT_STATUSES) ?? 'ACTIVE',
    creationTimestamp: optDate(o, 'creationTimestamp', where) ?? DEFAULT_CREATION,
    revisionId: optString(o, 'revisionId', where) || '1',
  };
  const name = optString(o, 'name', where);
  if (name !== undefined && name !== '') d.name = name;
  return d;
}

/**
 * The `aws` section of what `startAwsEmulator({fixture})` was given: a whole fleet's `aws`, or the
 * section itself when every key is a section key. A fleet without `aws` is an empty AWS.
 */
export function awsSection(input: unknown): unknown {
  if (!isObject(input)) return input;
  if ('aws' in input) return input['aws'];
  const keys = Object.keys(input);
  return keys.every((k) => (SECTION_KEYS as readonly string[]).includes(k)) ? input : undefined;
}

/**
 * Validates the `aws` section and fills in every default. `loadedAt` (epoch ms) dates the types
 * the fixture says are deprecated without saying since when. Throws {@link FixtureError}.
 */
export function normalizeAwsFixture(section: unknown, loadedAt: number = Date.now()): AwsFixture {
  const where = 'aws';
  const o = section === undefined ? {} : obj(section, where, SECTION_KEYS);
  const region = optString(o, 'region', where) || DEFAULT_REGION;
  if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region)) fail(`${where}.region`, 'must be a region name such as "eu-west-1"');
  const accountId = optString(o, 'accountId', where) || DEFAULT_ACCOUNT_ID;
  if (!/^\d{12}$/.test(accountId)) fail(`${where}.accountId`, 'must be 12 digits');
  const accessKeyId = optString(o, 'accessKeyId', where) || DEFAULT_ACCESS_KEY_ID;
  if (!/^[A-Z0-9]{16,128}$/.test(accessKeyId)) fail(`${where}.accessKeyId`, 'must be 16 to 128 upper-case letters and digits');
  const secretAccessKey = optString(o, 'secretAccessKey', where) || DEFAULT_SECRET_ACCESS_KEY;
  // The secret is printed in a quoted export line: no quote, no line break.
  if (/['\r\n\0]/.test(secretAccessKey)) fail(`${where}.secretAccessKey`, 'must not hold a quote or a line break');
  const prefix = arnPrefix(region, accountId);

  const list = <T>(key: string, fn: (raw: unknown, w: string) => T): T[] => optArray(o, key, where).map((raw, i) => fn(raw, `${where}.${key}[${i}]`));
  const thingTypes = unique(list('thingTypes', (r, w) => normalizeThingType(r, w, loadedAt)), (t) => t.name, `${where}.thingTypes`, 'name');
  const things = unique(list('things', normalizeThing), (t) => t.name, `${where}.things`, 'name');
  const thingGroups = unique(list('thingGroups', normalizeGroup), (g) => g.name, `${where}.thingGroups`, 'name');
  const coreDevices = unique(list('coreDevices', normalizeCoreDevice), (c) => c.thingName, `${where}.coreDevices`, 'thingName');
  const deployments = unique(
    list('deployments', (r, w) => normalizeDeployment(r, w, prefix)),
    (d) => d.id,
    `${where}.deployments`,
    'id',
  );
  const fleetIndexing = normalizeFleetIndexing(o['fleetIndexing'], `${where}.fleetIndexing`);
  const faults = list('faults', normalizeFault);
  let quota: AwsQuotaSpec = {};
  if (o['quota'] !== undefined) {
    try {
      quota = checkAwsQuotaSpec(o['quota'], `${where}.quota`);
    } catch (err) {
      if (err instanceof QuotaError) throw new FixtureError(err.message);
      throw err;
    }
  }
  return { region, accountId, accessKeyId, secretAccessKey, thingTypes, things, thingGroups, coreDevices, deployments, fleetIndexing, faults, quota };
}

/** Reads a fleet file and normalizes its `aws` section (absent: an empty AWS). Throws {@link FixtureError}. */
export function loadAwsFixture(path: string, loadedAt: number = Date.now()): AwsFixture {
  const raw = readFixtureJson(path);
  if (!isObject(raw)) throw new FixtureError(`${path}: fixture must be a JSON object`);
  try {
    return normalizeAwsFixture(raw['aws'], loadedAt);
  } catch (err) {
    if (err instanceof FixtureError) throw new FixtureError(`${path}: ${err.message}`);
    throw err;
  }
}
