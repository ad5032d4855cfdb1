/**
 * The emulated Navixy data-forwarding service: the connections API `navixy-customers` talks to, on
 * one loopback port.
 *
 *   GET    /v1/connections?limit=N&cursor=C      list      every connection, by id, paged
 *   GET    /v1/customers/{ref}/connections       read      one customer's connections
 *   POST   /v1/connections {customerRef, hash}   establish 201 the new connection, 409 if one is active
 *   DELETE /v1/connections/{id}                  close     204; 404 when unknown or not active
 *
 * Every /v1 request needs `Authorization: Bearer <token>` (401 `unauthorized` otherwise). Each is
 * checked in this order: the token, the route (404 `not_found`, 405 `method_not_allowed`, a path
 * segment that is not valid percent-encoding 400), the injected faults (faults.ts), then the
 * operation's own checks and work. Every request that names an operation is counted under it,
 * refused ones included. Errors are `{"error": {"code", "message"}}`; no message holds a token or a
 * hash, nor echoes the Authorization header.
 *
 * Test endpoints (no token):
 *   GET    /__emulator/stats                       counters, per operation and per answer status
 *   DELETE /__emulator/stats                       resets the counters
 *   GET    /__emulator/forwarder/state             every connection, as the API shows it
 *   POST   /__emulator/forwarder/connections       adds connections as they are (a JSON array)
 *   DELETE /__emulator/forwarder/connections/{id}  removes one outright
 *
 * The fixture (the `forwarder` section of the fleet file) is re-read when the file changes
 * (../fixture-file.ts), replacing the state, fault counters included.
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { FixtureError, FixtureFile } from '../fixture-file.js';
import { FaultBook, OPERATIONS, type ForwarderFault, type ForwarderOperation } from './faults.js';
import {
  forwarderSection,
  loadForwarderFixture,
  normalizeConnection,
  normalizeForwarderFixture,
  sha256Hex,
  type ConnectionDraft,
  type FixtureWithForwarder,
  type ForwarderConnection,
  type ForwarderFixture,
  type ForwarderFixtureInput,
} from './fixture.js';
import { CursorCodec } from './paging.js';
import { ForwarderState, isActive, type ForwarderStateCounts } from './state.js';
import { readBody, sha } from '../http-body.js';
import { listen } from '../http-listen.js';

export interface ForwarderEmulatorOptions {
  /** A fleet file whose `forwarder` section is served; re-read whenever it changes (checked on each request). */
  fixturePath?: string;
  /** An in-memory fixture: the `forwarder` section, or a whole fleet holding one. Give this or `fixturePath`, not both. */
  fixture?: ForwarderFixtureInput | FixtureWithForwarder;
  /** Port to listen on; a random free port when absent. */
  port?: number;
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** Wall-clock epoch milliseconds: the `createdAt` of new connections. Tests inject one. */
  now?: () => number;
  /** Milliseconds every /v1 request waits before it is served: a service across a network (benchmarks). */
  latencyMs?: number;
}

export interface ForwarderEmulatorStats {
  /** Every request that named an operation, refused and failed ones included. */
  total: number;
  /** Per operation: list, read, establish, close. */
  requests: Record<ForwarderOperation, number>;
  /** /v1 requests refused for a missing or wrong token. */
  unauthorized: number;
  /** Every /v1 answer, by HTTP status. */
  statuses: Record<string, number>;
  /** Per operation, its answers by HTTP status. */
  operationStatuses: Partial<Record<ForwarderOperation, Record<string, number>>>;
  /** Requests answered (or held, or made ineffective) by an injected fault, per operation. */
  faults: Partial<Record<ForwarderOperation, number>>;
  /** How many connections the service holds now, per status. */
  state: ForwarderStateCounts;
  /** The most /v1 requests in flight at once since the counters were reset. */
  maxInFlight: number;
}

