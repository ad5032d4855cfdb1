/**
 * Injected failures of the forwarding-service emulator (fixture `forwarder.faults`), checked in order
 * for every request that passed authentication and names an operation; the first that applies is used.
 *
 *   {"operation": "establish", "kind": "error", "customerRef": "X"}              500 for X's establishes
 *   {"operation": "close", "kind": "error", "status": 503, "customerRef": "X", "times": 1}   503 once
 *   {"operation": "list", "kind": "throttle", "retryAfterSeconds": 2, "page": 3}  429 on the 3rd page
 *   {"operation": "read", "kind": "timeout"}                                       never answered
 *   {"operation": "establish", "kind": "ineffective"}                              201, but stored `failed`
 *   {"operation": "close", "kind": "ineffective", "customerRef": "X"}              204, but left as it was
 *
 * `customerRef` matches establish by the body's `customerRef`, close by the closed connection's, read
 * by the path's reference (exactly); `page` (list only) the 1-based page of a listing (the first page
 * is the one without a cursor). `times` spends the fault after that many matching requests (whatever
 * the operation would have answered); omitted, it applies every time. The counters belong to the
 * loaded fixture: a reload of the file resets them.
 */
import { SpentFaults } from '../spent-faults.js';
import { FixtureError } from '../fixture-file.js';

export const OPERATIONS = ['list', 'read', 'establish', 'close'] as const;
export type ForwarderOperation = (typeof OPERATIONS)[number];
export const FAULT_KINDS = ['error', 'throttle', 'timeout', 'ineffective'] as const;
export type ForwarderFaultKind = (typeof FAULT_KINDS)[number];

export interface ForwarderFault {
  operation: ForwarderOperation;
  kind: ForwarderFaultKind;
  /** error: 500 (`internal`, the default) or 503 (`unavailable`) */
  status?: 500 | 503;
  /** throttle: the `Retry-After` seconds (default 1) */
  retryAfterSeconds?: number;
  /** read, establish, close: only that customer's requests */
  customerRef?: string;
  /** list: only that page (1-based) of a listing */
  page?: number;
  times?: number;
}

/** What a request offers the fault filters. */
export interface FaultSubject {
  operation: ForwarderOperation;
  /** undefined: none (a listing, an establish without one, a close of an unknown id) */
  customerRef: string | undefined;
  /** list: the 1-based page (undefined: a cursor the service did not give) */
  page: number | undefined;
}

const FIELDS: Record<ForwarderFaultKind, readonly string[]> = {
  error: ['status'],
  throttle: ['retryAfterSeconds'],
  timeout: [],
  ineffective: [],
};

type Obj = Record<string, unknown>;

function fail(where: string, message: string): never {
  throw new FixtureError(`${where}: ${message}`);
}

function int(o: Obj, key: string, where: string, min: number, max: number): number | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(`${where}.${key}`, `must be an integer from ${min} to ${max}`);
  return v;
}

export function normalizeFault(raw: unknown, where: string): ForwarderFault {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail(where, 'must be an object');
  const o = raw as Obj;
  const operation = o['operation'];
  if (typeof operation !== 'string' || !(OPERATIONS as readonly string[]).includes(operation)) fail(`${where}.operation`, `must be one of ${OPERATIONS.map((k) => `"${k}"`).join(', ')}`);
  const kind = o['kind'];
  if (typeof kind !== 'string' || !(FAULT_KINDS as readonly string[]).includes(kind)) fail(`${where}.kind`, `must be one of ${FAULT_KINDS.map((k) => `"${k}"`).join(', ')}`);
  const op = operation as ForwarderOperation;
  const k = kind as ForwarderFaultKind;
  const allowed = new Set(['operation', 'kind', 'times', ...FIELDS[k], ...(op === 'list' ? ['page'] : ['customerRef'])]);
  for (const key of Object.keys(o)) {
    if (!allowed.has(key)) fail(`${where}.${key}`, `is not a field of a "${k}" fault of "${op}" (expected ${[...allowed].join(', ')})`);
  }
  if (k === 'ineffective' && op !== 'establish' && op !== 'close') fail(`${where}.kind`, '"ineffective" applies to "establish" and "close" only');
  const fault: ForwarderFault = { operation: op, kind: k };
  const times = int(o, 'times', where, 0, Number.MAX_SAFE_INTEGER);
  if (times !== undefined) fault.times = times;
  if (o['status'] !== undefined) {
    if (o['status'] !== 500 && o['status'] !== 503) fail(`${where}.status`, 'must be 500 or 503');
    fault.status = o['status'];
  }
  const retryAfterSeconds = int(o, 'retryAfterSeconds', where, 0, 3600);
  if (retryAfterSeconds !== undefined) fault.retryAfterSeconds = retryAfterSeconds;
  if (o['customerRef'] !== undefined) {
    if (typeof o['customerRef'] !== 'string' || o['customerRef'] === '') fail(`${where}.customerRef`, 'must be a non-empty customer reference');
    fault.customerRef = o['customerRef'];
  }
  const page = int(o, 'page', where, 1, Number.MAX_SAFE_INTEGER);
  if (page !== undefined) fault.page = page;
  return fault;
}

/** The fixture's faults, spent as they are met (../spent-faults.ts). */
export class FaultBook extends SpentFaults<ForwarderFault, FaultSubject> {
  protected applies(f: ForwarderFault, subject: FaultSubject): boolean {
    if (f.operation !== subject.operation) return false;
    if (f.customerRef !== undefined && f.customerRef !== subject.customerRef) return false;
    return f.page === undefined || f.page === subject.page;
  }
}
