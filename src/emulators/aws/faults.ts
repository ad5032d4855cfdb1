/**
 * Injected failures of the AWS emulator (fixture `aws.faults`), checked in order for every request
 * that passed authentication and the quota; the first that applies is used.
 *
 *   {"operation": "ListThings", "kind": "throttle", "times": 1}            ThrottlingException
 *   {"operation": "ListThings", "kind": "error", "status": 500, "times": 2} that status, its service's error
 *   {"operation": "ListThings", "kind": "page", "page": 2}                  that page (1-based) fails, 500
 *   {"operation": "DescribeThing", "kind": "thing", "thing": "thing-7"}    that thing's call fails, 500
 *   {"operation": "ListThingTypes", "kind": "repeat-token"}                nextToken never advances
 *
 * `operation` is an SDK operation name (operations.ts). `times` (every kind) spends the fault after
 * that many requests; omitted, it applies every time. The counters belong to the loaded fixture: a
 * reload of the file resets them. `status` (error, page, thing; default 500 for page and thing)
 * picks the error as errors.ts maps it for the operation's service, `code` names another error;
 * `retryAfterSeconds` (throttle, error) sets `Retry-After`. A throttle answers as a quota
 * refusal does (errors.ts).
 */
import { SpentFaults } from '../spent-faults.js';
import { FixtureError } from '../fixture-file.js';
import { isOperation, LIST_OPERATIONS, OPERATION_NAMES, THING_OPERATIONS, type AwsOperation } from './operations.js';

export type AwsFaultKind = 'throttle' | 'error' | 'page' | 'thing' | 'repeat-token';
export const FAULT_KINDS: readonly AwsFaultKind[] = ['throttle', 'error', 'page', 'thing', 'repeat-token'];

export interface AwsFault {
  operation: AwsOperation;
  kind: AwsFaultKind;
  times?: number;
  /** error, page, thing */
  status?: number;
  code?: string;
  retryAfterSeconds?: number;
  /** page: 1-based */
  page?: number;
  /** thing: the thing name in the request's path */
  thing?: string;
}

/** What a request offers the fault filters. */
export interface FaultSubject {
  operation: AwsOperation;
  /** 1-based page of a listing (undefined: not a listing, or a token that does not decode) */
  page: number | undefined;
  thingName: string | undefined;
}

const FIELDS: Record<AwsFaultKind, readonly string[]> = {
  throttle: ['retryAfterSeconds'],
  error: ['status', 'code', 'retryAfterSeconds'],
  page: ['page', 'status', 'code'],
  thing: ['thing', 'status', 'code'],
  'repeat-token': [],
};

type Obj = Record<string, unknown>;

function fail(where: string, message: string): never {
  throw new FixtureError(`${where} ${message}`);
}

function int(o: Obj, key: string, where: string, min: number, max: number): number | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(`${where}.${key}`, `must be an integer from ${min} to ${max}`);
  return v;
}

export function normalizeFault(raw: unknown, where: string): AwsFault {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail(where, 'must be an object');
  const o = raw as Obj;
  const operation = o['operation'];
  if (typeof operation !== 'string' || !isOperation(operation)) fail(`${where}.operation`, `must be one of ${OPERATION_NAMES.join(', ')}`);
  const kind = o['kind'];
  if (typeof kind !== 'string' || !(FAULT_KINDS as readonly string[]).includes(kind)) fail(`${where}.kind`, `must be one of ${FAULT_KINDS.map((k) => `"${k}"`).join(', ')}`);
  const k = kind as AwsFaultKind;
  const allowed = new Set(['operation', 'kind', 'times', ...FIELDS[k]]);
  for (const key of Object.keys(o)) if (!allowed.has(key)) fail(`${where}.${key}`, `is not a field of a "${k}" fault (expected ${[...allowed].join(', ')})`);
  const fault: AwsFault = { operation, kind: k };
  const times = int(o, 'times', where, 0, Number.MAX_SAFE_INTEGER);
  if (times !== undefined) fault.times = times;
  const status = int(o, 'status', where, 400, 599);
  if (status !== undefined) fault.status = status;
  const retryAfterSeconds = int(o, 'retryAfterSeconds', where, 0, 3600);
  if (retryAfterSeconds !== undefined) fault.retryAfterSeconds = retryAfterSeconds;
  if (o['code'] !== undefined) {
    if (typeof o['code'] !== 'string' || !/^[A-Za-z]+$/.test(o['code'])) fail(`${where}.code`, 'must be an error name such as "ServiceUnavailableException"');
    fault.code = o['code'];
  }
  if (k === 'error' && status === undefined) fail(`${where}.status`, 'is required for an "error" fault (400..599)');
  if (k === 'page' || k === 'repeat-token') {
    if (!LIST_OPERATIONS.includes(operation)) fail(`${where}.operation`, `must be a listing (${LIST_OPERATIONS.join(', ')}) for a "${k}" fault`);
  }
  if (k === 'page') {
    const page = int(o, 'page', where, 1, Number.MAX_SAFE_INTEGER);
    if (page === undefined) fail(`${where}.page`, 'is required for a "page" fault (1-based)');
    fault.page = page;
  }
  if (k === 'thing') {
    if (!THING_OPERATIONS.includes(operation)) fail(`${where}.operation`, `must be one of ${THING_OPERATIONS.join(', ')} for a "thing" fault`);
    if (typeof o['thing'] !== 'string' || o['thing'] === '') fail(`${where}.thing`, 'must be a non-empty thing name');
    fault.thing = o['thing'];
  }
  return fault;
}

/** The fixture's faults, spent as they are met (../spent-faults.ts). */
export class FaultBook extends SpentFaults<AwsFault, FaultSubject> {
  protected applies(f: AwsFault, subject: FaultSubject): boolean {
    if (f.operation !== subject.operation) return false;
    if (f.kind === 'page' && f.page !== subject.page) return false;
    return f.kind !== 'thing' || f.thing === subject.thingName;
  }
}
