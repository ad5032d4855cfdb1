/**
 * The `eventhub` section of the fleet file: the emulated IoT Hub's Event Hubs-compatible endpoint.
 *
 *   "eventhub": {
 *     "name": "portal-hub",                    the hub (EntityPath); default portal-hub
 *     "partitions": 4,                         1..32; default 4
 *     "consumerGroups": ["$Default", ...],     default ["$Default", "iothub-portal"]
 *     "keyName": "...", "key": "...",          the SAS policy; defaults DEFAULT_KEY_NAME / DEFAULT_KEY
 *     "createdAt": "ISO",                      the hub's created_at; default 2024-01-01
 *     "events": [ { "partition": 0, "deviceId": "lora-1", "moduleId": null, "authScope": "device",
 *                   "messageSource": "Telemetry", "enqueuedTime": "ISO", "properties": {...},
 *                   "partitionKey": "...", "authGenerationId": "...",
 *                   "body": {...} or "a string, sent as is (a malformed body)" } ],
 *     "faults": { "dropConnectionAfterEvents": K, "refuseCbs": true }
 *   }
 *
 * Every field is optional. An event without `partition` goes where Event Hubs' partitioner puts its
 * `partitionKey`, else its `deviceId` (IoT Hub partitions device messages by device), else
 * round-robin by its position. A body that is not a string is sent as its UTF-8 JSON; a string is
 * sent as its own bytes, so `"not json"` is how a fixture describes a malformed message.
 *
 * `events` may be any list-like object (`length` and `at(i)`), not only an array: the generator
 * (generate.ts) hands a lazy one so that 200,000 events are not held in memory as objects.
 */
import { FixtureError, readFixtureJson } from '../fixture-file.js';
import { normalizeFaults, type EventHubFaults } from './faults.js';
import { partitionForKey } from './partitioner.js';

export const DEFAULT_HUB_NAME = 'portal-hub';
export const DEFAULT_PARTITIONS = 4;
export const DEFAULT_CONSUMER_GROUPS: readonly string[] = ['$Default', 'iothub-portal'];
/** The name IoT Hub gives the policy its built-in endpoint's connection string uses. */
export const DEFAULT_KEY_NAME = 'service';
/** A fixed key, like the other emulators': the connection string is stable across runs. */
export const DEFAULT_KEY = 'cG9ydGFsLXN5bmMtZW11bGF0ZWQtZXZlbnQtaHViLWtleQ==';
export const DEFAULT_CREATED_AT = Date.UTC(2024, 0, 1);
/** Event Hubs' limit on partitions of a standard hub. */
const MAX_PARTITIONS = 32;

/** One event as a fixture, the POST body or the generator describes it. */
export interface EventHubEventInput {
  partition?: number | string;
  deviceId?: string | null;
  moduleId?: string | null;
  authScope?: 'device' | 'module';
  messageSource?: string;
  enqueuedTime?: string;
  properties?: Record<string, string | number | boolean | null>;
  partitionKey?: string | null;
  authGenerationId?: string;
  body?: unknown;
}

/** Arrays qualify; so does the generator's lazy list. */
export interface EventList<T = EventHubEventInput> {
  readonly length: number;
  at(index: number): T | undefined;
}

export interface EventHubFixtureInput {
  name?: string;
  partitions?: number;
  consumerGroups?: readonly string[];
  keyName?: string;
  key?: string;
  createdAt?: string;
  events?: EventList;
  faults?: EventHubFaults;
}

/** A validated event, ready to append: its partition decided, its body encoded. */
export interface HubEvent {
  partition: number;
  deviceId: string | undefined;
  moduleId: string | undefined;
  authScope: 'device' | 'module';
  messageSource: string;
  /** Epoch ms; undefined: when appended. */
  enqueuedTime: number | undefined;
  properties: Record<string, string | number | boolean | null>;
  partitionKey: string | undefined;
  authGenerationId: string | undefined;
  body: Buffer;
}

export interface EventHubFixture {
  name: string;
  partitionCount: number;
  consumerGroups: string[];
  keyName: string;
  key: string;
  createdAt: number;
  /** Validated lazily for a lazy list, eagerly for an array (a bad file is refused as a whole). */
  events: EventList<HubEvent>;
  faults: EventHubFaults;
}

type Obj = Record<string, unknown>;

function fail(where: string, message: string): never {
  throw new FixtureError(`${where} ${message}`);
}

function isObject(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function checkKeys(o: Obj, where: string, allowed: readonly string[]): void {
  for (const key of Object.keys(o)) if (!allowed.includes(key)) fail(`${where}.${key}`, `is not a field (expected ${allowed.join(', ')})`);
}

function optString(o: Obj, key: string, where: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v === '') fail(`${where}.${key}`, 'must be a non-empty string');
  return v;
}

function optTime(o: Obj, key: string, where: string): number | undefined {
  const s = optString(o, key, where);
  if (s === undefined) return undefined;
  const t = Date.parse(s);
  if (Number.isNaN(t)) fail(`${where}.${key}`, 'must be an ISO 8601 date-time');
  return t;
}

/** A name printed in a quoted export line and put in AMQP addresses: no quote, slash or space. */
function checkName(v: string, where: string): string {
  if (!/^[A-Za-z0-9$][A-Za-z0-9._$-]*$/.test(v)) fail(where, `"${v}" must be letters, digits, '.', '_', '-' or '$'`);
  return v;
}

const EVENT_KEYS = ['partition', 'deviceId', 'moduleId', 'authScope', 'messageSource', 'enqueuedTime', 'properties', 'partitionKey', 'authGenerationId', 'body'];

