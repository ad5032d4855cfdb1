/**
 * Deterministic generator of Navixy customers and their forwarding connections (the fixture's
 * `forwarder` section) for benchmarks and demos: `--generate customers=N,drift=P`.
 *
 * Customers `cust-000001`.. (every 997th reference is awkward: a space, `#` and `/`, and in turn `%`
 * or non-ASCII letters, e.g. `cust 000997#eu/north`), drawn from one sequence:
 *   - provider: 92% Navixy (`navixy`, and some `Navixy`, ` NAVIXY `, `NaviXY`), the rest `other`;
 *   - state: 90% active (`active`, some `ACTIVE`, ` Active `), 5% `suspended`, 3% `removed`, 1%
 *     `paused`, 1% NULL;
 *   - hash: 32 lowercase hex characters for 98%, blank (`''`, `'  '`) or NULL for the rest;
 *   - gatewayCount: 1..24 for 97%, 0 or NULL for the rest.
 * Eligible (INVENTORIES.md, Navixy customers): provider navixy and state active (trimmed, any case),
 * a non-blank hash, a gateway count >= 1.
 *
 * Connections: one `connected` connection with the current hash for every eligible customer, except
 * for round(N·P/100) customers out of step, spread evenly over four kinds (drawn from a sequence of
 * their own, so the customers are the same whatever P):
 *   - missing: eligible, without a connection;
 *   - ineligibleConnected: suspended, removed, unknown state or another provider, WITH a connection;
 *   - rotated: eligible, its connection opened with an old hash;
 *   - duplicate: eligible, with two active connections (the `connected` one, then a `pending` one).
 * Plus, on about 0.5% and 0.2% of all customers, an older `disconnected` or `failed` connection
 * (inactive: never counted by anyone). Ids `conn-00000001`.. in customer order, `createdAt` a minute
 * apart from 2025-01-01, so ids and dates agree.
 *
 * `seedCustomers` writes the customers into the `customers` table of a portal database.
 */
import type { Knex } from 'knex';
import { clientOf } from '../../store/db.js';
import { columns, insertRows } from '../../store/sql.js';
import { GenerateSpecError } from '../aws/generate.js';
import { prng } from '../prng.js';
import { connectionId, type ConnectionStatus, type ForwarderCustomer } from './fixture.js';
import { specItems, takeSpecKeys } from '../generate-spec.js';

export interface ForwarderGenerateSpec {
  customers: number;
  /** Percentage of the customers out of step (0..100). */
  drift: number;
}

export const FORWARDER_GENERATE_KEYS = ['customers', 'drift'] as const;
export const DEFAULT_DRIFT = 1;
const MAX_CUSTOMERS = 10_000_000;
/** Every AWKWARD_EVERY-th reference is awkward. */
export const AWKWARD_EVERY = 997;
const AWKWARD_SUFFIXES = ['#eu/north', '#us/east 100%', '#zürich/süd'];
const BASE_TIME = Date.UTC(2025, 0, 1);
const MINUTE_MS = 60_000;
/** The seed of the drift draws, apart from the customers' sequence. */
const DRIFT_SEED = 0x64726674;

/** Takes `customers=` and `drift=` out of a `--generate` spec; `forwarder` is undefined when neither is there. */
export function splitForwarderSpec(text: string): { rest: string; forwarder: string | undefined } {
  const { rest, mine } = takeSpecKeys(text, FORWARDER_GENERATE_KEYS);
  return { rest, forwarder: mine };
}

/** `customers=50000,drift=1` (these keys only; see splitForwarderSpec). */
export function parseForwarderGenerateSpec(text: string): ForwarderGenerateSpec {
  const given = new Map<string, number>();
  for (const { key, value } of specItems(text, FORWARDER_GENERATE_KEYS, (m) => new GenerateSpecError(m))) {
    if (key === 'customers') {
      if (!/^\d+$/.test(value)) throw new GenerateSpecError(`generate spec: customers must be a non-negative integer, got "${value}"`);
      given.set(key, Number(value));
    } else {
      if (!/^\d+(\.\d+)?$/.test(value)) throw new GenerateSpecError(`generate spec: drift must be a percentage such as 1 or 0.5, got "${value}"`);
      given.set(key, Number(value));
    }
  }
  if (given.has('drift') && !given.has('customers')) throw new GenerateSpecError('generate spec: drift needs customers=N');
  return validate({ customers: given.get('customers') ?? 0, drift: given.get('drift') ?? DEFAULT_DRIFT });
}

