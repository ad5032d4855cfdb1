/**
 * Injected failures of the Control Center emulator (fixture `jasper.faults`), checked in order for
 * every devices request that passed authentication (and the provider's `rateLimit`); the first that
 * applies is used.
 *
 *   {"kind": "error"}                                   500 JSON {"errorMessage", "errorCode"}
 *   {"kind": "error", "status": 503}                    503 with an HTML body, as a load balancer sends it
 *   {"kind": "rate-limit"}                              400 errorCode 40000029 "Rate Limit Exceeded"
 *   {"kind": "rate-limit", "status": 429, "retryAfterSeconds": 2}   429 with Retry-After (default 1)
 *   {"kind": "timeout"}                                 no answer until the client gives up or the server closes
 *   {"kind": "page", "page": 3, "status": 503}          page 3 of any listing fails (status 500 by default;
 *                                                       400 and 429 give the rate-limit answers)
 *   {"kind": "bad-record", "flaw": "null-status", "position": 2}   the served page's 2nd record is served
 *                                                       with that flaw (default: missing-iccid, position 1)
 *
 * Filters: `provider` (that provider's requests only), `page` (that `pageNumber` only; required by
 * `page`), `times` (the first n matching requests only; omitted: every time). A `bad-record` fault
 * matches only a valid listing whose page has records (a position past the page's end is its last
 * record); the other kinds match any request of the devices path, one with bad parameters included.
 * The counters belong to the loaded fixture: a reload of the file resets them.
 */
import { SpentFaults } from '../spent-faults.js';
import { FixtureError } from '../fixture-file.js';

export const FAULT_KINDS = ['error', 'rate-limit', 'timeout', 'page', 'bad-record'] as const;
export type JasperFaultKind = (typeof FAULT_KINDS)[number];
/** How a `bad-record` fault spoils the record it serves. */
export const FLAWS = ['missing-iccid', 'null-iccid', 'numeric-iccid', 'null-status', 'blank-ratePlan', 'missing-communicationPlan'] as const;
export type JasperFlaw = (typeof FLAWS)[number];

export interface JasperFault {
  kind: JasperFaultKind;
  provider?: string;
  page?: number;
  times?: number;
  /** error: 500 | 503; rate-limit: 400 | 429; page: any of them. */
  status?: 400 | 429 | 500 | 503;
  /** With status 429: the Retry-After seconds (default 1). */
  retryAfterSeconds?: number;
  flaw?: JasperFlaw;
  /** bad-record: the 1-based record of the page (default 1). */
  position?: number;
}

/** What a request offers the fault filters. */
export interface FaultSubject {
  provider: string;
  /** The requested page; undefined when pageNumber is not valid. */
  page: number | undefined;
  /** How many records the page serves; 0 when the request is not a valid listing. */
  records: number;
}

const STATUSES: Record<JasperFaultKind, readonly number[]> = {
  error: [500, 503],
  'rate-limit': [400, 429],
  timeout: [],
  page: [500, 503, 400, 429],
  'bad-record': [],
};

const FIELDS: Record<JasperFaultKind, readonly string[]> = {
  error: ['status'],
  'rate-limit': ['status', 'retryAfterSeconds'],
  timeout: [],
  page: ['status', 'retryAfterSeconds'],
  'bad-record': ['flaw', 'position'],
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

export function normalizeJasperFault(raw: unknown, where: string): JasperFault {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail(where, 'must be an object');
  const o = raw as Obj;
  const kind = o['kind'];
  if (typeof kind !== 'string' || !(FAULT_KINDS as readonly string[]).includes(kind)) fail(`${where}.kind`, `must be one of ${FAULT_KINDS.map((k) => `"${k}"`).join(', ')}`);
  const k = kind as JasperFaultKind;
  const allowed = ['kind', 'provider', 'page', 'times', ...FIELDS[k]];
  for (const key of Object.keys(o)) if (!allowed.includes(key)) fail(`${where}.${key}`, `is not a field of a "${k}" fault (expected ${allowed.join(', ')})`);
  const fault: JasperFault = { kind: k };
  if (o['provider'] !== undefined) {
    if (typeof o['provider'] !== 'string' || o['provider'] === '') fail(`${where}.provider`, 'must be a provider id');
    fault.provider = o['provider'];
  }
  const page = int(o, 'page', where, 1, Number.MAX_SAFE_INTEGER);
  if (page !== undefined) fault.page = page;
  else if (k === 'page') fail(`${where}.page`, 'is required by a "page" fault (the 1-based page that fails)');
  const times = int(o, 'times', where, 0, Number.MAX_SAFE_INTEGER);
  if (times !== undefined) fault.times = times;
  if (o['status'] !== undefined) {
    const allowedStatuses = STATUSES[k];
    if (!allowedStatuses.includes(o['status'] as number)) fail(`${where}.status`, `must be one of ${allowedStatuses.join(', ')} for a "${k}" fault`);
    fault.status = o['status'] as JasperFault['status'];
  }
  const retryAfterSeconds = int(o, 'retryAfterSeconds', where, 0, 3600);
  if (retryAfterSeconds !== undefined) {
    if (fault.status !== 429) fail(`${where}.retryAfterSeconds`, 'goes with "status": 429 only (Control Center\'s 400 answer has no Retry-After)');
    fault.retryAfterSeconds = retryAfterSeconds;
  }
  if (o['flaw'] !== undefined) {
    if (typeof o['flaw'] !== 'string' || !(FLAWS as readonly string[]).includes(o['flaw'])) fail(`${where}.flaw`, `must be one of ${FLAWS.map((f) => `"${f}"`).join(', ')}`);
    fault.flaw = o['flaw'] as JasperFlaw;
  }
  const position = int(o, 'position', where, 1, 50);
  if (position !== undefined) fault.position = position;
  return fault;
}

/** The fixture's faults, spent as they are met (../spent-faults.ts). */
export class FaultBook extends SpentFaults<JasperFault, FaultSubject> {
  protected applies(f: JasperFault, subject: FaultSubject): boolean {
    if (f.provider !== undefined && f.provider !== subject.provider) return false;
    if (f.page !== undefined && f.page !== subject.page) return false;
    return f.kind !== 'bad-record' || subject.records !== 0;
  }
}

/** The record a `bad-record` fault serves in place of `record`: the API's shape, with the flaw. */
export function spoil(record: Readonly<Record<string, unknown>>, flaw: JasperFlaw): Record<string, unknown> {
  const out: Record<string, unknown> = { ...record };
  switch (flaw) {
    case 'missing-iccid':
      delete out['iccid'];
      break;
    case 'null-iccid':
      out['iccid'] = null;
      break;
    case 'numeric-iccid':
      // What a careless serializer does; 19 digits do not survive a double.
      out['iccid'] = Number(record['iccid']);
      break;
    case 'null-status':
      out['status'] = null;
      break;
    case 'blank-ratePlan':
      out['ratePlan'] = '  ';
      break;
    case 'missing-communicationPlan':
      delete out['communicationPlan'];
      break;
  }
  return out;
}
