/**
 * The emulated Navixy data-forwarding service's fixture: section `forwarder` of the fleet file the
 * other emulators also read (each ignores the others' sections). Every field is optional:
 *
 * ```jsonc
 * "forwarder": {
 *   "token": "...",                 // the bearer token the API takes (default DEFAULT_FORWARDER_TOKEN)
 *   "establishAs": "connected",     // or "pending": the status a new connection gets
 *   "connections": [{ "id": "conn-1", "customerRef": "cust-000001", "hash": "...", "status": "connected",
 *                     "createdAt": "2026-01-01T00:00:00Z" }],
 *   "customers": [{ "reference": "cust-000001", "name": "...", "provider": "navixy", "state": "active",
 *                   "hash": "...", "gatewayCount": 3 }],
 *   "faults": [{ "operation": "establish", "kind": "error", "customerRef": "cust-000002" }]
 * }
 * ```
 *
 * Connections are what the service holds when the file is loaded; a connection keeps only the
 * SHA-256 of its hash (the service never shows a hash). Defaults: status `connected`, `createdAt`
 * 2026-01-01T00:00:00.000Z, ids `conn-00000001`.. in file order (skipping ids the file gives).
 * `customers` is not served: `emulate --seed-models` writes it into the `customers` table.
 *
 * Errors name the field (`forwarder.connections[3].customerRef: ...`) and never quote a value: a
 * value may be a hash or the token.
 */
import { createHash } from 'node:crypto';
import { FixtureError, readFixtureJson } from '../fixture-file.js';
import { normalizeFault, type ForwarderFault } from './faults.js';

export const CONNECTION_STATUSES = ['connected', 'pending', 'disconnected', 'failed'] as const;
export type ConnectionStatus = (typeof CONNECTION_STATUSES)[number];
/** `connected` and `pending` are active: a customer may hold one active connection (establish refuses a second). */
export const ACTIVE_STATUSES: readonly ConnectionStatus[] = ['connected', 'pending'];
export const ESTABLISH_STATUSES = ['connected', 'pending'] as const;
export type EstablishStatus = (typeof ESTABLISH_STATUSES)[number];

/** The emulator's bearer token when the fixture names none: emulator-only, printed by env(). */
export const DEFAULT_FORWARDER_TOKEN = 'navixy-forwarder-emulator-token-0000';
export const DEFAULT_CREATED_AT = '2026-01-01T00:00:00.000Z';

/** A connection as the API shows it (and as the emulator stores it). */
export interface ForwarderConnection {
  id: string;
  customerRef: string;
  /** Lowercase hex SHA-256 of the hash the connection was opened with. */
  hashSha256: string;
  status: ConnectionStatus;
  /** ISO 8601, UTC, milliseconds. */
  createdAt: string;
}

/** A row of the customer database (`customers` table) as `--seed-models` writes it. */
export interface ForwarderCustomer {
  reference: string;
  name: string | null;
  provider: string | null;
  state: string | null;
  hash: string | null;
  gatewayCount: number | null;
}

export interface ForwarderFixture {
  token: string;
  establishAs: EstablishStatus;
  /** Sorted as in the file; the state sorts by id. */
  connections: ForwarderConnection[];
  customers: ForwarderCustomer[];
  faults: ForwarderFault[];
}

/** The `forwarder` section as written. */
export type ForwarderFixtureInput = Record<string, unknown>;
/** A whole fleet file's content: the forwarder emulator reads its `forwarder` section. */
export interface FixtureWithForwarder {
  forwarder?: ForwarderFixtureInput;
  [key: string]: unknown;
}

type Obj = Record<string, unknown>;

export function fail(where: string, message: string): never {
  throw new FixtureError(`${where}: ${message}`);
}

