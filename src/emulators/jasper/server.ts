/**
 * The emulated Cisco Control Center (Jasper) REST API: the devices listing `portal-sync jasper`
 * reads, for several service providers on one loopback port. Each provider is a tenant of its own,
 * with its own base URL `<url>/sp/<providerId>`:
 *
 *   GET <base>/rws/api/v1/devices?modifiedSince=<ISO 8601>&pageSize=<1..50>&pageNumber=<k>
 *       Authorization: Basic base64(username:apiKey)
 *   200 {"devices": [{"iccid", "status", "ratePlan", "communicationPlan"}], "pageNumber": k, "lastPage": bool}
 *
 * The devices modified at or after `modifiedSince`, by modification time then ICCID, `pageSize` a
 * page (default 50); a page past the end is `devices: []`, `lastPage: true`. Pages are cut over the
 * devices as they are at each request (state.ts). Each request is checked in this order: the
 * provider (404), the Basic credentials (401 errorCode 10000001), the path and method (404, 405),
 * the provider's `rateLimit` (400 errorCode 40000029 "Rate Limit Exceeded"), the injected faults
 * (faults.ts), then the parameters (400 errorCode 10000024: `modifiedSince` missing, not ISO 8601
 * with a zone, or older than one year; `pageSize` not 1..50; `pageNumber` not a positive integer).
 * Errors are `{"errorMessage", "errorCode"}` (but a 503 fault's HTML body); none echoes the
 * Authorization header.
 *
 * Test endpoints (no authentication):
 *   GET    /__emulator/stats                       counters: per provider and status, pages, faults
 *   DELETE /__emulator/stats                       resets the counters
 *   GET    /__emulator/jasper/state[?provider=id]  the devices in listing order, with their modifiedAt
 *   POST   /__emulator/jasper/devices              {"provider", "devices": [...]}: upserts by ICCID
 *                                                  (modifiedAt defaults to now)
 *
 * The fixture (the `jasper` section of the fleet file) is re-read when the file changes
 * (../fixture-file.ts), replacing the state, the control endpoint's changes and the fault counters.
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { FixtureError, FixtureFile, parseFixtureJson } from '../fixture-file.js';
import { QuotaMeter, type QuotaState } from '../iothub/quota.js';
import { FaultBook, spoil, type JasperFault, type JasperFaultKind } from './faults.js';
import {
  apiKeyVariable,
  isObject,
  jasperSection,
  loadJasperFixture,
  normalizeDevice,
  normalizeJasperFixture,
  parseIsoWithZone,
  type FixtureWithJasper,
  type JasperDevice,
  type JasperFixture,
  type JasperFixtureInput,
  type JasperProvider,
} from './fixture.js';
import { JasperState, type StoredDevice } from './state.js';
import { readBody, sha } from '../http-body.js';
import { listen } from '../http-listen.js';

export interface JasperEmulatorOptions {
  /** A fleet file whose `jasper` section is served; re-read whenever it changes (checked on each request). */
  fixturePath?: string;
  /** An in-memory fixture: the `jasper` section, or a whole fleet holding one. Give this or `fixturePath`, not both. */
  fixture?: JasperFixtureInput | FixtureWithJasper;
  /** Port to listen on; a random free port when absent. */
  port?: number;
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /**
   * Wall-clock epoch milliseconds: the one-year limit of modifiedSince, the modifiedAt of devices
   * that give none (fixture: when it was loaded; control endpoint: when upserted). Tests inject one.
   */
  now?: () => number;
  /** Monotonic milliseconds for the providers' `rateLimit` windows (default performance.now). */
  clock?: () => number;
}

export interface JasperProviderStats {
  /** Requests on this provider's base URL, refused and failed ones included. */
  requests: number;
  /** Its answers by HTTP status. */
  statuses: Record<string, number>;
  /** 200 answers (pages) and the records they held. */
  pages: number;
  devicesServed: number;
  unauthorized: number;
  /** Refused by the provider's `rateLimit` (not by a fault). */
  rateLimited: number;
  /** Requests answered (or held, or spoiled) by an injected fault, per kind. */
  faults: Partial<Record<JasperFaultKind, number>>;
}

