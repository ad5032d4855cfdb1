/**
 * IoT Hub emulator fixture: the fleet the emulated hub serves, and the faults it injects.
 *
 * A fixture is one JSON document. Every section is optional; unknown top-level keys are ignored
 * (a fleet file may carry other emulators' sections).
 *
 * ```json
 * {
 *   "hub": {"hostName": "demo-hub.azure-devices.net", "sharedAccessKeyName": "iothubowner", "sharedAccessKey": "<base64>"},
 *   "deviceModels": [{"id": "m-thermo", "name": "Thermometer", "description": "...", "supportLoRaFeatures": false}],
 *   "edgeDeviceModels": [{"id": "em-gw", "name": "Edge gateway", "description": "...", "externalIdentifier": "..."}],
 *   "twins": [
 *     {"deviceId": "d1", "version": 3, "status": "enabled", "connectionState": "Connected",
 *      "lastActivityTime": "2024-05-01T10:00:00Z", "statusUpdateTime": "2024-04-01T00:00:00Z",
 *      "capabilities": {"iotEdge": false}, "tags": {"deviceName": "Boiler room", "modelId": "m-thermo"},
 *      "properties": {"desired": {}, "reported": {}}}
 *   ],
 *   "moduleTwins": [
 *     {"deviceId": "e1", "moduleId": "$edgeAgent", "version": 2, "properties": {"desired": {}, "reported": {}}}
 *   ],
 *   "configurations": [
 *     {"id": "edge-base", "content": {"modulesContent": {"$edgeAgent": {"properties.desired": {}}}},
 *      "targetCondition": "tags.modelId = 'em-gw'", "priority": 10,
 *      "systemMetrics": {"results": {"targetedCount": 3, "appliedCount": 3, "reportedSuccessfulCount": 2,
 *                                    "reportedFailedCount": 1}, "queries": {}}}
 *   ],
 *   "faults": [
 *     {"operation": "query:devices", "page": 2, "status": 500, "times": 1}
 *   ],
 *   "quota": {"queries": "20/min"}
 * }
 * ```
 *
 * `hub` — the hub's identity and the key that signs SAS tokens. When absent:
 *   hostName `emulated-hub.azure-devices.net`, sharedAccessKeyName `iothubowner`, and the fixed key
 *   {@link DEFAULT_SHARED_ACCESS_KEY}. A partial `hub` takes the defaults for the missing fields.
 *
 * `deviceModels` — `{id, name, description?, supportLoRaFeatures?}` (default `false`), other fields kept.
 * `edgeDeviceModels` — `{id, name, description?, externalIdentifier?}`, other fields kept.
 *
 * `twins` — device twins. Only `deviceId` (non-empty string, unique) is required; the rest is filled
 *   as the real hub returns it: `status` "enabled" ("enabled" | "disabled"), `connectionState`
 *   "Disconnected" ("Connected" | "Disconnected"), `version` 1 (positive integer),
 *   `statusUpdateTime` / `lastActivityTime` "0001-01-01T00:00:00Z", `authenticationType` "sas",
 *   `cloudToDeviceMessageCount` 0, `capabilities.iotEdge` false, `tags` {}, `properties.desired` and
 *   `properties.reported` {} each with `$version` (default 1), and `etag` / `deviceEtag` (derived
 *   from version / deviceId). Any other field is kept as given and served back.
 * `moduleTwins` — module twins: `deviceId` and `moduleId` (non-empty strings, the pair unique) are
 *   required; `status`, `connectionState`, `version`, `statusUpdateTime`, `lastActivityTime`,
 *   `authenticationType`, `cloudToDeviceMessageCount`, `etag`, `deviceEtag`, `properties` filled as
 *   for device twins. The device does not have to be in `twins`.
 *
 * `configurations` — what `GET /configurations` serves, in this order: IoT Hub Configuration
 *   objects as the hub returns them, automatic device management configurations
 *   (`content.deviceContent` or `content.moduleContent`) and IoT Edge deployments
 *   (`content.modulesContent`) alike. Only `id` (non-empty string, unique) is required; the rest is
 *   filled as the hub returns it: `schemaVersion` "1.0", `labels` {}, `content` {}, `contentType`
 *   "assignment", `targetCondition` "", `createdTimeUtc` / `lastUpdatedTimeUtc`
 *   "0001-01-01T00:00:00Z", `priority` 0, `systemMetrics` and `metrics` `{"results": {},
 *   "queries": {}}`, `etag` "MQ==". Checked: `content`'s three parts are objects, `labels` and
 *   `queries` map to strings, `results` to whole non-negative numbers (the hub's counts of
 *   twins), `priority` a non-negative integer. Any other field is kept and served back. The emulator
 *   does not evaluate metric queries or target conditions: `results` are served as written. A hub
 *   holds at most 100 deployments (non-empty `modulesContent`) and 100 other configurations (IoT
 *   Hub's quotas page, standard tier); a fixture with more is refused.
 *
 * `faults` — injected failures, checked in order for every query request and every
 *   `GET /configurations`; the first one that applies is used. Every field but the effect is a
 *   filter, and an omitted filter matches anything:
 *   - `operation`: "query:devices" | "query:devices.modules" (the query's FROM collection) |
 *     "getConfigurations"
 *   - `match`: a substring of the query text (a configurations request has none: only `match: ""`
 *     applies to it)
 *   - `page`: 1-based page number of that listing, derived from the request's continuation offset
 *     and its page size (`floor(offset / x-ms-max-item-count) + 1`; a request without a
 *     continuation token is page 1, and so is every configurations request)
 *   - `times`: how many requests it applies to, then it is spent (omit = every time). The counters
 *     belong to the loaded fixture: a reload of the fixture file resets them.
 *   and the effect (`hang`, or at least one of `status` or `delayMs`):
 *   - `status`: an HTTP error status (400..599) answered with an IoT Hub style error body
 *     (429 -> ThrottlingException, 503 -> ServiceUnavailable, 500 -> ServerError, ...)
 *   - `retryAfterMs` / `retryAfterSeconds`: with `status`, sets `Retry-After` (whole seconds,
 *     rounded up) and `x-ms-retry-after-ms` (milliseconds); `retryAfterMs` wins if both are given
 *   - `delayMs`: wait that long before answering; with `status` the error comes late, without
 *     `status` the request is then answered normally (lets a client's timeout fire).
 *   - `hang`: `true` never answers: the request stays open until the client gives up on it or the
 *     emulator closes (a hub that accepted the connection and went silent). Not combined with
 *     `status` or `delayMs`.
 *
 * `quota` — the hub's throttles, enforced as a sliding window per class (see quota.ts): `queries`
 *   (`POST /devices/query`, S1: "20/min"), `twinReads` (`GET /twins/...`, S1: "100/s") and
 *   `configurations` (`GET /configurations`, every tier: "20/min"). A rate is
 *   a whole number per `s`, `min` or `h`. Past it the request gets 429 ThrottlingException, no
 *   Retry-After, and takes no slot. Windows run on the emulated clock (`timeScale`). The `quota`
 *   option of `startIotHubEmulator` (and `emulate --quota`) overrides this per class. A reload that
 *   changes a class's rate starts that class's window afresh; an unchanged rate keeps its window.
 *   Omitted: no quota.
 *
 * A malformed fixture is rejected with a {@link FixtureError} naming the offending index and field,
 * e.g. `twins[3].deviceId must be a non-empty string`.
 */