function isObject(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** An object with only the given keys: a typo is an error, not a silently ignored field. */
export function obj(v: unknown, where: string, keys: readonly string[]): Obj {
  if (!isObject(v)) fail(where, 'must be an object');
  for (const key of Object.keys(v)) if (!keys.includes(key)) fail(`${where}.${key}`, `is not a field here (expected ${keys.join(', ')})`);
  return v;
}

export const SECTION_KEYS = ['token', 'establishAs', 'connections', 'customers', 'faults'] as const;
export const CONNECTION_KEYS = ['id', 'customerRef', 'hash', 'status', 'createdAt'] as const;
const CUSTOMER_KEYS = ['reference', 'name', 'provider', 'state', 'hash', 'gatewayCount'];
/** The customers table's limits (migrations/columns.cjs): reference varchar(255), provider and state varchar(64). */
const REFERENCE_MAX = 255;
const PROVIDER_MAX = 64;
const INT32_MAX = 2_147_483_647;

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

function nonEmptyString(o: Obj, key: string, where: string, max = Number.MAX_SAFE_INTEGER): string {
  const v = o[key];
  if (typeof v !== 'string' || v.trim() === '') fail(`${where}.${key}`, 'must be a non-blank string');
  if (v.length > max) fail(`${where}.${key}`, `must be at most ${max} characters`);
  if (v.includes('\0')) fail(`${where}.${key}`, 'must not hold a NUL character');
  return v;
}

function nullableString(o: Obj, key: string, where: string, required: boolean, max = Number.MAX_SAFE_INTEGER): string | null {
  if (!(key in o)) {
    if (required) fail(`${where}.${key}`, 'is required (a string, or null)');
    return null;
  }
  const v = o[key];
  if (v === null) return null;
  if (typeof v !== 'string') fail(`${where}.${key}`, 'must be a string or null');
  if (v.length > max) fail(`${where}.${key}`, `must be at most ${max} characters`);
  if (v.includes('\0')) fail(`${where}.${key}`, 'must not hold a NUL character');
  return v;
}

/** An ISO 8601 date, given back as `toISOString()` text; `fallback` when absent. */
export function isoDate(o: Obj, key: string, where: string, fallback: string): string {
  const v = o[key];
  if (v === undefined) return fallback;
  const ms = typeof v === 'string' && /^\d{4}-\d\d-\d\d/.test(v) ? Date.parse(v) : NaN;
  if (!Number.isFinite(ms)) fail(`${where}.${key}`, 'must be an ISO 8601 date such as "2026-11-23T10:00:00Z"');
  return new Date(ms).toISOString();
}

/** A connection as the fixture or `POST /__emulator/forwarder/connections` gives it; `id` undefined when absent. */
export interface ConnectionDraft {
  id: string | undefined;
  customerRef: string;
  hashSha256: string;
  status: ConnectionStatus;
  createdAt: string;
}

export function normalizeConnection(raw: unknown, where: string, defaultCreatedAt: string): ConnectionDraft {
  const o = obj(raw, where, CONNECTION_KEYS);
  let id: string | undefined;
  if (o['id'] !== undefined) id = nonEmptyString(o, 'id', where, REFERENCE_MAX);
  const customerRef = nonEmptyString(o, 'customerRef', where, REFERENCE_MAX);
  const hash = nonEmptyString(o, 'hash', where);
  const status = o['status'] ?? 'connected';
  if (typeof status !== 'string' || !(CONNECTION_STATUSES as readonly string[]).includes(status)) {
    fail(`${where}.status`, `must be one of ${CONNECTION_STATUSES.map((s) => `"${s}"`).join(', ')}`);
  }
  return { id, customerRef, hashSha256: sha256Hex(hash), status: status as ConnectionStatus, createdAt: isoDate(o, 'createdAt', where, defaultCreatedAt) };
}

function normalizeCustomer(raw: unknown, where: string): ForwarderCustomer {
  const o = obj(raw, where, CUSTOMER_KEYS);
  const reference = o['reference'];
  // A reference is compared byte for byte: one of spaces only is still a reference, an empty one is not.
  if (typeof reference !== 'string' || reference === '') fail(`${where}.reference`, 'must be a non-empty string');
  if (reference.length > REFERENCE_MAX) fail(`${where}.reference`, `must be at most ${REFERENCE_MAX} characters`);
  if (reference.includes('\0')) fail(`${where}.reference`, 'must not hold a NUL character');
  const gatewayCount = o['gatewayCount'];
  if (gatewayCount !== undefined && gatewayCount !== null) {
    if (typeof gatewayCount !== 'number' || !Number.isInteger(gatewayCount) || gatewayCount < 0 || gatewayCount > INT32_MAX) {
      fail(`${where}.gatewayCount`, `must be an integer from 0 to ${INT32_MAX}, or null`);
    }
  }
  return {
    reference,
    name: nullableString(o, 'name', where, false),
    provider: nullableString(o, 'provider', where, true, PROVIDER_MAX),
    state: nullableString(o, 'state', where, true, PROVIDER_MAX),
    hash: nullableString(o, 'hash', where, false),
    gatewayCount: (gatewayCount ?? null) as number | null,
  };
}

function optArray(o: Obj, key: string, where: string): unknown[] {
  const v = o[key];
  if (v === undefined) return [];
  if (!Array.isArray(v)) fail(`${where}.${key}`, 'must be an array');
  return v;
}

/** `conn-00000001`: the ids the emulator gives, fixed width so that their text order is their number order. */
export function connectionId(n: number): string {
  return `conn-${String(n).padStart(8, '0')}`;
}

/** Gives every draft without an id the next free `conn-NNNNNNNN`; refuses a repeated id (naming the field). */
export function assignIds(drafts: readonly ConnectionDraft[], where: string, taken: (id: string) => boolean = () => false, first = 1): ForwarderConnection[] {
  const seen = new Map<string, number>();
  drafts.forEach((d, i) => {
    if (d.id === undefined) return;
    const prev = seen.get(d.id);
    if (prev !== undefined) fail(`${where}[${i}].id`, `duplicates ${where}[${prev}].id`);
    seen.set(d.id, i);
  });
  let n = first;
  return drafts.map((d) => {
    let id = d.id;
    if (id === undefined) {
      while (seen.has(connectionId(n)) || taken(connectionId(n))) n++;
      id = connectionId(n++);
    }
    return { id, customerRef: d.customerRef, hashSha256: d.hashSha256, status: d.status, createdAt: d.createdAt };
  });
}

/**
 * The `forwarder` section of what `startForwarderEmulator({fixture})` was given: a whole fleet's
 * `forwarder`, or the section itself when every key is a section key. A fleet without one is an
 * empty service.
 */
export function forwarderSection(input: unknown): unknown {
  if (!isObject(input)) return input;
  if ('forwarder' in input) return input['forwarder'];
  const keys = Object.keys(input);
  return keys.every((k) => (SECTION_KEYS as readonly string[]).includes(k)) ? input : undefined;
}

/** Validates the `forwarder` section and fills in every default. Throws {@link FixtureError}. */
export function normalizeForwarderFixture(section: unknown): ForwarderFixture {
  const where = 'forwarder';
  const o = section === undefined || section === null ? {} : obj(section, where, SECTION_KEYS);
  let token = DEFAULT_FORWARDER_TOKEN;
  if (o['token'] !== undefined) {
    const t = o['token'];
    // Sent in a header and printed in a single-quoted export line: visible ASCII, no quote.
    if (typeof t !== 'string' || !/^[\x21-\x7e]+$/.test(t) || t.includes("'")) fail(`${where}.token`, 'must be a non-empty string of visible ASCII characters without a quote');
    token = t;
  }
  const establishAs = o['establishAs'] ?? 'connected';
  if (typeof establishAs !== 'string' || !(ESTABLISH_STATUSES as readonly string[]).includes(establishAs)) {
    fail(`${where}.establishAs`, `must be one of ${ESTABLISH_STATUSES.map((s) => `"${s}"`).join(', ')}`);
  }
  const drafts = optArray(o, 'connections', where).map((raw, i) => normalizeConnection(raw, `${where}.connections[${i}]`, DEFAULT_CREATED_AT));
  const connections = assignIds(drafts, `${where}.connections`);
  const customers = optArray(o, 'customers', where).map((raw, i) => normalizeCustomer(raw, `${where}.customers[${i}]`));
  const seen = new Map<string, number>();
  customers.forEach((c, i) => {
    const prev = seen.get(c.reference);
    if (prev !== undefined) fail(`${where}.customers[${i}].reference`, `duplicates ${where}.customers[${prev}].reference`);
    seen.set(c.reference, i);
  });
  const faults = optArray(o, 'faults', where).map((raw, i) => normalizeFault(raw, `${where}.faults[${i}]`));
  return { token, establishAs: establishAs as EstablishStatus, connections, customers, faults };
}

/** Reads a fleet file and normalizes its `forwarder` section (absent: an empty service). Throws {@link FixtureError}. */
export function loadForwarderFixture(path: string): ForwarderFixture {
  const raw = readFixtureJson(path);
  if (!isObject(raw)) throw new FixtureError(`${path}: fixture must be a JSON object`);
  try {
    return normalizeForwarderFixture(raw['forwarder']);
  } catch (err) {
    if (err instanceof FixtureError) throw new FixtureError(`${path}: ${err.message}`);
    throw err;
  }
}
