/**
 * The emulated AWS IoT Core control plane, IoT data plane and Greengrass V2, on one loopback port,
 * as the AWS SDK v3 clients call them (routes.ts lists the operations).
 *
 * Each request is checked in the order AWS checks it: the SigV4 `Authorization` header's shape and
 * key id (sigv4.ts; even for a path that names no operation), then the route (404
 * UnknownOperationException), then the quota (quota.ts: ThrottlingException), then the injected
 * faults (faults.ts), then the operation itself. Every request that names an operation is counted
 * under it, refused ones included.
 *
 *   GET    /__emulator/stats   counters, throttling, quota state, state counts, emulated time (no auth)
 *   DELETE /__emulator/stats   resets the counters (not the quota windows, nor the state)
 *
 * The fixture (the `aws` section of the fleet file) is re-read when the file changes
 * (../fixture-file.ts), replacing the state, fault counters included.
 */
import { listen } from '../http-listen.js';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { EmulatedClock, type RealClock } from '../iothub/clock.js';
import { QuotaMeter, QuotaError, type QuotaState } from '../iothub/quota.js';
import { FixtureFile } from '../fixture-file.js';
import { DATA_PLANE_HANDLERS } from './data-plane.js';
import { AwsError, codeForStatus, sendAwsError, sendJson, throttled } from './errors.js';
import { FaultBook, type AwsFault } from './faults.js';
import { FLEET_INDEX_HANDLERS, searchTokenOf } from './fleet-index.js';
import { awsSection, loadAwsFixture, normalizeAwsFixture, type AwsFixture, type AwsFixtureInput, type FixtureWithAws } from './fixture.js';
import { GREENGRASS_HANDLERS } from './greengrass.js';
import { IOT_HANDLERS } from './iot.js';
import type { AwsOperation, AwsService } from './operations.js';
import { pageNumberOf } from './paging.js';
import { checkAwsQuotaSpec, PUBLISHED_QUOTA, type AwsQuotaSpec } from './quota.js';
import type { OpReply, OpRequest } from './request.js';
import { matchAwsRoute } from './routes.js';
import { checkSigV4 } from './sigv4.js';
import { AwsState, type AwsStateCounts, type AwsStateSnapshot } from './state.js';

export interface AwsEmulatorOptions {
  /** A fleet file whose `aws` section is served; re-read whenever its mtime/size change (checked on each request). */
  fixturePath?: string;
  /** An in-memory fixture: the `aws` section, or a whole fleet holding one. Give this or `fixturePath`, not both. */
  fixture?: AwsFixtureInput | FixtureWithAws;
  /** Port to listen on; a random free port when absent. */
  port?: number;
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /**
   * Rates to enforce: per operation (`{ListThings: "10/s"}`), or `"aws"` for AWS's published table
   * (quota.ts). Per operation, this wins over the fixture's `quota`.
   */
  quota?: AwsQuotaSpec | 'aws';
  /** Emulated milliseconds per real millisecond for the quota windows (default 1; ../iothub/clock.ts). */
  timeScale?: number;
  /** The real clock the quota windows derive from (ms, monotonic); tests inject one. */
  clock?: RealClock;
  /**
   * Wall-clock epoch milliseconds: when DeprecateThingType dates a deprecation and DeleteThingType
   * checks its 5 minutes (not scaled: the tool compares the same dates with its own clock). Tests inject one.
   */
  now?: () => number;
}

export interface AwsEmulatorStats {
  /** Every request that named an operation, throttled and failed ones included. */
  total: number;
  /** Per SDK operation name. */
  requests: Record<string, number>;
  /** Requests refused by the quota (not by injected faults). */
  throttled: number;
  throttledOperations: Record<string, number>;
  /** Requests answered by an injected fault, per operation. */
  faults: Record<string, number>;
  quota: Partial<Record<AwsOperation, QuotaState>>;
  /** How many of each resource the account holds now (after deletions). */
  state: AwsStateCounts;
  timeScale: number;
  emulatedMs: number;
}