export interface ForwarderEmulator {
  /** `http://127.0.0.1:<port>`: NAVIXY_FORWARDER_URL. */
  readonly url: string;
  readonly port: number;
  /** NAVIXY_FORWARDER_URL and NAVIXY_FORWARDER_TOKEN. */
  env(): Record<string, string>;
  /** The current normalized fixture (re-checks the fixture file first). */
  fixture(): ForwarderFixture;
  stats(): ForwarderEmulatorStats;
  resetStats(): void;
  /** Every connection as the API shows it now, by id (re-checks the fixture file first). */
  connections(): ForwarderConnection[];
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1 << 20;
/** Admin batches may be large (a bench's drift); still bounded. */
const MAX_ADMIN_BODY_BYTES = 64 << 20;
const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';
export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

type Route =
  | { kind: 'op'; operation: ForwarderOperation; segment?: string }
  | { kind: 'method'; operation: ForwarderOperation | undefined; allow: string }
  | { kind: 'unknown' };

/** Which operation a /v1 path and method name; `segment` is the id or reference, still percent-encoded. */
function matchRoute(method: string, path: string): Route {
  const s = path.split('/');
  if (s[1] !== 'v1') return { kind: 'unknown' };
  if (s.length === 3 && s[2] === 'connections') {
    if (method === 'GET') return { kind: 'op', operation: 'list' };
    if (method === 'POST') return { kind: 'op', operation: 'establish' };
    return { kind: 'method', operation: undefined, allow: 'GET, POST' };
  }
  if (s.length === 4 && s[2] === 'connections') {
    if (method === 'DELETE') return { kind: 'op', operation: 'close', segment: s[3]! };
    return { kind: 'method', operation: undefined, allow: 'DELETE' };
  }
  if (s.length === 5 && s[2] === 'customers' && s[4] === 'connections') {
    if (method === 'GET') return { kind: 'op', operation: 'read', segment: s[3]! };
    return { kind: 'method', operation: undefined, allow: 'GET' };
  }
  return { kind: 'unknown' };
}

/** One path segment, decoded exactly once; undefined when it is not valid percent-encoding. */
function decodeSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}


/** Checks `Authorization: Bearer <token>`; the messages say what is wrong, never what was sent. */
function checkToken(header: string | undefined, token: string): void {
  const challenge = { 'www-authenticate': 'Bearer realm="navixy-forwarder"' };
  if (header === undefined || header.trim() === '') throw new ApiError(401, 'unauthorized', 'A bearer token is required (Authorization: Bearer <token>)', challenge);
  const m = /^Bearer +(\S+) *$/i.exec(header);
  if (!m) throw new ApiError(401, 'unauthorized', 'The Authorization header is not a bearer token', challenge);
  // Digests first: equal lengths for timingSafeEqual, and no early exit on the first different byte.
  if (!timingSafeEqual(sha(m[1]!), sha(token))) throw new ApiError(401, 'unauthorized', 'The bearer token is not valid', challenge);
}

/** The `limit` query parameter: 1..1000, default 100. */
function limitOf(query: URLSearchParams): number {
  const text = query.get('limit');
  if (text === null) return DEFAULT_LIMIT;
  const n = /^\d{1,7}$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= MAX_LIMIT)) throw new ApiError(400, 'invalid_request', `limit must be an integer from 1 to ${MAX_LIMIT}`);
  return n;
}