import type { IotHubCredentials } from '../../providers/iothub/sas.js';
import { FixtureError, parseFixtureJson, readFixtureJson } from '../fixture-file.js';
import { checkQuotaSpec, QuotaError, type QuotaSpec } from './quota.js';

export const DEFAULT_HOST_NAME = 'emulated-hub.azure-devices.net';
export const DEFAULT_KEY_NAME = 'iothubowner';
/** A fixed, public, emulator-only key (32 bytes, base64). */
export const DEFAULT_SHARED_ACCESS_KEY = 'cG9ydGFsLXN5bmMtZW11bGF0ZWQtaHViLWtleS0wMDE=';
export const NEVER = '0001-01-01T00:00:00Z';

export type FaultOperation = 'query:devices' | 'query:devices.modules' | 'getConfigurations';
const FAULT_OPERATIONS: readonly FaultOperation[] = ['query:devices', 'query:devices.modules', 'getConfigurations'];

/** What a standard hub holds at most (IoT Hub quotas page, "Other limits"). */
export const MAX_EDGE_DEPLOYMENTS = 100;
export const MAX_DEVICE_CONFIGURATIONS = 100;
/** The etag the hub gives a configuration at its first version: base64 of "1". */
const FIRST_CONFIGURATION_ETAG = 'MQ==';