export interface JasperEmulatorStats {
  /** Every request under /sp/, unknown providers included. */
  total: number;
  /** Every /sp/ answer, by HTTP status. */
  statuses: Record<string, number>;
  pages: number;
  devicesServed: number;
  unauthorized: number;
  rateLimited: number;
  faults: Partial<Record<JasperFaultKind, number>>;
  /** Requests for a provider the fixture does not have (404). */
  unknownProvider: number;
  providers: Record<string, JasperProviderStats>;
  /** Devices per provider now. */
  state: Record<string, number>;
  /** The providers' rate limits and how much of the current window is used. */
  rateLimits: Record<string, QuotaState>;
}

/** A provider as `emulate --seed-models` writes it into jasper_service_providers. */
export interface JasperProviderInfo {
  id: string;
  name: string;
  username: string;
  /** `<emulator url>/sp/<id>` */
  baseUrl: string;
}

export interface JasperEmulator {
  /** `http://127.0.0.1:<port>`: each provider's base URL is `<url>/sp/<id>`. */
  readonly url: string;
  readonly port: number;
  baseUrl(providerId: string): string;
  /** JASPER_API_KEY_<ID> of every provider. */
  env(): Record<string, string>;
  providers(): JasperProviderInfo[];
  /** The current normalized fixture (re-checks the fixture file first). */
  fixture(): JasperFixture;
  stats(): JasperEmulatorStats;
  resetStats(): void;
  /** A provider's devices in listing order, with their modifiedAt (re-checks the fixture file first). */
  devices(providerId: string): StoredDevice[] | undefined;
  close(): Promise<void>;
}

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 50;
export const DEVICES_PATH = '/rws/api/v1/devices';
/** Control Center's codes (documented with HTTP 401 and 400); the others are the emulator's own. */
export const ERROR_CODES = { unauthorized: '10000001', invalidParameter: '10000024', rateLimit: '40000029' } as const;
const MAX_ADMIN_BODY_BYTES = 256 << 20;
const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
    readonly html = false,
  ) {
    super(message);
  }
}


/** Checks `Authorization: Basic base64(user:key)`; the messages say what is wrong, never what was sent. */
function checkBasic(header: string | undefined, provider: JasperProvider): void {
  const challenge = { 'www-authenticate': 'Basic realm="Control Center"' };
  const refuse = (message: string) => new ApiError(401, ERROR_CODES.unauthorized, message, challenge);
  if (header === undefined || header.trim() === '') throw refuse('Authorization required: Basic credentials (user name and API key)');
  const m = /^Basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(header);
  if (!m) throw refuse('The Authorization header is not Basic credentials');
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw refuse('The Basic credentials are not user name:API key');
  // Both compared, digests first: equal lengths, and no early exit that tells which one was wrong.
  const userOk = timingSafeEqual(sha(decoded.slice(0, colon)), sha(provider.username));
  const keyOk = timingSafeEqual(sha(decoded.slice(colon + 1)), sha(provider.apiKey));
  if (!userOk || !keyOk) throw refuse('Invalid credentials');
}

/** One calendar year before `now` (UTC; 29 February gives 28 February). */
export function oneYearBefore(now: number): number {
  const d = new Date(now);
  const year = d.getUTCFullYear() - 1;
  const month = d.getUTCMonth();
  const day = Math.min(d.getUTCDate(), new Date(Date.UTC(year, month + 1, 0)).getUTCDate());
  return Date.UTC(year, month, day, d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds());
}

interface ListingParams {
  since: number;
  pageSize: number;
  pageNumber: number;
}

const invalid = (message: string) => new ApiError(400, ERROR_CODES.invalidParameter, message);

/** The listing's parameters, or the 400 to answer. */
function listingParams(query: URLSearchParams, now: number): ListingParams | ApiError {
  const since = query.get('modifiedSince');
  if (since === null || since === '') return invalid('modifiedSince is required (ISO 8601 with a zone, e.g. 2026-11-01T00:00:00Z)');
  const ms = parseIsoWithZone(since);
  if (ms === undefined) {
    const hint = / \d\d:\d\d$/.test(since) ? ' (a "+" in the query must be sent as %2B)' : '';
    return invalid(`modifiedSince is not an ISO 8601 date-time with a zone, e.g. 2026-11-01T00:00:00Z${hint}`);
  }
  if (ms < oneYearBefore(now)) return invalid('modifiedSince may not be more than one year ago');
  let pageSize = DEFAULT_PAGE_SIZE;
  const size = query.get('pageSize');
  if (size !== null) {
    pageSize = /^\d{1,6}$/.test(size) ? Number(size) : NaN;
    if (!(pageSize >= 1 && pageSize <= MAX_PAGE_SIZE)) return invalid(`pageSize must be an integer from 1 to ${MAX_PAGE_SIZE}`);
  }
  const pageNumber = pageNumberOf(query);
  if (pageNumber === undefined) return invalid('pageNumber must be a positive integer');
  return { since: ms, pageSize, pageNumber };
}