function validate(spec: ForwarderGenerateSpec): ForwarderGenerateSpec {
  if (!Number.isSafeInteger(spec.customers) || spec.customers < 0) throw new GenerateSpecError(`generate spec: customers must be a non-negative integer, got ${String(spec.customers)}`);
  if (spec.customers > MAX_CUSTOMERS) throw new GenerateSpecError(`generate spec: customers=${spec.customers} is more than ${MAX_CUSTOMERS}`);
  if (!Number.isFinite(spec.drift) || spec.drift < 0 || spec.drift > 100) throw new GenerateSpecError(`generate spec: drift must be a percentage from 0 to 100, got ${String(spec.drift)}`);
  return spec;
}

/** A generated connection, in the fixture's input form (with the hash, which the emulator keeps only hashed). */
export interface GeneratedConnection {
  id: string;
  customerRef: string;
  hash: string;
  status: ConnectionStatus;
  createdAt: string;
}

/** The references of the customers out of step, per kind (each in customer order). */
export interface ForwarderDrift {
  missing: string[];
  ineligibleConnected: string[];
  rotated: string[];
  duplicate: string[];
}

export interface GeneratedForwarder {
  /** The `forwarder` section: give it to startForwarderEmulator({fixture}) or write it to a fleet file. */
  section: { customers: ForwarderCustomer[]; connections: GeneratedConnection[] };
  drift: ForwarderDrift;
  /** How many customers are eligible. */
  eligible: number;
  /** How many connections are active (connected or pending). */
  active: number;
}

const norm = (v: string | null) => (v ?? '').trim().toLowerCase();

/** The customer's state as the rules read it: trimmed, any case; anything else is unknown. */
export function customerState(c: ForwarderCustomer): 'active' | 'suspended' | 'removed' | 'unknown' {
  const s = norm(c.state);
  return s === 'active' || s === 'suspended' || s === 'removed' ? s : 'unknown';
}

export function isNavixy(c: ForwarderCustomer): boolean {
  return norm(c.provider) === 'navixy';
}

/** Eligible: provider Navixy, state active, a non-blank hash, at least one gateway. */
export function isEligible(c: ForwarderCustomer): boolean {
  return isNavixy(c) && customerState(c) === 'active' && (c.hash ?? '').trim() !== '' && (c.gatewayCount ?? 0) >= 1;
}

/** The reference of customer i (1-based). */
export function customerReference(i: number): string {
  const n = String(i).padStart(6, '0');
  if (i % AWKWARD_EVERY !== 0) return `cust-${n}`;
  return `cust ${n}${AWKWARD_SUFFIXES[(i / AWKWARD_EVERY - 1) % AWKWARD_SUFFIXES.length]!}`;
}

function hex32(rnd: () => number): string {
  let out = '';
  for (let i = 0; i < 4; i++) out += ((rnd() * 4294967296) >>> 0).toString(16).padStart(8, '0');
  return out;
}

function drawCustomer(i: number, rnd: () => number): ForwarderCustomer {
  const p = rnd();
  const pv = rnd();
  const provider = p < 0.92 ? (pv < 0.85 ? 'navixy' : pv < 0.93 ? 'Navixy' : pv < 0.97 ? ' NAVIXY ' : 'NaviXY') : 'other';
  const s = rnd();
  const sv = rnd();
  const state = s < 0.9 ? (sv < 0.9 ? 'active' : sv < 0.97 ? 'ACTIVE' : ' Active ') : s < 0.95 ? 'suspended' : s < 0.98 ? 'removed' : s < 0.99 ? 'paused' : null;
  const h = rnd();
  const hv = rnd();
  const hash = h < 0.98 ? hex32(rnd) : hv < 1 / 3 ? '' : hv < 2 / 3 ? '  ' : null;
  const g = rnd();
  const gv = rnd();
  const gatewayCount = g < 0.97 ? 1 + Math.floor(gv * 24) : gv < 0.5 ? 0 : null;
  return { reference: customerReference(i), name: `Customer ${i}`, provider, state, hash, gatewayCount };
}

