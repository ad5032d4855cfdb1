/**
 * The Control Center client against a scripted loopback server: the request as Control Center wants
 * it (path, query, Basic authentication), retries of what may pass later (the rate-limit error
 * 40000029, a 429 with Retry-After, 5xx, timeouts) within the retry budget on a virtual clock, and
 * the errors that end a pass: named by provider, never quoting the API key.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiCallCounter, ProviderError } from '../../src/providers/errors.js';
import { JasperClient, type JasperLimits } from '../../src/providers/jasper/client.js';
import { exitCodeOf } from '../../src/run/exit-code.js';
import { virtualClock } from '../support/virtual-clock.js';

const KEY = 'ck-0123456789abcdef-secret';
type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => void;

let server: Server;
let base: string;
let handler: Handler;
const seen: Array<{ url: URL; auth: string | undefined }> = [];

beforeEach(async () => {
  seen.length = 0;
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    seen.push({ url, auth: req.headers.authorization });
    handler(req, res, url);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}/sp/sp1`;
});
afterEach(() => new Promise<void>((r) => server.close(() => r())));

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};
const page = (n: number, last: boolean) => ({ devices: [{ iccid: `8901260000000000${n}`, status: 'ACTIVATED', ratePlan: 'rp', communicationPlan: 'cp' }], pageNumber: n, lastPage: last });

function client(limits: Partial<JasperLimits> = {}) {
  const clock = virtualClock();
  const calls = new ApiCallCounter();
  const c = new JasperClient({ providerId: 'sp1', baseUrl: base, username: 'api-user', apiKey: KEY }, { retryBudgetMs: 60_000, requestTimeoutMs: 5000, rate: null, ...limits }, calls, clock, () => 1);
  return { c, clock, calls };
}

describe('JasperClient', () => {
  it('asks for a page as Control Center wants it: modifiedSince with its zone, 50 a page, Basic user:key', async () => {
    handler = (_req, res, url) => json(res, 200, page(Number(url.searchParams.get('pageNumber')), false));
    const { c, calls } = client();
    const answer = await c.devicesPage(new Date('2026-11-01T08:30:00.123Z'), 3);
    expect(answer).toEqual({ devices: [{ iccid: '89012600000000003', status: 'ACTIVATED', ratePlan: 'rp', communicationPlan: 'cp' }], pageNumber: 3, lastPage: false });
    const { url, auth } = seen[0]!;
    expect(url.pathname).toBe('/sp/sp1/rws/api/v1/devices');
    expect(Object.fromEntries(url.searchParams)).toEqual({ modifiedSince: '2026-11-01T08:30:00Z', pageSize: '50', pageNumber: '3' });
    expect(auth).toBe(`Basic ${Buffer.from(`api-user:${KEY}`).toString('base64')}`);
    expect(calls.toJSON()).toEqual({ GetModifiedDevices: 1 });
  });

  it('retries the rate-limit error 40000029, a 429 after its Retry-After and a 503, with growing jittered backoff', async () => {
    let n = 0;
    handler = (_req, res) => {
      n++;
      if (n === 1) return json(res, 400, { errorMessage: 'Rate Limit Exceeded', errorCode: '40000029' });
      if (n === 2) return json(res, 429, { errorMessage: 'Too many requests', errorCode: '40000029' }, { 'retry-after': '9' });
      if (n === 3) return json(res, 503, { errorMessage: 'down' });
      return json(res, 200, page(1, true));
    };
    const { c, clock, calls } = client({ baseBackoffMs: 1000 });
    expect((await c.devicesPage(new Date(), 1)).lastPage).toBe(true);
    // random() = 1: the whole backoff, 1 s then 2 s then 4 s; the 429 asked for 9 s.
    expect(clock.sleeps).toEqual([1000, 9000, 4000]);
    expect(c.retries).toEqual({ count: 3, waitedMs: 14_000 });
    expect(calls.toJSON()).toEqual({ GetModifiedDevices: 4 });
  });

  it('stops when the next wait would pass the retry budget, with what failed', async () => {
    handler = (_req, res) => json(res, 500, { errorMessage: 'boom', errorCode: '50000000' });
    const { c, clock } = client({ retryBudgetMs: 5000, baseBackoffMs: 1000 });
    const error = await c.devicesPage(new Date(), 7).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderError);
    expect((error as Error).message).toBe('Control Center of service provider sp1, devices page 7: HTTP 500, error 50000000; retry budget spent (3 attempts)');
    expect(clock.sleeps).toEqual([1000, 2000]);
    expect(exitCodeOf(error)).toBe(1);
  });

  it('a refused key is 78, naming the provider and its variable, never the key; a 400 that is not the rate limit is not retried', async () => {
    handler = (_req, res) => json(res, 401, { errorMessage: `Invalid credentials ${KEY}`, errorCode: '10000001' });
    const { c, calls } = client();
    const error = await c.devicesPage(new Date(), 1).catch((e: unknown) => e);
    expect(exitCodeOf(error)).toBe(78);
    expect((error as Error).message).toContain('JASPER_API_KEY_SP1');
    expect((error as Error).message).not.toContain(KEY);
    handler = (_req, res) => json(res, 400, { errorMessage: 'modifiedSince invalid', errorCode: '10000024' });
    const bad = await c.devicesPage(new Date(), 1).catch((e: unknown) => e);
    expect((bad as Error).message).toBe('Control Center of service provider sp1, devices page 1: HTTP 400, error 10000024');
    expect(calls.toJSON()).toEqual({ GetModifiedDevices: 2 });
  });

  it('an unreachable Control Center is 69 once the budget is spent; a hung one times out and is retried', async () => {
    let hung = 0;
    handler = (_req, res) => {
      if (hung++ === 0) return; // never answers
      json(res, 200, page(1, true));
    };
    const { c, clock } = client({ requestTimeoutMs: 20_000, baseBackoffMs: 100 });
    expect((await c.devicesPage(new Date(), 1)).lastPage).toBe(true);
    expect(clock.timeouts).toEqual([20_000, 20_000]);
    // A port nothing listens on any more.
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const gone = new JasperClient({ providerId: 'sp1', baseUrl: `http://127.0.0.1:${port}`, username: 'u', apiKey: KEY }, { retryBudgetMs: 300, requestTimeoutMs: 1000, rate: null, baseBackoffMs: 100 }, new ApiCallCounter(), virtualClock(), () => 1);
    const error = await gone.devicesPage(new Date(), 1).catch((e: unknown) => e);
    expect(exitCodeOf(error)).toBe(69);
    expect((error as Error).message).toContain(`http://127.0.0.1:${port} is unreachable (ECONNREFUSED); retry budget spent (3 attempts)`);
    expect((error as Error).message).not.toContain(KEY);
  });

  it('takes a record as given: fields missing or of another type become null, for the promotion to skip', async () => {
    handler = (_req, res) => json(res, 200, { devices: [{ iccid: 8901, status: 'ACTIVATED' }, null, { iccid: '8901260000000000001', status: 'ACTI\u0000VATED', ratePlan: 'rp', communicationPlan: 'cp' }], pageNumber: 1, lastPage: true });
    const { c } = client();
    expect((await c.devicesPage(new Date(), 1)).devices).toEqual([
      { iccid: null, status: 'ACTIVATED', ratePlan: null, communicationPlan: null },
      { iccid: null, status: null, ratePlan: null, communicationPlan: null },
      // A NUL byte, which PostgreSQL's text cannot hold: the field is missing, so the record is rejected, not the page.
      { iccid: '8901260000000000001', status: null, ratePlan: 'rp', communicationPlan: 'cp' },
    ]);
  });
});
