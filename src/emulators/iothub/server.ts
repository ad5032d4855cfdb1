/**
 * The emulated Azure IoT Hub service API (twin queries and twin reads) over plain HTTP on loopback.
 *
 * Every hub route is checked in the order a real hub checks it: the SAS token first (401 before
 * anything else, even for a path that does not exist), then `api-version` (400
 * InvalidProtocolVersion), then the route (404/405), then the quota (429), then the request itself.
 *
 *   POST /devices/query?api-version=...   body {"query": "..."}; headers Authorization (SAS),
 *                                         x-ms-max-item-count (default 100, clamped to 1..1000),
 *                                         x-ms-continuation (optional)
 *     200  JSON array of this page; x-ms-item-type "Twin" (SELECT *) or "Raw";
 *          x-ms-continuation on every page but the last
 *     400  unparseable body/query or invalid continuation token (IoT Hub style error body)
 *     4xx/5xx  injected faults (see fixture.ts)
 *   GET    /configurations?top=<n>&api-version=...   (also /configurations/, as the .NET SDK asks)
 *     200  JSON array of the fixture's `configurations`, in fixture order, not paged (the real API
 *          has no continuation); `top` n > 0 answers the first n, capped at what a hub holds
 *          (MAX_CONFIGURATIONS_TOP); `top` absent or 0 answers all of them (the .NET SDK accepts 0,
 *          and the portal asked GetConfigurationsAsync(0) for every configuration)
 *     400  `top` that is not a whole non-negative number
 *     4xx/5xx  injected faults (operation "getConfigurations", always page 1)
 *   GET    /twins/{deviceId}?api-version=...                      the device twin, as SELECT * returns it
 *   GET    /twins/{deviceId}/modules/{moduleId}?api-version=...   the module twin
 *     404  DeviceNotFound / ModuleNotFound
 *   any hub route
 *     401  missing/malformed/expired/wrongly signed SAS token
 *     400  InvalidProtocolVersion: no api-version, or one the hub does not know
 *     429  ThrottlingException when a quota is set and used up (quota.ts: queries, twinReads,
 *          configurations); no Retry-After
 *   GET    /__emulator/stats   counters, throttling and quota state, emulated time (no auth)
 *   DELETE /__emulator/stats   resets the counters (not the quota windows: they are the hub's state)
 *   anything else -> 401 without a good token, 404 with one
 *
 * Query results are computed once per (query text, fixture generation) and pages are sliced from
 * that list; each row's JSON is cached per generation, so paging a large fleet is cheap. A
 * continuation token is the base64url of `{"o": offset, "q": hash of the query text}`: it does not
 * depend on the fixture generation, so a listing resumes at the same offset after a reload.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { formatConnectionString, type IotHubCredentials } from '../../providers/iothub/sas.js';
import { FixtureFile } from '../fixture-file.js';
import { listen, type Listening } from '../http-listen.js';
import { checkApiVersion } from './api-version.js';
import { verifyServiceToken } from './auth.js';
import { EmulatedClock, type RealClock } from './clock.js';
import { sendError, sendJson } from './errors.js';
import { loadFixture, MAX_DEVICE_CONFIGURATIONS, MAX_EDGE_DEPLOYMENTS, normalizeFixture, type FaultSpec, type Fixture, type FixtureInput } from './fixture.js';
import { executeQuery, parseQuery, QuerySyntaxError, type ParsedQuery } from './query.js';
import { checkQuotaSpec, OPERATION_TYPE, QuotaMeter, type QuotaClass, type QuotaSpec, type QuotaState } from './quota.js';
import { matchRoute, type Route } from './routes.js';
import { TwinIndex } from './twins.js';

export interface IotHubEmulatorOptions {
  /** A fixture file, re-read whenever its mtime/size change (checked on each request). */
  fixturePath?: string;
  /** An in-memory fixture (validated and normalized on start). Give this or `fixturePath`, not both. */
  fixture?: FixtureInput | Fixture;
  /** Port to listen on; a random free port when absent. */
  port?: number;
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /**
   * Throttles to enforce, e.g. `{queries: "20/min"}` (see quota.ts); per class, this wins over the
   * fixture's `quota`.
   */
  quota?: QuotaSpec;
  /** Emulated milliseconds per real millisecond for the quota windows (default 1; see clock.ts). */
  timeScale?: number;
  /** The real clock emulated time derives from (ms, monotonic); tests inject one. */
  clock?: RealClock;
}

