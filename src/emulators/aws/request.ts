/** What an operation handler gets and gives back (handlers: iot.ts, data-plane.ts, greengrass.ts). */
import { invalid } from './errors.js';
import type { AwsOperation, AwsService } from './operations.js';
import type { AwsState } from './state.js';

export interface OpRequest {
  operation: AwsOperation;
  service: AwsService;
  /** The path label (thing name, type name, group name, core device name), decoded. */
  name: string | undefined;
  query: URLSearchParams;
  /** The parsed JSON body of a POST (undefined without one). */
  body: unknown;
  state: AwsState;
  /** Wall-clock epoch milliseconds (deprecation dates and their 5-minute rule). */
  now: number;
  /** `host:port` of the emulator: DescribeEndpoint's answer. */
  endpointAddress: string;
  /** A repeat-token fault applies: the listing's next token does not advance. */
  repeatToken: boolean;
}

export interface OpReply {
  status: number;
  body: unknown;
}

export const ok = (body: unknown): OpReply => ({ status: 200, body });

/** Epoch milliseconds -> the epoch seconds restJson1 puts on the wire (fractions kept). */
export function epochSeconds(ms: number): number {
  return ms / 1000;
}

/**
 * `maxResults`: absent -> the service's maximum (AWS documents no default page size); present, an
 * integer in 1..max, or the validation error the service answers.
 */
export function maxResults(req: OpRequest, max: number): number {
  const text = req.query.get('maxResults');
  if (text === null) return max;
  const n = /^-?\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n)) throw invalid(req.service, `1 validation error detected: Value '${text}' at 'maxResults' failed to satisfy constraint: Member must be an integer`);
  if (n < 1) throw invalid(req.service, `1 validation error detected: Value '${n}' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1`);
  if (n > max) throw invalid(req.service, `1 validation error detected: Value '${n}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to ${max}`);
  return n;
}

export function optionalQuery(req: OpRequest, name: string): string | undefined {
  const v = req.query.get(name);
  return v === null || v === '' ? undefined : v;
}

export function invalidToken(req: OpRequest): Error {
  return invalid(req.service, 'The pagination token is invalid.');
}