/** Validates one event; `index` (its position in its list) picks its partition when nothing else does. */
export function normalizeEvent(raw: unknown, where: string, partitionCount: number, index: number): HubEvent {
  if (!isObject(raw)) fail(where, 'must be an object');
  checkKeys(raw, where, EVENT_KEYS);
  const deviceId = optString(raw, 'deviceId', where);
  const moduleId = optString(raw, 'moduleId', where);
  if (moduleId !== undefined && deviceId === undefined) fail(`${where}.moduleId`, 'needs a deviceId');
  const scope = raw['authScope'] ?? (moduleId !== undefined ? 'module' : 'device');
  if (scope !== 'device' && scope !== 'module') fail(`${where}.authScope`, 'must be "device" or "module"');
  const partitionKey = optString(raw, 'partitionKey', where);
  let partition: number;
  const p = raw['partition'];
  if (p === undefined || p === null) {
    const key = partitionKey ?? deviceId;
    partition = key !== undefined ? partitionForKey(key, partitionCount) : index % partitionCount;
  } else {
    partition = typeof p === 'string' && /^\d+$/.test(p) ? Number(p) : (p as number);
    if (typeof partition !== 'number' || !Number.isInteger(partition) || partition < 0 || partition >= partitionCount) {
      fail(`${where}.partition`, `must be a partition id from 0 to ${partitionCount - 1}`);
    }
  }
  const props = raw['properties'] ?? {};
  if (!isObject(props)) fail(`${where}.properties`, 'must be an object of strings, numbers and booleans');
  for (const [k, v] of Object.entries(props)) {
    if (v !== null && typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') fail(`${where}.properties.${k}`, 'must be a string, number, boolean or null');
  }
  const body = raw['body'];
  return {
    partition,
    deviceId,
    moduleId,
    authScope: scope,
    messageSource: optString(raw, 'messageSource', where) ?? 'Telemetry',
    enqueuedTime: optTime(raw, 'enqueuedTime', where),
    properties: props as HubEvent['properties'],
    partitionKey,
    authGenerationId: optString(raw, 'authGenerationId', where),
    body: Buffer.from(typeof body === 'string' ? body : body === undefined ? '{}' : JSON.stringify(body), 'utf8'),
  };
}

/** A list of inputs seen through normalizeEvent; an array is checked whole now, a lazy list when read. */
export function normalizeEvents(list: unknown, where: string, partitionCount: number): EventList<HubEvent> {
  if (list === undefined || list === null) return [];
  if (Array.isArray(list)) return list.map((e, i) => normalizeEvent(e, `${where}[${i}]`, partitionCount, i));
  const lazy = list as Partial<EventList<unknown>>;
  if (typeof lazy.length !== 'number' || typeof lazy.at !== 'function') fail(where, 'must be an array of events');
  const source = lazy as EventList<unknown>;
  return { length: source.length, at: (i) => (i >= 0 && i < source.length ? normalizeEvent(source.at(i), `${where}[${i}]`, partitionCount, i) : undefined) };
}

const SECTION_KEYS = ['name', 'partitions', 'consumerGroups', 'keyName', 'key', 'createdAt', 'events', 'faults'];

/** Validates the `eventhub` section and fills in every default. Throws {@link FixtureError}. */
export function normalizeEventHubFixture(section: unknown): EventHubFixture {
  const where = 'eventhub';
  if (section !== undefined && !isObject(section)) fail(where, 'must be an object');
  const o: Obj = section ?? {};
  checkKeys(o, where, SECTION_KEYS);
  const name = checkName(optString(o, 'name', where) ?? DEFAULT_HUB_NAME, `${where}.name`);
  const partitions = o['partitions'] ?? DEFAULT_PARTITIONS;
  if (typeof partitions !== 'number' || !Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) {
    fail(`${where}.partitions`, `must be an integer from 1 to ${MAX_PARTITIONS}`);
  }
  const groupsRaw = o['consumerGroups'] ?? DEFAULT_CONSUMER_GROUPS;
  if (!Array.isArray(groupsRaw) || groupsRaw.length === 0) fail(`${where}.consumerGroups`, 'must be a non-empty array of names');
  const consumerGroups = groupsRaw.map((g, i) => {
    if (typeof g !== 'string') fail(`${where}.consumerGroups[${i}]`, 'must be a string');
    return checkName(g, `${where}.consumerGroups[${i}]`);
  });
  const keyName = checkName(optString(o, 'keyName', where) ?? DEFAULT_KEY_NAME, `${where}.keyName`);
  const key = optString(o, 'key', where) ?? DEFAULT_KEY;
  // Printed inside a quoted export line and a `;`-separated connection string.
  if (/[';\s]/.test(key)) fail(`${where}.key`, 'must not hold a quote, a semicolon or white space');
  return {
    name,
    partitionCount: partitions,
    consumerGroups,
    keyName,
    key,
    createdAt: optTime(o, 'createdAt', where) ?? DEFAULT_CREATED_AT,
    events: normalizeEvents(o['events'], `${where}.events`, partitions),
    faults: normalizeFaults(o['faults'] ?? {}, `${where}.faults`),
  };
}

/** The `eventhub` section of a whole fleet (`{eventhub: {...}}`), or the section itself. */
export function eventHubSection(input: unknown): unknown {
  if (isObject(input) && 'eventhub' in input) return input['eventhub'];
  return input;
}

/** Reads the fleet file's `eventhub` section (absent: an empty hub with the defaults). */
export function loadEventHubFixture(path: string): EventHubFixture {
  const raw = readFixtureJson(path);
  if (!isObject(raw)) throw new FixtureError(`${path}: fixture must be a JSON object`);
  try {
    return normalizeEventHubFixture(raw['eventhub']);
  } catch (err) {
    if (err instanceof FixtureError) throw new FixtureError(`${path}: ${err.message}`);
    throw err;
  }
}