export interface FaultSpec {
  operation?: FaultOperation;
  match?: string;
  page?: number;
  status?: number;
  retryAfterMs?: number;
  retryAfterSeconds?: number;
  delayMs?: number;
  hang?: boolean;
  times?: number;
}

export interface DeviceModel {
  id: string;
  name: string;
  description?: string;
  supportLoRaFeatures: boolean;
  [key: string]: unknown;
}

export interface EdgeDeviceModel {
  id: string;
  name: string;
  description?: string;
  externalIdentifier?: string;
  [key: string]: unknown;
}

export interface TwinCollection {
  $version: number;
  [key: string]: unknown;
}

export interface TwinProperties {
  desired: TwinCollection;
  reported: TwinCollection;
}

export type TwinStatus = 'enabled' | 'disabled';
export type ConnectionState = 'Connected' | 'Disconnected';

/** What device and module twins both carry. */
interface TwinIdentity {
  deviceId: string;
  etag: string;
  deviceEtag: string;
  version: number;
  status: TwinStatus;
  statusUpdateTime: string;
  connectionState: ConnectionState;
  lastActivityTime: string;
  cloudToDeviceMessageCount: number;
  authenticationType: string;
  properties: TwinProperties;
  [key: string]: unknown;
}

export interface DeviceTwin extends TwinIdentity {
  capabilities: { iotEdge: boolean; [key: string]: unknown };
  tags: Record<string, unknown>;
}

export interface ModuleTwin extends TwinIdentity {
  moduleId: string;
}

/** `{"results": {"targetedCount": 3}, "queries": {"targetedCount": "SELECT deviceId FROM devices WHERE ..."}}` */
export interface ConfigurationMetricsSection {
  results: Record<string, number>;
  queries: Record<string, string>;
  [key: string]: unknown;
}

export interface ConfigurationContentSection {
  deviceContent?: Record<string, unknown>;
  moduleContent?: Record<string, unknown>;
  modulesContent?: Record<string, unknown>;
  [key: string]: unknown;
}

/** An IoT Hub Configuration (an automatic device management configuration or an IoT Edge deployment). */
export interface HubConfiguration {
  id: string;
  schemaVersion: string;
  labels: Record<string, string>;
  content: ConfigurationContentSection;
  contentType: string;
  targetCondition: string;
  createdTimeUtc: string;
  lastUpdatedTimeUtc: string;
  priority: number;
  systemMetrics: ConfigurationMetricsSection;
  metrics: ConfigurationMetricsSection;
  etag: string;
  [key: string]: unknown;
}

/** A normalized fixture: every section present, every twin complete. */
export interface Fixture {
  hub: IotHubCredentials;
  deviceModels: DeviceModel[];
  edgeDeviceModels: EdgeDeviceModel[];
  twins: DeviceTwin[];
  moduleTwins: ModuleTwin[];
  configurations: HubConfiguration[];
  faults: FaultSpec[];
  /** Rates as written, validated: `{"queries": "20/min"}`; `{}` when the hub is unthrottled. */
  quota: QuotaSpec;
}

type Loose<T> = { [K in keyof T]?: unknown } & Record<string, unknown>;