/** The first `k` of a deterministic shuffle of `items` (partial Fisher-Yates). */
function pick<T>(items: readonly T[], k: number, rnd: () => number): T[] {
  const a = [...items];
  const n = Math.min(k, a.length);
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(rnd() * (a.length - i));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a.slice(0, n);
}

/** Builds the customers, the connections and what is out of step. Deterministic for the same spec and seed. */
export function generateForwarder(spec: Partial<ForwarderGenerateSpec>, seed = 1): GeneratedForwarder {
  const s = validate({ customers: spec.customers ?? 0, drift: spec.drift ?? DEFAULT_DRIFT });
  const rnd = prng(seed);
  const driftRnd = prng(seed ^ DRIFT_SEED);
  const customers: ForwarderCustomer[] = [];
  /** Per customer: 0 none, 1 an older disconnected connection, 2 an older failed one. */
  const extra: number[] = [];
  for (let i = 1; i <= s.customers; i++) {
    customers.push(drawCustomer(i, rnd));
    const x = rnd();
    extra.push(x < 0.005 ? 1 : x < 0.007 ? 2 : 0);
  }

  const eligibleIdx: number[] = [];
  const ineligibleIdx: number[] = [];
  customers.forEach((c, i) => {
    if (isEligible(c)) eligibleIdx.push(i);
    else if (!isNavixy(c) || customerState(c) !== 'active') ineligibleIdx.push(i);
  });
  const outOfStep = Math.round((s.customers * s.drift) / 100);
  const share = (k: number) => Math.floor(outOfStep / 4) + (k < outOfStep % 4 ? 1 : 0);
  const fromEligible = pick(eligibleIdx, share(0) + share(2) + share(3), driftRnd);
  const missing = new Set(fromEligible.slice(0, share(0)));
  const rotated = new Set(fromEligible.slice(share(0), share(0) + share(2)));
  const duplicate = new Set(fromEligible.slice(share(0) + share(2)));
  const ineligibleConnected = new Set(pick(ineligibleIdx, share(1), driftRnd));

  const connections: GeneratedConnection[] = [];
  const add = (customerRef: string, hash: string, status: ConnectionStatus) => {
    const n = connections.length + 1;
    connections.push({ id: connectionId(n), customerRef, hash, status, createdAt: new Date(BASE_TIME + n * MINUTE_MS).toISOString() });
  };
  const eligibleSet = new Set(eligibleIdx);
  let active = 0;
  customers.forEach((c, i) => {
    if (extra[i] === 1) add(c.reference, hex32(rnd), 'disconnected');
    else if (extra[i] === 2) add(c.reference, hex32(rnd), 'failed');
    const current = (c.hash ?? '').trim() !== '' ? c.hash! : undefined;
    if (eligibleSet.has(i) && !missing.has(i)) {
      add(c.reference, rotated.has(i) ? hex32(driftRnd) : current!, 'connected');
      active++;
      if (duplicate.has(i)) {
        add(c.reference, current!, 'pending');
        active++;
      }
    } else if (ineligibleConnected.has(i)) {
      add(c.reference, current ?? hex32(driftRnd), 'connected');
      active++;
    }
  });

  const refs = (set: Set<number>) => [...set].sort((a, b) => a - b).map((i) => customers[i]!.reference);
  return {
    section: { customers, connections },
    drift: { missing: refs(missing), ineligibleConnected: refs(ineligibleConnected), rotated: refs(rotated), duplicate: refs(duplicate) },
    eligible: eligibleIdx.length,
    active,
  };
}

const CUSTOMER_COLUMNS = columns({ reference: 'text', name: 'text', provider: 'text', state: 'text', navixy_hash: 'text', gateway_count: 'integer' });

/**
 * Replaces the rows of the `customers` table (the embedded customer database of `navixy-customers`)
 * with these customers, in one transaction (all or none), with the store's bulk insert (multi-row
 * VALUES on SQLite, unnest() arrays on PostgreSQL). The table must exist (migrateLatest).
 */
export async function seedCustomers(db: Knex, customers: readonly ForwarderCustomer[]): Promise<number> {
  const client = clientOf(db);
  await db.transaction(async (trx) => {
    await trx('customers').del();
    const rows = customers.map((c) => [c.reference, c.name, c.provider, c.state, c.hash, c.gatewayCount]);
    await insertRows(trx, client, 'customers', CUSTOMER_COLUMNS, rows);
  });
  return customers.length;
}