export interface IotHubEmulatorStats {
  /** Every request to a hub operation, throttled and failed ones included. */
  total: number;
  operations: Record<string, number>;
  /** Requests refused with 429 by the quota (not by injected faults). */
  throttled: number;
  throttledOperations: Record<string, number>;
  /** Per configured class: its rate and how many requests the current window holds. */
  quota: Partial<Record<QuotaClass, QuotaState>>;
  timeScale: number;
  /** Emulated time since the emulator started. */
  emulatedMs: number;
  /** Emulated time of the first and the last counted request since the last reset (null before any): a listing's span. */
  firstRequestMs: number | null;
  lastRequestMs: number | null;
}

export interface IotHubEmulator {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** The current fixture's hub identity (changes if a reloaded fixture changes `hub`). */
  readonly credentials: IotHubCredentials;
  /** `formatConnectionString(credentials)` */
  readonly connectionString: string;
  /** `{ IOTHUB_CONNECTION_STRING, IOTHUB_ENDPOINT: url }` */
  env(): Record<string, string>;
  /** The current normalized fixture (re-checks the fixture file first). */
  fixture(): Fixture;
  /**
   * Changes the fleet in-process: `fn` edits the current fixture, which is then re-validated and
   * normalized (so partial twins may be pushed) and becomes a new generation (query caches dropped).
   * Fault `times` counters are kept for faults that did not change. A later change of the fixture
   * file replaces the mutated fleet.
   */
  mutate(fn: (f: Fixture) => void): void;
  stats(): IotHubEmulatorStats;
  resetStats(): void;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1 << 20;
const DEFAULT_PAGE_SIZE = 100;
const MAX_PAGE_SIZE = 1000;
const RESULT_CACHE_ENTRIES = 32;
const PARSE_CACHE_ENTRIES = 256;
const WARM_SLICE_MS = 8;
/** The most configurations one answer holds: every one a hub can hold, deployments and the others. */
const MAX_CONFIGURATIONS_TOP = MAX_EDGE_DEPLOYMENTS + MAX_DEVICE_CONFIGURATIONS;

interface CachedResult {
  generation: number;
  rows: unknown[];
}

interface ParsedEntry {
  parsed: ParsedQuery;
  hash: string;
}

function queryHash(text: string): string {
  return createHash('sha256').update(text).digest('base64url').slice(0, 16);
}

function encodeContinuation(offset: number, hash: string): string {
  return Buffer.from(JSON.stringify({ o: offset, q: hash })).toString('base64url');
}

/** Returns the offset, or undefined when the token is malformed or belongs to another query. */
function decodeContinuation(token: string, hash: string): number | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(token)) return undefined;
  try {
    const v = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as unknown;
    if (v === null || typeof v !== 'object') return undefined;
    const { o, q } = v as { o?: unknown; q?: unknown };
    if (typeof o !== 'number' || !Number.isSafeInteger(o) || o < 0 || q !== hash) return undefined;
    return o;
  } catch {
    return undefined;
  }
}

const OPEN_BRACKET = Buffer.from('[');
const CLOSE_BRACKET = Buffer.from(']');
const COMMA = Buffer.from(',');

function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function guessOperation(text: string): string {
  return /\bfrom\s+devices\s*\.\s*modules\b/i.test(text) ? 'query:devices.modules' : 'query:devices';
}