export interface AwsEmulator {
  /** `http://127.0.0.1:<port>`: IoT, the IoT data plane and Greengrass V2 all answer here. */
  readonly url: string;
  readonly port: number;
  /** AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and the three AWS_ENDPOINT_URL_* (all this url). */
  env(): Record<string, string>;
  /** The current normalized fixture (re-checks the fixture file first). */
  fixture(): AwsFixture;
  stats(): AwsEmulatorStats;
  resetStats(): void;
  /** What is left after the tool's deletions (re-checks the fixture file first). */
  state(): AwsStateSnapshot;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1 << 20;

type Handler = (req: OpRequest) => OpReply;
const HANDLERS: Record<AwsOperation, Handler> = { ...IOT_HANDLERS, ...FLEET_INDEX_HANDLERS, ...DATA_PLANE_HANDLERS, ...GREENGRASS_HANDLERS };

function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > MAX_BODY_BYTES ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** The error an injected fault answers. */
function faultError(fault: AwsFault, service: AwsService, operation: AwsOperation): AwsError {
  if (fault.kind === 'throttle') return throttled(service, 'Rate exceeded (injected fault)', fault.retryAfterSeconds);
  const status = fault.status ?? 500;
  const code = fault.code ?? codeForStatus(service, status);
  const headers: Record<string, string> = fault.retryAfterSeconds !== undefined ? { 'retry-after': String(fault.retryAfterSeconds) } : {};
  const what = fault.kind === 'page' ? `page ${fault.page!} of ${operation}` : fault.kind === 'thing' ? `${operation} for ${fault.thing!}` : operation;
  return new AwsError(status, code, `${status >= 500 ? 'Internal error' : 'Request failed'} (injected fault: ${what})`, headers);
}

function resolveOptionQuota(q: AwsEmulatorOptions['quota']): AwsQuotaSpec {
  if (q === undefined) return {};
  if (q === 'aws') return { ...PUBLISHED_QUOTA };
  return checkAwsQuotaSpec(q, 'quota');
}

export async function startAwsEmulator(options: AwsEmulatorOptions = {}): Promise<AwsEmulator> {
  const { fixturePath } = options;
  if (fixturePath !== undefined && options.fixture !== undefined) throw new Error('startAwsEmulator: give either fixturePath or fixture, not both');
  const wallNow = options.now ?? Date.now;
  let optionQuota: AwsQuotaSpec;
  try {
    optionQuota = resolveOptionQuota(options.quota);
  } catch (err) {
    if (err instanceof QuotaError) throw new Error(`startAwsEmulator: ${err.message}`);
    throw err;
  }
  const clock = new EmulatedClock(options.timeScale ?? 1, options.clock);
  const quota = new QuotaMeter<AwsOperation>(() => clock.now());

  let state!: AwsState;
  let faults!: FaultBook;
  const install = (f: AwsFixture) => {
    state = new AwsState(f);
    faults = new FaultBook(f.faults);
    quota.configure({ ...f.quota, ...optionQuota });
  };
  const file = fixturePath !== undefined ? new FixtureFile(fixturePath, (p) => loadAwsFixture(p, wallNow()), install, 'aws emulator') : undefined;
  if (!file) install(normalizeAwsFixture(awsSection(options.fixture ?? {}), wallNow()));
  const refresh = () => file?.refresh();

  const requests = new Map<string, number>();
  const throttledOps = new Map<string, number>();
  const faulted = new Map<string, number>();
  let total = 0;
  let throttledCount = 0;
  const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);

  let endpointAddress = '';