/** `customerRef` of an establish body, for the fault filters (undefined when it has none). */
function bodyRefOf(body: unknown): string | undefined {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const ref = (body as Record<string, unknown>)['customerRef'];
  return typeof ref === 'string' ? ref : undefined;
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

/** A string field of an establish body: present, a string, not blank. Never quotes the value. */
function requiredField(body: Record<string, unknown>, key: string): string {
  const v = body[key];
  if (v === undefined || v === null) throw new ApiError(400, 'invalid_request', `${key} is required`);
  if (typeof v !== 'string') throw new ApiError(400, 'invalid_request', `${key} must be a string`);
  if (v.trim() === '') throw new ApiError(400, 'invalid_request', `${key} must not be blank`);
  return v;
}

function faultError(fault: ForwarderFault, operation: ForwarderOperation): ApiError {
  if (fault.kind === 'throttle') {
    const seconds = fault.retryAfterSeconds ?? 1;
    return new ApiError(429, 'throttled', `Too many requests; retry after ${seconds} s (injected fault: ${operation})`, { 'retry-after': String(seconds) });
  }
  if (fault.status === 503) return new ApiError(503, 'unavailable', `Service unavailable (injected fault: ${operation})`);
  return new ApiError(500, 'internal', `Internal error (injected fault: ${operation})`);
}

export async function startForwarderEmulator(options: ForwarderEmulatorOptions = {}): Promise<ForwarderEmulator> {
  const { fixturePath } = options;
  if (fixturePath !== undefined && options.fixture !== undefined) throw new Error('startForwarderEmulator: give either fixturePath or fixture, not both');
  const now = options.now ?? Date.now;
  const cursors = new CursorCodec();

  let state!: ForwarderState;
  let faults!: FaultBook;
  const install = (f: ForwarderFixture) => {
    state = new ForwarderState(f);
    faults = new FaultBook(f.faults);
  };
  const file = fixturePath !== undefined ? new FixtureFile(fixturePath, loadForwarderFixture, install, 'forwarder emulator') : undefined;
  if (!file) install(normalizeForwarderFixture(forwarderSection(options.fixture ?? {})));
  const refresh = () => file?.refresh();

  const requests = Object.fromEntries(OPERATIONS.map((op) => [op, 0])) as Record<ForwarderOperation, number>;
  const statuses = new Map<string, number>();
  const operationStatuses = new Map<ForwarderOperation, Map<string, number>>();
  const faulted = new Map<ForwarderOperation, number>();
  let total = 0;
  let unauthorized = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const bump = <K>(m: Map<K, number>, k: K) => m.set(k, (m.get(k) ?? 0) + 1);

  /** Sends an API answer and counts it. */
  const answer = (res: ServerResponse, operation: ForwarderOperation | undefined, status: number, body: unknown, headers: Record<string, string> = {}) => {
    bump(statuses, String(status));
    if (operation !== undefined) {
      let m = operationStatuses.get(operation);
      if (!m) operationStatuses.set(operation, (m = new Map()));
      bump(m, String(status));
    }
    send(res, status, body, headers);
  };

  const list = (query: URLSearchParams, cursorPage: number | undefined) => {
    const limit = limitOf(query);
    const cursorText = query.get('cursor');
    let after: string | undefined;
    if (cursorText !== null && cursorText !== '') {
      const cursor = cursors.decode(cursorText);
      if (!cursor) throw new ApiError(400, 'invalid_request', 'cursor is not one this service gave');
      after = cursor.after;
    }
    const page = state.page(after, limit);
    const last = page.items[page.items.length - 1];
    const nextCursor = page.more && last ? cursors.encode({ after: last.id, page: (cursorPage ?? 1) + 1 }) : null;
    return { connections: page.items, nextCursor };
  };

  const establish = (bodyText: string, ineffective: boolean) => {
    const parsed = parseJson(bodyText);
    if (!parsed.ok) throw new ApiError(400, 'invalid_request', 'The body is not valid JSON');
    const body = parsed.value;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new ApiError(400, 'invalid_request', 'The body must be a JSON object {"customerRef", "hash"}');
    const customerRef = requiredField(body as Record<string, unknown>, 'customerRef');
    const hash = requiredField(body as Record<string, unknown>, 'hash');
    const active = state.activeOf(customerRef);
    if (active) throw new ApiError(409, 'conflict', `The customer already has an active connection (${active.id})`);
    const status = state.fixture.establishAs;
    const created = state.establish(customerRef, sha256Hex(hash), ineffective ? 'failed' : status, new Date(now()).toISOString());
    // An ineffective establish answers as if it had worked: only reading back shows `failed`.
    return { ...created, status };
  };

  const close = (id: string, ineffective: boolean) => {
    const c = state.get(id);
    if (!c || !isActive(c)) throw new ApiError(404, 'not_found', 'No active connection has this id');
    if (!ineffective) state.setStatus(c, 'disconnected');
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams) => {
    refresh();
    const method = req.method ?? '';
    const route = matchRoute(method, path);
    const operation = route.kind === 'op' ? route.operation : undefined;
    const bodyText = method === 'POST' ? await readBody(req, MAX_BODY_BYTES) : (req.resume(), '');
    if (operation !== undefined) {
      total++;
      requests[operation]++;
    }
    try {
      const header = req.headers['authorization'];
      try {
        checkToken(header, state.fixture.token);
      } catch (err) {
        unauthorized++;
        throw err;
      }
      if (route.kind === 'unknown') throw new ApiError(404, 'not_found', `No route for ${method} ${path.length > 200 ? `${path.slice(0, 200)}...` : path}`);
      if (route.kind === 'method') throw new ApiError(405, 'method_not_allowed', `Method ${method} is not allowed here`, { allow: route.allow });
      const op = route.operation;
      let segment: string | undefined;
      if (route.segment !== undefined) {
        segment = decodeSegment(route.segment);
        if (segment === undefined) throw new ApiError(400, 'invalid_request', 'A path segment is not valid percent-encoding');
      }
      if (bodyText === undefined) throw new ApiError(413, 'invalid_request', `The body is larger than ${MAX_BODY_BYTES} bytes`);

      let customerRef: string | undefined;
      let page: number | undefined;
      if (op === 'read') customerRef = segment;
      else if (op === 'close') customerRef = state.get(segment!)?.customerRef;
      else if (op === 'establish') {
        const parsed = parseJson(bodyText);
        customerRef = parsed.ok ? bodyRefOf(parsed.value) : undefined;
      } else {
        const cursorText = query.get('cursor');
        page = cursorText === null || cursorText === '' ? 1 : cursors.decode(cursorText)?.page;
      }
      const fault = faults.take({ operation: op, customerRef, page });
      if (fault) bump(faulted, op);
      if (fault?.kind === 'timeout') return; // held until the server closes
      if (fault && fault.kind !== 'ineffective') throw faultError(fault, op);
      const ineffective = fault?.kind === 'ineffective';

      if (op === 'list') answer(res, op, 200, list(query, page));
      else if (op === 'read') {
        if (segment === '') throw new ApiError(400, 'invalid_request', 'The customer reference is empty');
        answer(res, op, 200, { connections: state.ofCustomer(segment!) });
      } else if (op === 'establish') answer(res, op, 201, establish(bodyText, ineffective));
      else {
        close(segment!, ineffective);
        answer(res, op, 204, undefined);
      }
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      answer(res, operation, err.status, { error: { code: err.code, message: err.message } }, err.headers);
    }
  };

  /** POST /__emulator/forwarder/connections: all or none; errors name the item and field, never a value. */
  const addConnections = (text: string | undefined): { status: number; body: unknown } => {
    const bad = (status: number, code: string, message: string) => ({ status, body: { error: { code, message } } });
    if (text === undefined) return bad(413, 'invalid_request', `The body is larger than ${MAX_ADMIN_BODY_BYTES} bytes`);
    const parsed = parseJson(text);
    if (!parsed.ok || !Array.isArray(parsed.value)) return bad(400, 'invalid_request', 'The body must be a JSON array of {customerRef, hash, status?, createdAt?, id?}');
    const createdAt = new Date(now()).toISOString();
    let drafts: ConnectionDraft[];
    try {
      drafts = parsed.value.map((raw, i) => normalizeConnection(raw, `[${i}]`, createdAt));
    } catch (err) {
      if (err instanceof FixtureError) return bad(400, 'invalid_request', err.message);
      throw err;
    }
    const seen = new Map<string, number>();
    for (let i = 0; i < drafts.length; i++) {
      const id = drafts[i]!.id;
      if (id === undefined) continue;
      const prev = seen.get(id);
      if (prev !== undefined) return bad(400, 'invalid_request', `[${i}].id: duplicates [${prev}].id`);
      if (state.has(id)) return bad(409, 'conflict', `[${i}].id: a connection with this id exists`);
      seen.set(id, i);
    }
    return { status: 201, body: { connections: state.add(drafts) } };
  };

  /** The test endpoints; true when the path was one of them. */
  const handleAdmin = async (req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> => {
    const method = req.method ?? '';
    const notAllowed = (allow: string) => send(res, 405, { error: { code: 'method_not_allowed', message: `Method ${method} is not allowed here` } }, { allow });
    if (path === '/__emulator/stats') {
      req.resume();
      refresh();
      if (method === 'GET') send(res, 200, statsSnapshot());
      else if (method === 'DELETE') {
        resetStats();
        send(res, 200, statsSnapshot());
      } else notAllowed('GET, DELETE');
      return true;
    }
    if (path === '/__emulator/forwarder/state') {
      req.resume();
      refresh();
      if (method === 'GET') send(res, 200, { connections: state.all() });
      else notAllowed('GET');
      return true;
    }
    if (path === '/__emulator/forwarder/connections') {
      if (method !== 'POST') {
        req.resume();
        notAllowed('POST');
        return true;
      }
      const text = await readBody(req, MAX_ADMIN_BODY_BYTES);
      refresh();
      const reply = addConnections(text);
      send(res, reply.status, reply.body);
      return true;
    }
    const prefix = '/__emulator/forwarder/connections/';
    if (path.startsWith(prefix) && !path.slice(prefix.length).includes('/')) {
      req.resume();
      refresh();
      const id = decodeSegment(path.slice(prefix.length));
      if (method !== 'DELETE') notAllowed('DELETE');
      else if (id === undefined) send(res, 400, { error: { code: 'invalid_request', message: 'A path segment is not valid percent-encoding' } });
      else if (state.remove(id)) send(res, 204, undefined);
      else send(res, 404, { error: { code: 'not_found', message: 'No connection has this id' } });
      return true;
    }
    return false;
  };

  const statsSnapshot = (): ForwarderEmulatorStats => ({
    total,
    requests: { ...requests },
    unauthorized,
    statuses: Object.fromEntries(statuses),
    operationStatuses: Object.fromEntries([...operationStatuses].map(([op, m]) => [op, Object.fromEntries(m)])),
    faults: Object.fromEntries(faulted),
    state: state.counts(),
    maxInFlight,
  });
  const resetStats = () => {
    total = 0;
    unauthorized = 0;
    for (const op of OPERATIONS) requests[op] = 0;
    statuses.clear();
    operationStatuses.clear();
    faulted.clear();
    maxInFlight = inFlight;
  };

  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const fail = (err: unknown) => {
      process.stderr.write(`forwarder emulator: internal error: ${(err as Error).message}\n`);
      send(res, 500, { error: { code: 'internal', message: 'Internal emulator error' } });
    };
    if (path.startsWith('/__emulator/')) {
      handleAdmin(req, res, path)
        .then((done) => {
          if (!done) {
            req.resume();
            send(res, 404, { error: { code: 'not_found', message: 'No such emulator endpoint' } });
          }
        })
        .catch(fail);
      return;
    }
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    res.on('close', () => inFlight--);
    const serve = () => handle(req, res, path, new URLSearchParams(q < 0 ? '' : url.slice(q + 1))).catch(fail);
    if (options.latencyMs) setTimeout(serve, options.latencyMs);
    else void serve();
  });

  const listening = await listen(server, options);
  const url = listening.url;

  return {
    url,
    port: listening.port,
    env() {
      refresh();
      return { NAVIXY_FORWARDER_URL: url, NAVIXY_FORWARDER_TOKEN: state.fixture.token };
    },
    fixture() {
      refresh();
      return state.fixture;
    },
    stats() {
      refresh();
      return statsSnapshot();
    },
    resetStats,
    connections() {
      refresh();
      return state.all().map((c) => ({ ...c }));
    },
    close: listening.close,
  };
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  if (status === 204 || body === undefined) {
    res.writeHead(status, headers);
    res.end();
    return;
  }
  const bytes = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': JSON_CONTENT_TYPE, 'content-length': String(bytes.length), ...headers });
  res.end(bytes);
}