export async function startIotHubEmulator(options: IotHubEmulatorOptions = {}): Promise<IotHubEmulator> {
  const { fixturePath } = options;
  if (fixturePath !== undefined && options.fixture !== undefined) {
    throw new Error('startIotHubEmulator: give either fixturePath or fixture, not both');
  }

  let current: Fixture;
  let generation = 0;
  let resultCache = new Map<string, CachedResult>();
  let jsonCache = new WeakMap<object, Buffer>();
  let faultUses = new Map<string, number>();
  const parseCache = new Map<string, ParsedEntry | QuerySyntaxError>();
  const operations = new Map<string, number>();
  let total = 0;
  let firstRequestMs: number | null = null;
  let lastRequestMs: number | null = null;
  const throttledOperations = new Map<string, number>();
  let throttled = 0;
  let twinIndex: { generation: number; index: TwinIndex } | undefined;
  let closing = false;
  let closed: Promise<void> | undefined;
  // Bad options are the caller's mistake: refuse them before anything listens.
  const optionQuota = options.quota === undefined ? {} : checkQuotaSpec(options.quota, 'quota');
  const clock = new EmulatedClock(options.timeScale ?? 1, options.clock);
  const quota = new QuotaMeter(() => clock.now());

  const install = (f: Fixture, resetFaults: boolean) => {
    current = f;
    generation++;
    resultCache = new Map();
    jsonCache = new WeakMap();
    if (resetFaults) faultUses = new Map();
    quota.configure({ ...f.quota, ...optionQuota });
    warmUp();
  };

  /**
   * Serializes every twin in the background, in slices of a few milliseconds between requests, so
   * that even the first listing of a large fleet only copies bytes. Stops when the fleet changes.
   */
  const warmUp = () => {
    const gen = generation;
    const lists: readonly object[][] = [current.twins, current.moduleTwins];
    let li = 0;
    let i = 0;
    const step = () => {
      if (closing || gen !== generation) return;
      const deadline = performance.now() + WARM_SLICE_MS;
      for (; li < lists.length; li++, i = 0) {
        const list = lists[li]!;
        while (i < list.length) {
          rowJson(list[i++]);
          if ((i & 127) === 0 && performance.now() > deadline) {
            setImmediate(step);
            return;
          }
        }
      }
    };
    setImmediate(step);
  };

  // The file is checked on each request and reloaded when it changed (../fixture-file.ts); a bad
  // file keeps the previous fleet.
  const file = fixturePath !== undefined ? new FixtureFile(fixturePath, loadFixture, (f) => install(f, true), 'iothub emulator') : undefined;
  if (!file) install(normalizeFixture(options.fixture ?? {}), true);
  const refresh = () => file?.refresh();

  const parseCached = (text: string): ParsedEntry | QuerySyntaxError => {
    let entry = parseCache.get(text);
    if (entry === undefined) {
      try {
        entry = { parsed: parseQuery(text), hash: queryHash(text) };
      } catch (err) {
        if (!(err instanceof QuerySyntaxError)) throw err;
        entry = err;
      }
      if (parseCache.size >= PARSE_CACHE_ENTRIES) parseCache.clear();
      parseCache.set(text, entry);
    }
    return entry;
  };

  const resultsFor = (entry: ParsedEntry): unknown[] => {
    const cached = resultCache.get(entry.parsed.text);
    if (cached && cached.generation === generation) return cached.rows;
    const rows = executeQuery(entry.parsed, current);
    if (resultCache.size >= RESULT_CACHE_ENTRIES) resultCache.delete(resultCache.keys().next().value!);
    resultCache.set(entry.parsed.text, { generation, rows });
    return rows;
  };

  /** A row's JSON as UTF-8 bytes, cached per generation (a twin is serialized once, whatever the query). */
  const rowJson = (row: unknown): Buffer => {
    if (row === null || typeof row !== 'object') return Buffer.from(JSON.stringify(row) ?? 'null');
    let b = jsonCache.get(row);
    if (b === undefined) {
      b = Buffer.from(JSON.stringify(row));
      jsonCache.set(row, b);
    }
    return b;
  };

  const count = (operation: string) => {
    total++;
    operations.set(operation, (operations.get(operation) ?? 0) + 1);
    lastRequestMs = Math.floor(clock.now());
    firstRequestMs ??= lastRequestMs;
  };

  const faultKey = (fault: FaultSpec, index: number) => `${index}:${JSON.stringify(fault)}`;

  /** The first fault that applies to this request; consumes one of its `times`. */
  const takeFault = (operation: string, text: string, page: number): FaultSpec | undefined => {
    const faults = current.faults;
    for (let i = 0; i < faults.length; i++) {
      const fault = faults[i]!;
      if (fault.operation !== undefined && fault.operation !== operation) continue;
      if (fault.match !== undefined && !text.includes(fault.match)) continue;
      if (fault.page !== undefined && fault.page !== page) continue;
      if (fault.times !== undefined) {
        const key = faultKey(fault, i);
        const used = faultUses.get(key) ?? 0;
        if (used >= fault.times) continue;
        faultUses.set(key, used + 1);
      }
      return fault;
    }
    return undefined;
  };

  const sleepers = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const sleeper = {
        timer: setTimeout(() => {
          sleepers.delete(sleeper);
          resolve();
        }, ms),
        resolve,
      };
      sleepers.add(sleeper);
    });

  /** Resolves only when the client goes away or the emulator closes: nothing is ever sent. */
  const hung = new Set<() => void>();
  const hangUp = (res: ServerResponse) =>
    new Promise<void>((resolve) => {
      const done = () => {
        hung.delete(done);
        resolve();
      };
      hung.add(done);
      res.once('close', done);
    });

  /**
   * Plays an injected fault: true when it answered the request (an error, or a hang until the
   * client leaves), false when the request is still to be answered (no fault, or a delay alone).
   */
  const answeredByFault = async (res: ServerResponse, fault: FaultSpec | undefined): Promise<boolean> => {
    if (!fault) return false;
    if (fault.hang) {
      await hangUp(res);
      return true;
    }
    if (fault.delayMs !== undefined && fault.delayMs > 0) {
      await sleep(fault.delayMs);
      if (res.destroyed || closing) return true;
    }
    if (fault.status === undefined) return false;
    const headers: Record<string, string> = {};
    const retryMs = fault.retryAfterMs ?? (fault.retryAfterSeconds !== undefined ? fault.retryAfterSeconds * 1000 : undefined);
    if (retryMs !== undefined) {
      headers['retry-after'] = String(Math.ceil(retryMs / 1000));
      headers['x-ms-retry-after-ms'] = String(Math.ceil(retryMs));
    }
    const message =
      fault.status === 429
        ? 'Throttling: the request rate is too high, retry later'
        : fault.status >= 500
          ? 'The service encountered an error (injected fault)'
          : 'The request failed (injected fault)';
    sendError(res, fault.status, message, { detail: 'Injected by the emulator fixture', headers });
    return true;
  };

  const answerConfigurations = async (res: ServerResponse, search: URLSearchParams) => {
    const topText = search.get('top');
    if (topText !== null && topText !== '' && !/^\d+$/.test(topText)) {
      // What the real hub says here is not documented: a 400 BadRequest in its usual body.
      sendError(res, 400, `The top parameter must be a whole non-negative number, got '${topText}'`);
      return;
    }
    if (await answeredByFault(res, takeFault('getConfigurations', '', 1))) return;
    const top = topText === null || topText === '' || Number(topText) === 0 ? MAX_CONFIGURATIONS_TOP : Math.min(Number(topText), MAX_CONFIGURATIONS_TOP);
    sendJson(res, 200, JSON.stringify(current.configurations.slice(0, top)));
  };

  /** A query request's body, read before any check so that even a refused request is counted under its operation. */
  interface QueryRequest {
    /** undefined: larger than MAX_BODY_BYTES */
    body: string | undefined;
    text: string | undefined;
    entry: ParsedEntry | QuerySyntaxError | undefined;
    problem: string | undefined;
    operation: string;
  }

  const readQuery = async (req: IncomingMessage): Promise<QueryRequest> => {
    const body = await readBody(req);
    let text: string | undefined;
    let problem: string | undefined;
    if (body === undefined) problem = `Request body is larger than ${MAX_BODY_BYTES} bytes`;
    else {
      try {
        const v = JSON.parse(body) as unknown;
        const q = v !== null && typeof v === 'object' ? (v as { query?: unknown }).query : undefined;
        if (typeof q === 'string') text = q;
        else problem = 'Request body must be a JSON object with a string "query"';
      } catch {
        problem = 'Request body is not valid JSON';
      }
    }
    const entry = text === undefined ? undefined : parseCached(text);
    const operation = entry && !(entry instanceof QuerySyntaxError) ? `query:${entry.parsed.from}` : guessOperation(text ?? '');
    return { body, text, entry, problem, operation };
  };

  const answerQuery = async (req: IncomingMessage, res: ServerResponse, { body, text, entry, problem, operation }: QueryRequest) => {
    if (text === undefined || entry === undefined) {
      sendError(res, body === undefined ? 413 : 400, problem ?? 'Bad request');
      return;
    }
    if (entry instanceof QuerySyntaxError) {
      sendError(res, 400, `Query is not valid. ${entry.message}`, { detail: entry.message });
      return;
    }

    const sizeHeader = req.headers['x-ms-max-item-count'];
    const requested = typeof sizeHeader === 'string' ? Number.parseInt(sizeHeader, 10) : NaN;
    const pageSize = Number.isFinite(requested) ? Math.min(MAX_PAGE_SIZE, Math.max(1, requested)) : DEFAULT_PAGE_SIZE;

    let offset = 0;
    const token = req.headers['x-ms-continuation'];
    if (typeof token === 'string' && token !== '') {
      const decoded = decodeContinuation(token, entry.hash);
      if (decoded === undefined) {
        sendError(res, 400, 'Invalid continuation token', { detail: 'The continuation token is malformed or belongs to another query' });
        return;
      }
      offset = decoded;
    }

    if (await answeredByFault(res, takeFault(operation, text, Math.floor(offset / pageSize) + 1))) return;

    const rows = resultsFor(entry);
    const end = Math.min(rows.length, offset + pageSize);
    const parts: Buffer[] = [OPEN_BRACKET];
    let length = 2;
    for (let i = offset; i < end; i++) {
      const b = rowJson(rows[i]);
      if (i > offset) parts.push(COMMA);
      parts.push(b);
      length += b.length + (i > offset ? 1 : 0);
    }
    parts.push(CLOSE_BRACKET);
    const headers: Record<string, string> = { 'x-ms-item-type': entry.parsed.itemType };
    if (end < rows.length) headers['x-ms-continuation'] = encodeContinuation(end, entry.hash);
    sendJson(res, 200, Buffer.concat(parts, length), headers);
  };

  const twins = (): TwinIndex => {
    if (twinIndex?.generation !== generation) twinIndex = { generation, index: new TwinIndex(current) };
    return twinIndex.index;
  };

  const answerTwin = (res: ServerResponse, route: Extract<Route, { kind: 'twin' | 'moduleTwin' }>) => {
    const index = twins();
    const found = route.kind === 'twin' ? index.device(route.deviceId) : index.module(route.deviceId, route.moduleId);
    if (!found.found) {
      sendError(res, 404, found.message, { code: found.code, detail: found.message });
      return;
    }
    // The same bytes a query returns for this twin.
    sendJson(res, 200, rowJson(found.twin));
  };

  const handleHub = async (req: IncomingMessage, res: ServerResponse, path: string, search: URLSearchParams) => {
    refresh();
    const route = matchRoute(req.method ?? '', path);
    let query: QueryRequest | undefined;
    let operation: string | undefined;
    if (route.kind === 'query') {
      query = await readQuery(req);
      operation = query.operation;
    } else {
      req.resume();
      if ('operation' in route) operation = route.operation;
    }
    if (operation !== undefined) count(operation);

    const verdict = verifyServiceToken(req.headers.authorization, current.hub, Math.floor(Date.now() / 1000));
    if (!verdict.ok) return sendError(res, 401, 'Unauthorized', { detail: `Unauthorized: ${verdict.reason}` });
    const version = checkApiVersion(search);
    // 'BadRequest' after the code is the real hub's text for this case.
    if (!version.ok) return sendError(res, 400, 'BadRequest', { code: 'InvalidProtocolVersion', detail: version.detail });
    if (route.kind === 'unknown') return sendError(res, 404, `No such resource: ${req.method ?? ''} ${path}`);
    if (route.kind === 'methodNotAllowed') {
      return sendError(res, 405, `Method ${req.method ?? ''} is not allowed on ${path}`, { headers: { allow: route.allow } });
    }

    // An admitted request keeps its slot whatever happens next (a bad query, an injected fault).
    const quotaClass: QuotaClass = route.kind === 'query' ? 'queries' : route.kind === 'configurations' ? 'configurations' : 'twinReads';
    const refused = quota.take(quotaClass);
    if (refused) {
      throttled++;
      throttledOperations.set(operation!, (throttledOperations.get(operation!) ?? 0) + 1);
      // No Retry-After: the real hub documents none for throttling (see quota.ts).
      return sendError(res, 429, `The request has been throttled. Operation type: ${OPERATION_TYPE[quotaClass]}`, {
        code: 'ThrottlingException',
        detail: `Emulated quota: ${quotaClass} ${refused.text} (sliding window)`,
      });
    }

    if (route.kind === 'badId') return sendError(res, 400, 'The id in the path is not valid percent-encoding');
    if (route.kind === 'query') return answerQuery(req, res, query!);
    if (route.kind === 'configurations') return answerConfigurations(res, search);
    answerTwin(res, route);
  };

  const statsSnapshot = (): IotHubEmulatorStats => ({
    total,
    operations: Object.fromEntries(operations),
    throttled,
    throttledOperations: Object.fromEntries(throttledOperations),
    quota: quota.snapshot(),
    timeScale: clock.timeScale,
    emulatedMs: Math.floor(clock.now()),
    firstRequestMs,
    lastRequestMs,
  });
  const resetStats = () => {
    firstRequestMs = null;
    lastRequestMs = null;
    total = 0;
    operations.clear();
    throttled = 0;
    throttledOperations.clear();
  };

  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (path === '/__emulator/stats') {
      req.resume();
      if (req.method === 'GET') sendJson(res, 200, JSON.stringify(statsSnapshot()));
      else if (req.method === 'DELETE') {
        resetStats();
        sendJson(res, 200, JSON.stringify(statsSnapshot()));
      } else sendError(res, 405, `Method ${req.method ?? ''} is not allowed on /__emulator/stats`, { headers: { allow: 'GET, DELETE' } });
      return;
    }
    handleHub(req, res, path, new URLSearchParams(q < 0 ? '' : url.slice(q + 1))).catch((err: unknown) => {
      process.stderr.write(`iothub emulator: internal error: ${(err as Error).message}\n`);
      sendError(res, 500, 'Internal emulator error');
    });
  });

  let listening: Listening;
  try {
    listening = await listen(server, options);
  } catch (err) {
    closing = true; // stops the background warm-up
    throw err;
  }
  const { url, port } = listening;

  return {
    url,
    port,
    get credentials() {
      return { ...current.hub };
    },
    get connectionString() {
      return formatConnectionString(current.hub);
    },
    env() {
      return { IOTHUB_CONNECTION_STRING: formatConnectionString(current.hub), IOTHUB_ENDPOINT: url };
    },
    fixture() {
      refresh();
      return current;
    },
    mutate(fn) {
      refresh();
      fn(current);
      install(normalizeFixture(current), false);
    },
    stats: statsSnapshot,
    resetStats,
    close() {
      if (closed) return closed;
      closing = true;
      for (const s of sleepers) {
        clearTimeout(s.timer);
        s.resolve();
      }
      sleepers.clear();
      for (const done of [...hung]) done();
      closed = listening.close();
      return closed;
    },
  };
}