  const handle = async (req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams) => {
    refresh();
    const method = req.method ?? '';
    const route = matchAwsRoute(method, path);
    const bodyText = method === 'POST' || method === 'PUT' ? await readBody(req) : (req.resume(), '');
    if (route.kind !== 'unknown') {
      total++;
      bump(requests, route.operation);
    }
    const f = state.fixture;
    const header = (name: string) => {
      const v = req.headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    try {
      // A path that names no operation is still authenticated first (any service's scope will do).
      checkSigV4(header('authorization'), header('x-amz-date') ?? header('date'), {
        accessKeyId: f.accessKeyId,
        region: f.region,
        service: route.kind === 'unknown' ? undefined : route.service,
      });
      if (route.kind === 'unknown') throw new AwsError(404, 'UnknownOperationException', `No operation at ${method} ${path}`);
      if (route.kind === 'badLabel') throw new AwsError(400, codeForStatus(route.service, 400), 'A name in the path is not valid percent-encoding');
      const { operation } = route;
      if (quota.take(operation)) {
        throttledCount++;
        bump(throttledOps, operation);
        throw throttled(route.service);
      }
      // SearchIndex is the one listing whose token travels in the body.
      const token = operation === 'SearchIndex' ? searchTokenOf(bodyText) : (query.get('nextToken') ?? undefined);
      const fault = faults.take({ operation, page: pageNumberOf(token), thingName: route.name });
      if (fault && fault.kind !== 'repeat-token') {
        bump(faulted, operation);
        throw faultError(fault, route.service, operation);
      }
      if (fault) bump(faulted, operation);
      let body: unknown;
      if (bodyText === undefined) throw new AwsError(413, codeForStatus(route.service, 400), `Request body is larger than ${MAX_BODY_BYTES} bytes`);
      if (bodyText !== '') {
        try {
          body = JSON.parse(bodyText) as unknown;
        } catch {
          throw new AwsError(400, 'SerializationException', 'The request body is not valid JSON');
        }
      }
      const reply = HANDLERS[operation]({
        operation,
        service: route.service,
        name: route.name,
        query,
        body,
        state,
        now: wallNow(),
        endpointAddress,
        repeatToken: fault?.kind === 'repeat-token',
      });
      sendJson(res, reply.status, reply.body);
    } catch (err) {
      if (err instanceof AwsError) sendAwsError(res, err);
      else throw err;
    }
  };

  const statsSnapshot = (): AwsEmulatorStats => ({
    total,
    requests: Object.fromEntries(requests),
    throttled: throttledCount,
    throttledOperations: Object.fromEntries(throttledOps),
    faults: Object.fromEntries(faulted),
    quota: quota.snapshot(),
    state: state.counts(),
    timeScale: clock.timeScale,
    emulatedMs: Math.floor(clock.now()),
  });
  const resetStats = () => {
    total = 0;
    throttledCount = 0;
    requests.clear();
    throttledOps.clear();
    faulted.clear();
  };

  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (path === '/__emulator/stats') {
      req.resume();
      refresh();
      if (req.method === 'GET') sendJson(res, 200, statsSnapshot());
      else if (req.method === 'DELETE') {
        resetStats();
        sendJson(res, 200, statsSnapshot());
      } else sendJson(res, 405, { message: `Method ${req.method ?? ''} is not allowed on /__emulator/stats` }, { allow: 'GET, DELETE' });
      return;
    }
    handle(req, res, path, new URLSearchParams(q < 0 ? '' : url.slice(q + 1))).catch((err: unknown) => {
      process.stderr.write(`aws emulator: internal error: ${(err as Error).message}\n`);
      sendAwsError(res, new AwsError(500, 'InternalFailureException', 'Internal emulator error'));
    });
  });

  const listening = await listen(server, options);
  const url = listening.url;
  endpointAddress = listening.address;

  return {
    url,
    port: listening.port,
    env() {
      refresh();
      const f = state.fixture;
      return {
        AWS_REGION: f.region,
        AWS_ACCESS_KEY_ID: f.accessKeyId,
        AWS_SECRET_ACCESS_KEY: f.secretAccessKey,
        AWS_ENDPOINT_URL_IOT: url,
        AWS_ENDPOINT_URL_IOT_DATA_PLANE: url,
        AWS_ENDPOINT_URL_GREENGRASSV2: url,
      };
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
    state() {
      refresh();
      return state.snapshot();
    },
    close: listening.close,
  };
}