/** The 1-based page asked for (default 1); undefined when it is not a positive integer. */
function pageNumberOf(query: URLSearchParams): number | undefined {
  const text = query.get('pageNumber');
  if (text === null) return 1;
  const n = /^\d{1,9}$/.test(text) ? Number(text) : NaN;
  return n >= 1 ? n : undefined;
}

const RATE_LIMIT_MESSAGE = 'Rate Limit Exceeded';

function faultError(fault: JasperFault): ApiError {
  const status = fault.status ?? (fault.kind === 'rate-limit' ? 400 : 500);
  if (status === 400) return new ApiError(400, ERROR_CODES.rateLimit, RATE_LIMIT_MESSAGE);
  if (status === 429) return new ApiError(429, ERROR_CODES.rateLimit, RATE_LIMIT_MESSAGE, { 'retry-after': String(fault.retryAfterSeconds ?? 1) });
  if (status === 503) return new ApiError(503, 'SERVICE_UNAVAILABLE', '503 Service Unavailable', {}, true);
  return new ApiError(500, 'INTERNAL_ERROR', `Internal server error (injected fault: ${fault.kind})`);
}

const HTML_503 = '<html><head><title>503 Service Unavailable</title></head><body><h1>503 Service Unavailable</h1><p>The server is temporarily unable to service your request.</p></body></html>\n';

function emptyProviderStats(): JasperProviderStats {
  return { requests: 0, statuses: {}, pages: 0, devicesServed: 0, unauthorized: 0, rateLimited: 0, faults: {} };
}