/** What a fixture file (or `startIotHubEmulator({fixture})`) may contain: everything optional. */
export interface FixtureInput {
  hub?: Partial<IotHubCredentials>;
  deviceModels?: Loose<DeviceModel>[];
  edgeDeviceModels?: Loose<EdgeDeviceModel>[];
  twins?: Loose<DeviceTwin>[];
  moduleTwins?: Loose<ModuleTwin>[];
  configurations?: Loose<HubConfiguration>[];
  faults?: FaultSpec[];
  quota?: QuotaSpec;
  [key: string]: unknown;
}

export { FixtureError };

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function fail(where: string, message: string): never {
  throw new FixtureError(`${where} ${message}`);
}

function optString(o: Obj, key: string, where: string): string | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') fail(`${where}.${key}`, 'must be a string');
  return v;
}

function reqString(o: Obj, key: string, where: string): string {
  const v = o[key];
  if (typeof v !== 'string' || v === '') fail(`${where}.${key}`, 'must be a non-empty string');
  return v;
}

function optNumber(o: Obj, key: string, where: string, opts: { integer?: boolean; min?: number; max?: number } = {}): number | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(`${where}.${key}`, 'must be a number');
  if (opts.integer && !Number.isInteger(v)) fail(`${where}.${key}`, 'must be an integer');
  if (opts.min !== undefined && v < opts.min) fail(`${where}.${key}`, `must be >= ${opts.min}`);
  if (opts.max !== undefined && v > opts.max) fail(`${where}.${key}`, `must be <= ${opts.max}`);
  return v;
}

function optEnum<T extends string>(o: Obj, key: string, where: string, allowed: readonly T[]): T | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    fail(`${where}.${key}`, `must be one of ${allowed.map((a) => `"${a}"`).join(', ')}`);
  }
  return v as T;
}

function optArray(o: Obj, key: string): unknown[] {
  const v = o[key];
  if (v === undefined) return [];
  if (!Array.isArray(v)) fail(key, 'must be an array');
  return v;
}

