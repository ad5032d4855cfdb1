/**
 * The emulated Cisco Control Center (Jasper) fixture: section `jasper` of the fleet file the other
 * emulators also read (each ignores the others' sections).
 *
 * ```jsonc
 * "jasper": {
 *   "providers": [{ "id": "sp1",                   // [A-Za-z0-9][A-Za-z0-9._-]*, at most 64 characters
 *                   "name": "Operator One",         // optional (default "Emulated service provider sp1")
 *                   "username": "api-user",         // optional (default "api-user")
 *                   "apiKey": "...",                // optional (default "jasper-emulator-key-sp1")
 *                   "rateLimit": "5/s",             // optional: past it, 400 errorCode 40000029
 *                   "devices": [{ "iccid": "8901260...", "status": "ACTIVATED", "ratePlan": "...",
 *                                 "communicationPlan": "...", "modifiedAt": "2026-11-20T10:00:00Z" }] }],
 *   "faults": [{ "provider": "sp1", "kind": "error", "status": 503, "page": 2, "times": 1 }]
 * }
 * ```
 *
 * A device's `status`, `ratePlan` and `communicationPlan` are required keys whose value is a string
 * (served exactly as written, blank included) or null (served as null: a bad record on purpose).
 * `modifiedAt` (ISO 8601 with a zone) orders the listing and is never served; absent, it is the time
 * the file was (re)loaded, so a device added to the file is seen by the next incremental listing.
 * Duplicate ICCIDs are allowed on purpose: each entry is served as listed.
 *
 * Two providers whose ids give the same `JASPER_API_KEY_<ID>` variable are refused (their exports
 * would collide). Errors name the field (`jasper.providers[0].devices[3].iccid: ...`) and never quote
 * a value: a value may be an API key.
 */
import { FixtureError, readFixtureJson } from '../fixture-file.js';
import { parseRate, type Rate } from '../iothub/quota.js';
import { normalizeJasperFault, type JasperFault } from './faults.js';

export const DEFAULT_USERNAME = 'api-user';
export const SECTION_KEYS = ['providers', 'faults'] as const;
export const PROVIDER_KEYS = ['id', 'name', 'username', 'apiKey', 'rateLimit', 'devices'] as const;
export const DEVICE_KEYS = ['iccid', 'status', 'ratePlan', 'communicationPlan', 'modifiedAt'] as const;
/** jasper_service_providers.id is varchar(64) (migrations/columns.cjs). */
export const PROVIDER_ID_MAX = 64;
const PROVIDER_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** Generous bounds for one field, so that a broken file is refused rather than served. */
const FIELD_MAX = 1024;

/** The emulator's API key of a provider the fixture gives none: emulator-only, printed by env(). */
export function defaultApiKey(providerId: string): string {
  return `jasper-emulator-key-${providerId}`;
}

