/**
 * The forwarding-service client of `navixy-customers` against the emulated service over real HTTP:
 * paging, the read-back by an awkward reference, writes and the service's own refusals, retries of
 * reads (and none of writes) on a virtual clock, and errors that name the operation but never the
 * token or a hash.
 */
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiCallCounter, ProviderError } from '../../src/providers/errors.js';
import { ForwarderClient, type ForwarderConfig } from '../../src/providers/forwarder/client.js';
import { exitCodeOf } from '../../src/run/exit-code.js';
import { startTestForwarder, type TestForwarder } from '../support/forwarder.js';
import { virtualClock } from '../support/virtual-clock.js';

const HASH = 'f00dfeedcafebabe0123456789abcdef';
const TOKEN = 'test-token-that-must-never-show-0001';

let forwarder: TestForwarder | null = null;
afterEach(async () => {
  await forwarder?.close();
  forwarder = null;
});

async function client(fixture: Record<string, unknown>, options: Partial<ForwarderConfig> = {}) {
  forwarder = await startTestForwarder({ token: TOKEN, ...fixture });
  const calls = new ApiCallCounter();
  const clock = virtualClock();
  const config: ForwarderConfig = { url: forwarder.emulator.url, token: TOKEN, maxRetries: 2, requestTimeoutMs: 5000, ...options };
  return { client: new ForwarderClient(config, calls, () => 1, clock), calls, clock };
}

const connections = (n: number) => Array.from({ length: n }, (_, i) => ({ customerRef: `c-${i}`, hash: `${HASH}${i}` }));

describe('ForwarderClient against the emulated service', () => {
  it('lists every connection once, 1,000 a page, whatever its status', async () => {
    const { client: c, calls } = await client({ connections: [...connections(2500), { customerRef: 'x', hash: HASH, status: 'disconnected' }] });
    const seen: string[] = [];
    for await (const page of c.listConnections()) seen.push(...page.map((x) => x.id));
    expect(seen).toHaveLength(2501);
    expect(new Set(seen).size).toBe(2501);
    expect(calls.toJSON()).toEqual({ ListConnections: 3 });
  });

  it('establishes, reads back by a reference with / # % and spaces, and closes; 409 and 404 are answers', async () => {
    const ref = 'cust 1#eu/north 100%';
    const { client: c, calls } = await client({});
    const made = await c.establish(ref, HASH);
    expect(made.status).toBe('ok');
    const back = await c.customerConnections(ref);
    expect(back).toHaveLength(1);
    expect(back[0]).toMatchObject({ customerRef: ref, status: 'connected' });
    expect(back[0]!.hashSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(await c.establish(ref, HASH)).toEqual({ status: 'conflict' });
    expect(await c.close(back[0]!.id, ref)).toEqual({ status: 'ok', connection: null });
    expect(await c.close(back[0]!.id, ref)).toEqual({ status: 'not-found' });
    expect(await c.customerConnections('cust 1#eu')).toEqual([]);
    expect(calls.toJSON()).toEqual({ CloseConnection: 2, EstablishConnection: 2, ReadCustomerConnections: 2 });
  });

  it('retries a throttled read after its Retry-After, and a 503 after a backoff; never a write', async () => {
    const { client: c, calls, clock } = await client({
      connections: connections(3),
      faults: [
        { operation: 'list', kind: 'throttle', retryAfterSeconds: 7, times: 1 },
        { operation: 'read', kind: 'error', status: 503, times: 1 },
        { operation: 'establish', kind: 'error', status: 503, times: 1 },
      ],
    });
    let n = 0;
    for await (const page of c.listConnections()) n += page.length;
    expect(n).toBe(3);
    expect(await c.customerConnections('c-1')).toHaveLength(1);
    expect(clock.sleeps).toEqual([7000, 250]);
    const refused = await c.establish('c-new', HASH).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ProviderError);
    expect((refused as Error).message).toBe('forwarding service: establishing customer c-new failed: HTTP 503 unavailable');
    expect(calls.toJSON()).toEqual({ EstablishConnection: 1, ListConnections: 2, ReadCustomerConnections: 2 });
  });

  it('gives up on a read after --max-retries, and maps the outcome to an exit code', async () => {
    const { client: c, calls } = await client({ faults: [{ operation: 'read', kind: 'error', status: 500 }] });
    const error = await c.customerConnections('c-1').catch((e: unknown) => e);
    expect((error as Error).message).toBe('forwarding service: the connections of customer c-1 failed: HTTP 500 internal (after 3 attempts)');
    expect(exitCodeOf(error)).toBe(1);
    expect(calls.toJSON()).toEqual({ ReadCustomerConnections: 3 });
  });

  it('a refused token is 78 without the token; an unreachable service is 69 naming the URL', async () => {
    const { client: c } = await client({}, { token: 'wrong-token-0000' });
    const refused = await c.customerConnections('c-1').catch((e: unknown) => e);
    expect(exitCodeOf(refused)).toBe(78);
    expect((refused as Error).message).toContain('check NAVIXY_FORWARDER_TOKEN');
    expect((refused as Error).message).not.toContain('wrong-token');
    const url = forwarder!.emulator.url;
    await forwarder!.close();
    forwarder = null;
    const gone = new ForwarderClient({ url, token: TOKEN, maxRetries: 1, requestTimeoutMs: 5000 }, new ApiCallCounter(), () => 1, virtualClock());
    const error = await gone.customerConnections('c-1').catch((e: unknown) => e);
    expect(exitCodeOf(error)).toBe(69);
    expect((error as Error).message).toContain(`the service at ${url} is unreachable (ECONNREFUSED) (after 2 attempts)`);
    expect((error as Error).message).not.toContain(TOKEN);
  });
});

describe('ForwarderClient against a service that misbehaves', () => {
  let server: Server | null = null;
  afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

  async function serve(body: (url: URL) => unknown): Promise<string> {
    server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body(new URL(req.url ?? '/', 'http://x'))));
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  }

  it('ends a listing whose cursor comes back, instead of looping', async () => {
    const url = await serve(() => ({ connections: [], nextCursor: 'same' }));
    const c = new ForwarderClient({ url, token: TOKEN, maxRetries: 0, requestTimeoutMs: 5000 }, new ApiCallCounter(), () => 1, virtualClock());
    const pages = async () => {
      for await (const page of c.listConnections()) void page;
    };
    await expect(pages()).rejects.toThrow('page 2 of the connections gave a cursor already used; the listing stops there instead of looping');
  });

  it('refuses a connection without the fields of the contract', async () => {
    const url = await serve(() => ({ connections: [{ id: 'c1', customerRef: 'x', status: 'connected', createdAt: '2026-01-01T00:00:00Z' }], nextCursor: null }));
    const c = new ForwarderClient({ url, token: TOKEN, maxRetries: 0, requestTimeoutMs: 5000 }, new ApiCallCounter(), () => 1, virtualClock());
    const pages = async () => {
      for await (const page of c.listConnections()) void page;
    };
    await expect(pages()).rejects.toThrow('forwarding service: page 1 of the connections, item 0: hashSha256 is not a string');
  });
});