const EIGHT = Buffer.alloc(8);
/** The hub's twin etag is the base64 of the 8-byte big-endian version. */
export function etagFor(version: number): string {
  // Wrapped to 64 bits: a fixture may hold versions the real hub never sends (the bad-value tests).
  EIGHT.writeBigUInt64BE(BigInt.asUintN(64, BigInt(Math.trunc(version))));
  return EIGHT.toString('base64');
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const HEX = '0123456789abcdef';
let base64Of3Hex: string[] | undefined;
let base64Of2Hex: string[] | undefined;

/**
 * A stable, cheap device etag: the base64 of the 8 lowercase hex digits of the id's FNV-1a hash
 * (what `Buffer.from(hex).toString('base64')` gives), built from lookup tables.
 */
export function deviceEtagFor(id: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h >>>= 0;
  if (!base64Of3Hex || !base64Of2Hex) {
    base64Of3Hex = new Array<string>(4096);
    for (let v = 0; v < 4096; v++) {
      const a = HEX.charCodeAt(v >> 8);
      const b = HEX.charCodeAt((v >> 4) & 15);
      const c = HEX.charCodeAt(v & 15);
      base64Of3Hex[v] = B64[a >> 2]! + B64[((a & 3) << 4) | (b >> 4)]! + B64[((b & 15) << 2) | (c >> 6)]! + B64[c & 63]!;
    }
    base64Of2Hex = new Array<string>(256);
    for (let v = 0; v < 256; v++) {
      const a = HEX.charCodeAt(v >> 4);
      const b = HEX.charCodeAt(v & 15);
      base64Of2Hex[v] = B64[a >> 2]! + B64[((a & 3) << 4) | (b >> 4)]! + B64[(b & 15) << 2]! + '=';
    }
  }
  return base64Of3Hex[h >>> 20]! + base64Of3Hex[(h >>> 8) & 0xfff]! + base64Of2Hex[h & 0xff]!;
}

function normalizeCollection(v: unknown, where: string): TwinCollection {
  if (v === undefined) return { $version: 1 };
  if (!isObject(v)) fail(where, 'must be an object');
  if (v['$version'] !== undefined && (typeof v['$version'] !== 'number' || !Number.isInteger(v['$version']))) {
    fail(`${where}.$version`, 'must be an integer');
  }
  return v['$version'] === undefined ? { ...v, $version: 1 } : (v as TwinCollection);
}

function normalizeProperties(v: unknown, where: string): TwinProperties {
  if (v === undefined) return { desired: { $version: 1 }, reported: { $version: 1 } };
  if (!isObject(v)) fail(`${where}.properties`, 'must be an object');
  return {
    ...v,
    desired: normalizeCollection(v['desired'], `${where}.properties.desired`),
    reported: normalizeCollection(v['reported'], `${where}.properties.reported`),
  };
}

/** Fields both device and module twins share, with the hub's defaults. */
function normalizeCommon(t: Obj, where: string, idForEtag: string) {
  const version = optNumber(t, 'version', where, { integer: true, min: 1 }) ?? 1;
  const etag = optString(t, 'etag', where) ?? etagFor(version);
  const deviceEtag = optString(t, 'deviceEtag', where) ?? deviceEtagFor(idForEtag);
  const status = optEnum<TwinStatus>(t, 'status', where, ['enabled', 'disabled']) ?? 'enabled';
  const statusUpdateTime = optString(t, 'statusUpdateTime', where) ?? NEVER;
  const connectionState = optEnum<ConnectionState>(t, 'connectionState', where, ['Connected', 'Disconnected']) ?? 'Disconnected';
  const lastActivityTime = optString(t, 'lastActivityTime', where) ?? NEVER;
  const cloudToDeviceMessageCount = optNumber(t, 'cloudToDeviceMessageCount', where, { integer: true, min: 0 }) ?? 0;
  const authenticationType = optString(t, 'authenticationType', where) ?? 'sas';
  const properties = normalizeProperties(t['properties'], where);
  return {
    etag,
    deviceEtag,
    version,
    status,
    statusUpdateTime,
    connectionState,
    lastActivityTime,
    cloudToDeviceMessageCount,
    authenticationType,
    properties,
  };
}

function isCollection(v: unknown): boolean {
  return isObject(v) && Number.isInteger(v['$version']);
}

/** True when a twin already has every field, well typed: it is then used as is (no copy). */
function isCompleteCommon(t: Obj): boolean {
  const p = t['properties'];
  return (
    typeof t['etag'] === 'string' &&
    typeof t['deviceEtag'] === 'string' &&
    Number.isInteger(t['version']) &&
    (t['version'] as number) >= 1 &&
    (t['status'] === 'enabled' || t['status'] === 'disabled') &&
    typeof t['statusUpdateTime'] === 'string' &&
    (t['connectionState'] === 'Connected' || t['connectionState'] === 'Disconnected') &&
    typeof t['lastActivityTime'] === 'string' &&
    Number.isInteger(t['cloudToDeviceMessageCount']) &&
    (t['cloudToDeviceMessageCount'] as number) >= 0 &&
    typeof t['authenticationType'] === 'string' &&
    isObject(p) &&
    isCollection(p['desired']) &&
    isCollection(p['reported'])
  );
}

/** The identity fields every twin carries, in the order the hub serves them. */
function identityFields(common: ReturnType<typeof normalizeCommon>) {
  return {
    etag: common.etag,
    deviceEtag: common.deviceEtag,
    status: common.status,
    statusUpdateTime: common.statusUpdateTime,
    connectionState: common.connectionState,
    lastActivityTime: common.lastActivityTime,
    cloudToDeviceMessageCount: common.cloudToDeviceMessageCount,
    authenticationType: common.authenticationType,
  };
}

function normalizeTwin(raw: unknown, where: string): DeviceTwin {
  if (!isObject(raw)) fail(where, 'must be an object');
  const caps0 = raw['capabilities'];
  if (
    typeof raw['deviceId'] === 'string' &&
    raw['deviceId'] !== '' &&
    isObject(raw['tags']) &&
    isObject(caps0) &&
    typeof caps0['iotEdge'] === 'boolean' &&
    isCompleteCommon(raw)
  ) {
    return raw as DeviceTwin;
  }
  const deviceId = reqString(raw, 'deviceId', where);
  const common = normalizeCommon(raw, where, deviceId);
  const tags = raw['tags'] === undefined ? {} : raw['tags'];
  if (!isObject(tags)) fail(`${where}.tags`, 'must be an object');
  const caps = raw['capabilities'];
  let capabilities: DeviceTwin['capabilities'];
  if (caps === undefined) capabilities = { iotEdge: false };
  else {
    if (!isObject(caps)) fail(`${where}.capabilities`, 'must be an object');
    if (caps['iotEdge'] !== undefined && typeof caps['iotEdge'] !== 'boolean') fail(`${where}.capabilities.iotEdge`, 'must be a boolean');
    capabilities = caps['iotEdge'] === undefined ? { ...caps, iotEdge: false } : (caps as DeviceTwin['capabilities']);
  }
  // Order the keys as the hub does; extra fields sit before tags/properties.
  return {
    deviceId,
    ...identityFields(common),
    ...raw,
    version: common.version,
    tags,
    properties: common.properties,
    capabilities,
  } as DeviceTwin;
}

function normalizeModuleTwin(raw: unknown, where: string): ModuleTwin {
  if (!isObject(raw)) fail(where, 'must be an object');
  if (typeof raw['deviceId'] === 'string' && raw['deviceId'] !== '' && typeof raw['moduleId'] === 'string' && raw['moduleId'] !== '' && isCompleteCommon(raw)) {
    return raw as ModuleTwin;
  }
  const deviceId = reqString(raw, 'deviceId', where);
  const moduleId = reqString(raw, 'moduleId', where);
  const common = normalizeCommon(raw, where, `${deviceId}/${moduleId}`);
  return {
    deviceId,
    moduleId,
    ...identityFields(common),
    ...raw,
    version: common.version,
    properties: common.properties,
  } as ModuleTwin;
}

function normalizeModel(raw: unknown, where: string): Obj {
  if (!isObject(raw)) fail(where, 'must be an object');
  reqString(raw, 'id', where);
  reqString(raw, 'name', where);
  optString(raw, 'description', where);
  return { ...raw };
}

function normalizeFault(raw: unknown, where: string): FaultSpec {
  if (!isObject(raw)) fail(where, 'must be an object');
  const known = new Set(['operation', 'match', 'page', 'status', 'retryAfterMs', 'retryAfterSeconds', 'delayMs', 'hang', 'times']);
  for (const key of Object.keys(raw)) if (!known.has(key)) fail(`${where}.${key}`, `is not a fault field (expected one of ${[...known].join(', ')})`);
  const fault: FaultSpec = {};
  const operation = optEnum<FaultOperation>(raw, 'operation', where, FAULT_OPERATIONS);
  if (operation !== undefined) fault.operation = operation;
  const match = optString(raw, 'match', where);
  if (match !== undefined) fault.match = match;
  const page = optNumber(raw, 'page', where, { integer: true, min: 1 });
  if (page !== undefined) fault.page = page;
  const status = optNumber(raw, 'status', where, { integer: true, min: 400, max: 599 });
  if (status !== undefined) fault.status = status;
  const retryAfterMs = optNumber(raw, 'retryAfterMs', where, { min: 0 });
  if (retryAfterMs !== undefined) fault.retryAfterMs = retryAfterMs;
  const retryAfterSeconds = optNumber(raw, 'retryAfterSeconds', where, { min: 0 });
  if (retryAfterSeconds !== undefined) fault.retryAfterSeconds = retryAfterSeconds;
  const delayMs = optNumber(raw, 'delayMs', where, { min: 0, max: 600_000 });
  if (delayMs !== undefined) fault.delayMs = delayMs;
  const times = optNumber(raw, 'times', where, { integer: true, min: 0 });
  if (times !== undefined) fault.times = times;
  const hang = raw['hang'];
  if (hang !== undefined && typeof hang !== 'boolean') fail(`${where}.hang`, 'must be a boolean');
  if (hang === true) {
    if (status !== undefined || delayMs !== undefined) fail(where, 'hangs: it cannot also have a status or a delayMs');
    fault.hang = true;
  } else if (status === undefined && delayMs === undefined) fail(where, 'needs a status or a delayMs (or hang: true)');
  return fault;
}

function optObject(o: Obj, key: string, where: string): Obj | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (!isObject(v)) fail(`${where}.${key}`, 'must be an object');
  return v;
}