/** `JASPER_API_KEY_<ID>`: the id upper-cased, every character but A-Z and 0-9 as `_`. */
export function apiKeyVariable(providerId: string): string {
  return `JASPER_API_KEY_${providerId.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/** A device as the emulator stores it; `modifiedAt` (epoch ms) orders the listing and is never served. */
export interface JasperDevice {
  iccid: string;
  status: string | null;
  ratePlan: string | null;
  communicationPlan: string | null;
  modifiedAt: number;
}

export interface JasperProvider {
  id: string;
  name: string;
  username: string;
  apiKey: string;
  /** Undefined: no limit. */
  rateLimit: Rate | undefined;
  /** As in the file (the state sorts them). */
  devices: JasperDevice[];
}

export interface JasperFixture {
  providers: JasperProvider[];
  faults: JasperFault[];
}

/** The `jasper` section as written. */
export type JasperFixtureInput = Record<string, unknown>;
/** A whole fleet file's content: the Jasper emulator reads its `jasper` section. */
export interface FixtureWithJasper {
  jasper?: JasperFixtureInput;
  [key: string]: unknown;
}

type Obj = Record<string, unknown>;

export function fail(where: string, message: string): never {
  throw new FixtureError(`${where}: ${message}`);
}

export function isObject(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** An object with only the given keys: a typo is an error, not a silently ignored field. */
export function obj(v: unknown, where: string, keys: readonly string[]): Obj {
  if (!isObject(v)) fail(where, 'must be an object');
  for (const key of Object.keys(v)) if (!keys.includes(key)) fail(`${where}.${key}`, `is not a field here (expected ${keys.join(', ')})`);
  return v;
}

function optArray(o: Obj, key: string, where: string): unknown[] {
  const v = o[key];
  if (v === undefined) return [];
  if (!Array.isArray(v)) fail(`${where}.${key}`, 'must be an array');
  return v;
}

/** Visible ASCII without a quote: sent in a header and printed in a single-quoted export line. */
function credential(o: Obj, key: string, where: string, fallback: string, colon: boolean): string {
  const v = o[key];
  if (v === undefined) return fallback;
  if (typeof v !== 'string' || !/^[\x21-\x7e]+$/.test(v) || v.includes("'")) fail(`${where}.${key}`, 'must be a non-empty string of visible ASCII characters without a quote');
  if (v.length > FIELD_MAX) fail(`${where}.${key}`, `must be at most ${FIELD_MAX} characters`);
  if (!colon && v.includes(':')) fail(`${where}.${key}`, 'must not hold a colon (Basic authentication splits user name and key at the first one)');
  return v;
}

/** A required key whose value is a string (any, blank included) or null. */
function nullableString(o: Obj, key: string, where: string): string | null {
  if (!(key in o)) fail(`${where}.${key}`, 'is required (a string, or null for a bad record on purpose)');
  const v = o[key];
  if (v === null) return null;
  if (typeof v !== 'string') fail(`${where}.${key}`, 'must be a string or null');
  if (v.length > FIELD_MAX) fail(`${where}.${key}`, `must be at most ${FIELD_MAX} characters`);
  if (v.includes('\0')) fail(`${where}.${key}`, 'must not hold a NUL character');
  return v;
}

const ISO_WITH_ZONE = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d{1,9})?(Z|[+-](\d\d):(\d\d))$/;

/**
 * Epoch ms of an ISO 8601 date-time with a zone (`2026-11-01T00:00:00Z`, `...+01:00`, fractions
 * allowed); undefined when it is not one or names no real instant (`2026-02-30`, `24:00`).
 */
export function parseIsoWithZone(text: string): number | undefined {
  const m = ISO_WITH_ZONE.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i]));
  if (month! < 1 || month! > 12 || hour! > 23 || minute! > 59 || second! > 59) return undefined;
  const daysInMonth = new Date(Date.UTC(year!, month!, 0)).getUTCDate();
  if (day! < 1 || day! > daysInMonth) return undefined;
  if (m[8] !== 'Z' && (Number(m[9]) > 23 || Number(m[10]) > 59)) return undefined;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? ms : undefined;
}

/** A device as the fixture or `POST /__emulator/jasper/devices` gives it. */
export function normalizeDevice(raw: unknown, where: string, defaultModifiedAt: number): JasperDevice {
  const o = obj(raw, where, DEVICE_KEYS);
  const iccid = o['iccid'];
  // Served as a string always; its content is the command's to judge (19 or 20 digits, say).
  if (typeof iccid !== 'string' || iccid === '') fail(`${where}.iccid`, 'must be a non-empty string');
  if (iccid.length > FIELD_MAX || iccid.includes('\0')) fail(`${where}.iccid`, `must be at most ${FIELD_MAX} characters, without a NUL`);
  let modifiedAt = defaultModifiedAt;
  if (o['modifiedAt'] !== undefined) {
    const v = o['modifiedAt'];
    const ms = typeof v === 'string' ? parseIsoWithZone(v) : undefined;
    if (ms === undefined) fail(`${where}.modifiedAt`, 'must be an ISO 8601 date-time with a zone, such as "2026-11-20T10:00:00Z"');
    modifiedAt = ms;
  }
  return {
    iccid,
    status: nullableString(o, 'status', where),
    ratePlan: nullableString(o, 'ratePlan', where),
    communicationPlan: nullableString(o, 'communicationPlan', where),
    modifiedAt,
  };
}

function normalizeProvider(raw: unknown, where: string, loadedAt: number): JasperProvider {
  const o = obj(raw, where, PROVIDER_KEYS);
  const id = o['id'];
  if (typeof id !== 'string' || !PROVIDER_ID.test(id) || id.length > PROVIDER_ID_MAX) {
    fail(`${where}.id`, `must be letters, digits, ".", "_" or "-" (starting with a letter or digit), at most ${PROVIDER_ID_MAX} characters`);
  }
  let name = `Emulated service provider ${id}`;
  if (o['name'] !== undefined) {
    const v = o['name'];
    if (typeof v !== 'string' || v.trim() === '' || v.length > FIELD_MAX || v.includes('\0')) fail(`${where}.name`, `must be a non-blank string of at most ${FIELD_MAX} characters`);
    name = v;
  }
  let rateLimit: Rate | undefined;
  if (o['rateLimit'] !== undefined) {
    const v = o['rateLimit'];
    if (typeof v !== 'string') fail(`${where}.rateLimit`, 'must be a rate such as "5/s" (requests per s, min or h)');
    try {
      rateLimit = parseRate(v);
    } catch (err) {
      fail(`${where}.rateLimit`, (err as Error).message);
    }
  }
  const devices = optArray(o, 'devices', where).map((d, i) => normalizeDevice(d, `${where}.devices[${i}]`, loadedAt));
  return {
    id,
    name,
    username: credential(o, 'username', where, DEFAULT_USERNAME, false),
    apiKey: credential(o, 'apiKey', where, defaultApiKey(id), true),
    rateLimit,
    devices,
  };
}

/**
 * The `jasper` section of what `startJasperEmulator({fixture})` was given: a whole fleet's `jasper`,
 * or the section itself when every key is a section key. A fleet without one has no providers.
 */
export function jasperSection(input: unknown): unknown {
  if (!isObject(input)) return input;
  if ('jasper' in input) return input['jasper'];
  const keys = Object.keys(input);
  return keys.every((k) => (SECTION_KEYS as readonly string[]).includes(k)) ? input : undefined;
}

/**
 * Validates the `jasper` section and fills in every default. `loadedAt` (epoch ms) is the
 * `modifiedAt` of devices that give none. Throws {@link FixtureError}.
 */
export function normalizeJasperFixture(section: unknown, loadedAt: number = Date.now()): JasperFixture {
  const where = 'jasper';
  const o = section === undefined || section === null ? {} : obj(section, where, SECTION_KEYS);
  const providers = optArray(o, 'providers', where).map((p, i) => normalizeProvider(p, `${where}.providers[${i}]`, loadedAt));
  const ids = new Map<string, number>();
  const variables = new Map<string, number>();
  providers.forEach((p, i) => {
    const prev = ids.get(p.id);
    if (prev !== undefined) fail(`${where}.providers[${i}].id`, `duplicates ${where}.providers[${prev}].id`);
    ids.set(p.id, i);
    const variable = apiKeyVariable(p.id);
    const clash = variables.get(variable);
    if (clash !== undefined) fail(`${where}.providers[${i}].id`, `gives the same ${variable} as ${where}.providers[${clash}].id`);
    variables.set(variable, i);
  });
  const faults = optArray(o, 'faults', where).map((raw, i) => normalizeJasperFault(raw, `${where}.faults[${i}]`));
  faults.forEach((f, i) => {
    if (f.provider !== undefined && !ids.has(f.provider)) fail(`${where}.faults[${i}].provider`, 'names no provider of jasper.providers');
  });
  return { providers, faults };
}

/** Reads a fleet file and normalizes its `jasper` section (absent: no providers). Throws {@link FixtureError}. */
export function loadJasperFixture(path: string, loadedAt: number = Date.now()): JasperFixture {
  const raw = readFixtureJson(path);
  if (!isObject(raw)) throw new FixtureError(`${path}: fixture must be a JSON object`);
  try {
    return normalizeJasperFixture(raw['jasper'], loadedAt);
  } catch (err) {
    if (err instanceof FixtureError) throw new FixtureError(`${path}: ${err.message}`);
    throw err;
  }
}