export async function startJasperEmulator(options: JasperEmulatorOptions = {}): Promise<JasperEmulator> {
  const { fixturePath } = options;
  if (fixturePath !== undefined && options.fixture !== undefined) throw new Error('startJasperEmulator: give either fixturePath or fixture, not both');
  const now = options.now ?? Date.now;
  const clock = options.clock ?? (() => performance.now());

  let state!: JasperState;
  let faults!: FaultBook;
  const limits = new QuotaMeter<string>(clock);
  const install = (f: JasperFixture) => {
    state = new JasperState(f);
    faults = new FaultBook(f.faults);
    // A provider whose rate did not change keeps its window.
    limits.configure(Object.fromEntries(f.providers.filter((p) => p.rateLimit).map((p) => [p.id, p.rateLimit!.text])));
  };
  const file = fixturePath !== undefined ? new FixtureFile(fixturePath, (path) => loadJasperFixture(path, now()), install, 'jasper emulator') : undefined;
  if (!file) install(normalizeJasperFixture(jasperSection(options.fixture ?? {}), now()));
  const refresh = () => file?.refresh();

  let total = 0;
  let unknownProvider = 0;
  const statuses = new Map<string, number>();
  let perProvider = new Map<string, JasperProviderStats>();
  const bump = <K>(m: Map<K, number>, k: K, by = 1) => m.set(k, (m.get(k) ?? 0) + by);
  const statsOf = (id: string) => {
    let s = perProvider.get(id);
    if (!s) perProvider.set(id, (s = emptyProviderStats()));
    return s;
  };

  const answer = (res: ServerResponse, provider: string | undefined, status: number, body: unknown, headers: Record<string, string> = {}) => {
    bump(statuses, String(status));
    if (provider !== undefined) {
      const s = statsOf(provider);
      s.statuses[String(status)] = (s.statuses[String(status)] ?? 0) + 1;
    }
    send(res, status, body, headers);
  };

  const handle = (req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams) => {
    req.resume();
    refresh();
    total++;
    const rest = path.slice('/sp/'.length);
    const slash = rest.indexOf('/');
    const segment = slash < 0 ? rest : rest.slice(0, slash);
    const subPath = slash < 0 ? '' : rest.slice(slash);
    let id: string | undefined;
    try {
      id = decodeURIComponent(segment);
    } catch {
      id = undefined;
    }
    const provider = id === undefined ? undefined : state.provider(id);
    if (!provider) {
      unknownProvider++;
      answer(res, undefined, 404, { errorMessage: 'No such service provider', errorCode: 'NOT_FOUND' });
      return;
    }
    const s = statsOf(provider.id);
    s.requests++;
    try {
      try {
        checkBasic(req.headers['authorization'], provider);
      } catch (err) {
        s.unauthorized++;
        throw err;
      }
      if (subPath !== DEVICES_PATH) throw new ApiError(404, 'NOT_FOUND', 'Resource not found');
      if (req.method !== 'GET') throw new ApiError(405, 'METHOD_NOT_ALLOWED', `Method ${req.method ?? ''} is not allowed here`, { allow: 'GET' });
      if (limits.take(provider.id) !== undefined) {
        s.rateLimited++;
        throw new ApiError(400, ERROR_CODES.rateLimit, RATE_LIMIT_MESSAGE);
      }
      const devices = state.devices(provider.id)!;
      const params = listingParams(query, now());
      const subject = params instanceof ApiError
        ? { provider: provider.id, page: pageNumberOf(query), records: 0 }
        : { provider: provider.id, page: params.pageNumber, records: devices.pageLength(params.since, params.pageSize, params.pageNumber) };
      const fault = faults.take(subject);
      if (fault) s.faults[fault.kind] = (s.faults[fault.kind] ?? 0) + 1;
      if (fault?.kind === 'timeout') return; // held until the client gives up or the server closes
      if (fault && fault.kind !== 'bad-record') throw faultError(fault);
      if (params instanceof ApiError) throw params;
      const page = devices.page(params.since, params.pageSize, params.pageNumber);
      let served: unknown[] = page.devices;
      if (fault?.kind === 'bad-record') {
        const at = Math.min(fault.position ?? 1, page.devices.length) - 1;
        served = page.devices.map((d, i) => (i === at ? spoil(d as unknown as Record<string, unknown>, fault.flaw ?? 'missing-iccid') : d));
      }
      s.pages++;
      s.devicesServed += served.length;
      answer(res, provider.id, 200, { devices: served, pageNumber: params.pageNumber, lastPage: page.lastPage });
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      if (err.html) {
        bump(statuses, String(err.status));
        s.statuses[String(err.status)] = (s.statuses[String(err.status)] ?? 0) + 1;
        sendText(res, err.status, HTML_503, 'text/html; charset=utf-8');
      } else answer(res, provider.id, err.status, { errorMessage: err.message, errorCode: err.code }, err.headers);
    }
  };

  const bad = (status: number, message: string) => ({ status, body: { errorMessage: message, errorCode: status === 404 ? 'NOT_FOUND' : 'INVALID_REQUEST' } });

  /** POST /__emulator/jasper/devices: all or none; errors name the field, never a value. */
  const upsertDevices = (text: string | undefined): { status: number; body: unknown } => {
    if (text === undefined) return bad(413, `The body is larger than ${MAX_ADMIN_BODY_BYTES} bytes`);
    let body: unknown;
    try {
      body = parseFixtureJson(text, 'body');
    } catch (err) {
      return bad(400, (err as Error).message);
    }
    if (!isObject(body) || typeof body['provider'] !== 'string' || !Array.isArray(body['devices'])) {
      return bad(400, 'The body must be {"provider": id, "devices": [{iccid, status, ratePlan, communicationPlan, modifiedAt?}]}');
    }
    for (const key of Object.keys(body)) if (key !== 'provider' && key !== 'devices') return bad(400, `${key}: is not a field here (expected provider, devices)`);
    const devices = state.devices(body['provider']);
    if (!devices) return bad(404, 'provider: no such service provider');
    const at = now();
    let drafts: JasperDevice[];
    try {
      drafts = body['devices'].map((raw, i) => normalizeDevice(raw, `devices[${i}]`, at));
    } catch (err) {
      if (err instanceof FixtureError) return bad(400, err.message);
      throw err;
    }
    devices.upsert(drafts);
    return { status: 200, body: { provider: body['provider'], upserted: drafts.length, devices: devices.size } };
  };

  /** The test endpoints; true when the path was one of them. */
  const handleAdmin = async (req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): Promise<boolean> => {
    const method = req.method ?? '';
    const notAllowed = (allow: string) => send(res, 405, { errorMessage: `Method ${method} is not allowed here`, errorCode: 'METHOD_NOT_ALLOWED' }, { allow });
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
    if (path === '/__emulator/jasper/state') {
      req.resume();
      refresh();
      if (method !== 'GET') notAllowed('GET');
      else {
        const id = query.get('provider');
        if (id === null) send(res, 200, { providers: Object.fromEntries(state.ids().map((p) => [p, state.devices(p)!.all()])) });
        else {
          const devices = state.devices(id);
          if (devices) send(res, 200, { provider: id, devices: devices.all() });
          else send(res, 404, bad(404, 'provider: no such service provider').body);
        }
      }
      return true;
    }
    if (path === '/__emulator/jasper/devices') {
      if (method !== 'POST') {
        req.resume();
        notAllowed('POST');
        return true;
      }
      const text = await readBody(req, MAX_ADMIN_BODY_BYTES);
      refresh();
      const reply = upsertDevices(text);
      send(res, reply.status, reply.body);
      return true;
    }
    return false;
  };

  const sum = (pick: (s: JasperProviderStats) => number) => [...perProvider.values()].reduce((n, s) => n + pick(s), 0);
  const statsSnapshot = (): JasperEmulatorStats => {
    const faulted: Partial<Record<JasperFaultKind, number>> = {};
    for (const s of perProvider.values()) for (const [k, n] of Object.entries(s.faults)) faulted[k as JasperFaultKind] = (faulted[k as JasperFaultKind] ?? 0) + n;
    return {
      total,
      statuses: Object.fromEntries(statuses),
      pages: sum((s) => s.pages),
      devicesServed: sum((s) => s.devicesServed),
      unauthorized: sum((s) => s.unauthorized),
      rateLimited: sum((s) => s.rateLimited),
      faults: faulted,
      unknownProvider,
      providers: Object.fromEntries([...perProvider].map(([id, s]) => [id, { ...s, statuses: { ...s.statuses }, faults: { ...s.faults } }])),
      state: state.counts(),
      rateLimits: limits.snapshot() as Record<string, QuotaState>,
    };
  };
  const resetStats = () => {
    total = 0;
    unknownProvider = 0;
    statuses.clear();
    perProvider = new Map();
  };

  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
    const fail = (err: unknown) => {
      process.stderr.write(`jasper emulator: internal error: ${(err as Error).message}\n`);
      send(res, 500, { errorMessage: 'Internal emulator error', errorCode: 'INTERNAL_ERROR' });
    };
    if (path.startsWith('/__emulator/')) {
      handleAdmin(req, res, path, query)
        .then((done) => {
          if (!done) {
            req.resume();
            send(res, 404, { errorMessage: 'No such emulator endpoint', errorCode: 'NOT_FOUND' });
          }
        })
        .catch(fail);
      return;
    }
    if (path.startsWith('/sp/')) {
      try {
        handle(req, res, path, query);
      } catch (err) {
        fail(err);
      }
      return;
    }
    req.resume();
    total++;
    unknownProvider++;
    answer(res, undefined, 404, { errorMessage: 'Resource not found (a provider\'s base URL is /sp/<id>)', errorCode: 'NOT_FOUND' });
  });

  const listening = await listen(server, options);
  const url = listening.url;
  const baseUrl = (id: string) => `${url}/sp/${encodeURIComponent(id)}`;

  return {
    url,
    port: listening.port,
    baseUrl,
    env() {
      refresh();
      return Object.fromEntries(state.fixture.providers.map((p) => [apiKeyVariable(p.id), p.apiKey]));
    },
    providers() {
      refresh();
      return state.fixture.providers.map((p) => ({ id: p.id, name: p.name, username: p.username, baseUrl: baseUrl(p.id) }));
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
    devices(providerId) {
      refresh();
      return state.devices(providerId)?.all();
    },
    close: listening.close,
  };
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  sendText(res, status, JSON.stringify(body), JSON_CONTENT_TYPE, headers);
}

function sendText(res: ServerResponse, status: number, text: string, contentType: string, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const bytes = Buffer.from(text);
  res.writeHead(status, { 'content-type': contentType, 'content-length': String(bytes.length), ...headers });
  res.end(bytes);
}