function stringValues(o: Obj, where: string): Record<string, string> {
  for (const [k, v] of Object.entries(o)) if (typeof v !== 'string') fail(`${where}.${k}`, 'must be a string');
  return o as Record<string, string>;
}

function normalizeMetrics(raw: Obj, key: string, where: string): ConfigurationMetricsSection {
  const m = optObject(raw, key, where) ?? {};
  const results = optObject(m, 'results', `${where}.${key}`) ?? {};
  for (const [k, v] of Object.entries(results)) {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(`${where}.${key}.results.${k}`, 'must be a whole non-negative number');
  }
  const queries = stringValues(optObject(m, 'queries', `${where}.${key}`) ?? {}, `${where}.${key}.queries`);
  return { ...m, results: results as Record<string, number>, queries };
}

function normalizeConfiguration(raw: unknown, where: string): HubConfiguration {
  if (!isObject(raw)) fail(where, 'must be an object');
  const id = reqString(raw, 'id', where);
  const content = optObject(raw, 'content', where) ?? {};
  for (const part of ['deviceContent', 'moduleContent', 'modulesContent']) optObject(content, part, `${where}.content`);
  const labels = stringValues(optObject(raw, 'labels', where) ?? {}, `${where}.labels`);
  // Key order as the hub serves a configuration; extra fields follow.
  const configuration: HubConfiguration = {
    id,
    schemaVersion: optString(raw, 'schemaVersion', where) ?? '1.0',
    labels,
    content,
    contentType: optString(raw, 'contentType', where) ?? 'assignment',
    targetCondition: optString(raw, 'targetCondition', where) ?? '',
    createdTimeUtc: optString(raw, 'createdTimeUtc', where) ?? NEVER,
    lastUpdatedTimeUtc: optString(raw, 'lastUpdatedTimeUtc', where) ?? NEVER,
    priority: optNumber(raw, 'priority', where, { integer: true, min: 0 }) ?? 0,
    systemMetrics: normalizeMetrics(raw, 'systemMetrics', where),
    metrics: normalizeMetrics(raw, 'metrics', where),
    etag: optString(raw, 'etag', where) ?? FIRST_CONFIGURATION_ETAG,
  };
  for (const [key, value] of Object.entries(raw)) if (!(key in configuration)) configuration[key] = value;
  return configuration;
}

/** A deployment sets edge modules; anything else is an automatic device management configuration. */
export function isDeployment(c: HubConfiguration): boolean {
  return Object.keys(c.content.modulesContent ?? {}).length > 0;
}

function normalizeConfigurations(input: Obj): HubConfiguration[] {
  const seen = new Map<string, number>();
  const configurations = optArray(input, 'configurations').map((c, i) => {
    const normalized = normalizeConfiguration(c, `configurations[${i}]`);
    const prev = seen.get(normalized.id);
    if (prev !== undefined) fail(`configurations[${i}].id`, `"${normalized.id}" duplicates configurations[${prev}]`);
    seen.set(normalized.id, i);
    return normalized;
  });
  const deployments = configurations.filter(isDeployment).length;
  if (deployments > MAX_EDGE_DEPLOYMENTS) fail('configurations', `holds ${deployments} IoT Edge deployments; a hub holds at most ${MAX_EDGE_DEPLOYMENTS}`);
  const others = configurations.length - deployments;
  if (others > MAX_DEVICE_CONFIGURATIONS) fail('configurations', `holds ${others} device configurations; a hub holds at most ${MAX_DEVICE_CONFIGURATIONS}`);
  return configurations;
}

/**
 * Validates a fixture and fills in every default. The input is never modified: the result has new
 * arrays, twins that lacked a field are new objects, twins that were already complete (as
 * `generateFleet` makes them, or a normalized fixture holds them) are reused as they are.
 * Throws {@link FixtureError}.
 */
export function normalizeFixture(input: unknown): Fixture {
  if (!isObject(input)) throw new FixtureError('fixture must be a JSON object');
  const hubRaw = input['hub'] === undefined ? {} : input['hub'];
  if (!isObject(hubRaw)) fail('hub', 'must be an object');
  const hub: IotHubCredentials = {
    hostName: optString(hubRaw, 'hostName', 'hub') || DEFAULT_HOST_NAME,
    sharedAccessKeyName: optString(hubRaw, 'sharedAccessKeyName', 'hub') || DEFAULT_KEY_NAME,
    sharedAccessKey: optString(hubRaw, 'sharedAccessKey', 'hub') || DEFAULT_SHARED_ACCESS_KEY,
  };
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(hub.sharedAccessKey)) fail('hub.sharedAccessKey', 'must be base64');

  const deviceModels = optArray(input, 'deviceModels').map((m, i) => {
    const o = normalizeModel(m, `deviceModels[${i}]`);
    if (o['supportLoRaFeatures'] === undefined) o['supportLoRaFeatures'] = false;
    else if (typeof o['supportLoRaFeatures'] !== 'boolean') fail(`deviceModels[${i}].supportLoRaFeatures`, 'must be a boolean');
    return o as DeviceModel;
  });
  const edgeDeviceModels = optArray(input, 'edgeDeviceModels').map((m, i) => {
    const o = normalizeModel(m, `edgeDeviceModels[${i}]`);
    optString(o, 'externalIdentifier', `edgeDeviceModels[${i}]`);
    return o as EdgeDeviceModel;
  });

  const rawTwins = optArray(input, 'twins');
  const twins = new Array<DeviceTwin>(rawTwins.length);
  const seen = new Map<string, number>();
  for (let i = 0; i < rawTwins.length; i++) {
    const t = normalizeTwin(rawTwins[i], `twins[${i}]`);
    const prev = seen.get(t.deviceId);
    if (prev !== undefined) fail(`twins[${i}].deviceId`, `"${t.deviceId}" duplicates twins[${prev}]`);
    seen.set(t.deviceId, i);
    twins[i] = t;
  }

  const rawModules = optArray(input, 'moduleTwins');
  const moduleTwins = new Array<ModuleTwin>(rawModules.length);
  const seenModules = new Map<string, number>();
  for (let i = 0; i < rawModules.length; i++) {
    const m = normalizeModuleTwin(rawModules[i], `moduleTwins[${i}]`);
    const key = `${m.deviceId}/${m.moduleId}`;
    const prev = seenModules.get(key);
    if (prev !== undefined) fail(`moduleTwins[${i}]`, `"${key}" duplicates moduleTwins[${prev}]`);
    seenModules.set(key, i);
    moduleTwins[i] = m;
  }

  const configurations = normalizeConfigurations(input);
  const faults = optArray(input, 'faults').map((f, i) => normalizeFault(f, `faults[${i}]`));
  let quota: QuotaSpec = {};
  if (input['quota'] !== undefined) {
    try {
      quota = checkQuotaSpec(input['quota'], 'quota');
    } catch (err) {
      if (err instanceof QuotaError) throw new FixtureError(err.message);
      throw err;
    }
  }
  return { hub, deviceModels, edgeDeviceModels, twins, moduleTwins, configurations, faults, quota };
}

/** Parses fixture JSON text; errors name the source. */
export function parseFixture(text: string, source = 'fixture'): Fixture {
  return normalizeIn(parseFixtureJson(text, source), source);
}

function normalizeIn(raw: unknown, source: string): Fixture {
  try {
    return normalizeFixture(raw);
  } catch (err) {
    if (err instanceof FixtureError) throw new FixtureError(`${source}: ${err.message}`);
    throw err;
  }
}

/** Reads, validates and normalizes a fixture file. Throws {@link FixtureError}. */
export function loadFixture(path: string): Fixture {
  return normalizeIn(readFixtureJson(path), path);
}
