/**
 * The IoT Hub client's retry bounds, on a virtual clock: waits take no real time, and a request the
 * emulator leaves unanswered times out as soon as it is seen to hang, the clock jumping by its whole
 * timeout. Bounds of a minute are proven in milliseconds, and each test has a short real timeout so
 * that a client that really waited fails it.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startIotHubEmulator, type FaultSpec, type IotHubEmulator } from '../../src/emulators/iothub/index.js';
import { IotHubClient, type IotHubClientOptions } from '../../src/providers/iothub/client.js';
import { ProviderError } from '../../src/providers/errors.js';
import type { Clock } from '../../src/providers/retry.js';
import { virtualClock } from '../support/virtual-clock.js';

const twins = (n: number) => Array.from({ length: n }, (_, i) => ({ deviceId: `d${String(i + 1).padStart(3, '0')}` }));
const QUERY = 'SELECT * FROM devices';

describe('IoT Hub client retry bounds', () => {
  let emulator: IotHubEmulator | undefined;
  afterEach(async () => {
    vi.restoreAllMocks();
    await emulator?.close();
    emulator = undefined;
  });

  /** 5 twins at 2 a page: pages 1, 2, 3. */
  async function clientFor(faults: FaultSpec[], options: Partial<IotHubClientOptions> = {}) {
    emulator = await startIotHubEmulator({ fixture: { twins: twins(5), faults } });
    const clock = virtualClock();
    const retries: Array<{ attempt: number; waitMs: number }> = [];
    const client = new IotHubClient({
      credentials: emulator.credentials,
      endpoint: emulator.url,
      pageSize: 2,
      clock,
      onRetry: ({ attempt, waitMs }) => retries.push({ attempt, waitMs }),
      ...options,
    });
    return { client, clock, retries };
  }

  async function listAll(client: IotHubClient): Promise<string[]> {
    const ids: string[] = [];
    for await (const page of client.queryPages<{ deviceId: string }>(QUERY)) ids.push(...page.map((t) => t.deviceId));
    return ids;
  }

  /** Runs the listing to its failure; returns the error and how long it took on the virtual clock. */
  async function failure(client: IotHubClient, clock: Clock): Promise<{ error: ProviderError; elapsedMs: number }> {
    const started = clock.now();
    const error = await listAll(client).then(
      () => expect.unreachable('the listing should have failed'),
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ProviderError);
    return { error: error as ProviderError, elapsedMs: clock.now() - started };
  }

  it("waits out the server's Retry-After of 10 s, not its own backoff, then reads every page", { timeout: 5000 }, async () => {
    const { client, clock, retries } = await clientFor([{ operation: 'query:devices', page: 2, status: 429, retryAfterSeconds: 10, times: 1 }]);
    expect(await listAll(client)).toEqual(['d001', 'd002', 'd003', 'd004', 'd005']);
    expect(retries).toEqual([{ attempt: 1, waitMs: 10_000 }]);
    // The hub's 10 s, then only the pacing the 429 started: twice the real gap between pages here.
    expect(clock.sleeps[0]).toBe(10_000);
    expect(clock.sleeps.slice(1).every((ms) => ms < 1_000)).toBe(true);
    expect(client.calls.quota.throttled).toBe(1);
    expect(emulator!.stats().operations).toEqual({ 'query:devices': 4 });
  });

  it('waits out a Retry-After longer than the page budget: the quota is not a failure, nor a spent retry', { timeout: 5000 }, async () => {
    const { client, clock, retries } = await clientFor([{ operation: 'query:devices', page: 2, status: 429, retryAfterSeconds: 10, times: 3 }], {
      pageBudgetMs: 5000,
      retry: { maxRetries: 0, baseDelayMs: 250 },
    });
    expect(await listAll(client)).toEqual(['d001', 'd002', 'd003', 'd004', 'd005']);
    expect(retries.map((r) => r.attempt)).toEqual([1, 2, 3]);
    expect(clock.sleeps.filter((ms) => ms === 10_000)).toHaveLength(3);
    expect(client.calls.quota).toMatchObject({ throttled: 3 });
    expect(client.calls.quota.waitMs).toBeGreaterThanOrEqual(30_000);
  });

  it('with the defaults, a page that hangs gives up within 60 s: two attempts of 30 s, not six', { timeout: 8000 }, async () => {
    const { client, clock } = await clientFor([{ operation: 'query:devices', page: 1, hang: true }]);
    const { error, elapsedMs } = await failure(client, clock);
    // The budget, plus the few real milliseconds spent between the last timeout and the throw.
    expect(elapsedMs).toBeLessThan(60_000 + 100);
    expect(error.kind).toBe('timeout');
    expect(error.message).toMatch(/: page 1 of query:devices gave up after 60 s \(budget\) and 2 attempts: timed out after [\d.]+ s$/);
    // The second attempt only gets what the first and the wait after it left of the budget.
    expect(clock.timeouts).toHaveLength(2);
    expect(clock.timeouts[0]).toBe(30_000);
    expect(clock.timeouts[1]).toBeLessThanOrEqual(30_000);
    expect(clock.timeouts[1]).toBeGreaterThan(29_000);
    expect(emulator!.stats().operations).toEqual({ 'query:devices': 2 });
  });

  it('never waits past the budget between attempts, and says the budget ran out', { timeout: 5000 }, async () => {
    vi.spyOn(Math, 'random').mockReturnValue(1); // backoff 250, 500, 1000, ... ms
    const { client, clock } = await clientFor([{ operation: 'query:devices', page: 2, status: 500 }], {
      requestTimeoutMs: 500,
      pageBudgetMs: 1000,
      retry: { maxRetries: 20, baseDelayMs: 250 },
    });
    const { error, elapsedMs } = await failure(client, clock);
    expect(elapsedMs).toBeLessThanOrEqual(1000);
    expect(clock.sleeps).toEqual([250, 500]);
    expect(error.kind).toBe('server');
    expect(error.message).toMatch(/: page 2 of query:devices gave up after 1 s \(budget\) and 3 attempts: failed with HTTP 500$/);
  });

  it('--max-retries still caps the attempts within the budget', { timeout: 5000 }, async () => {
    const { client, clock } = await clientFor([{ operation: 'query:devices', page: 3, status: 503 }], { retry: { maxRetries: 2, baseDelayMs: 250 } });
    const { error } = await failure(client, clock);
    expect(error.message).toMatch(/: page 3 of query:devices gave up after 3 attempts: failed with HTTP 503$/);
    expect(clock.sleeps).toHaveLength(2);
    expect(emulator!.stats().operations).toEqual({ 'query:devices': 5 });
  });

  it('bounds each attempt by the request timeout', { timeout: 8000 }, async () => {
    const { client, clock } = await clientFor([{ operation: 'query:devices', page: 1, hang: true, times: 1 }], { requestTimeoutMs: 2000 });
    expect(await listAll(client)).toHaveLength(5);
    expect(clock.timeouts).toEqual([2000, 2000, 2000, 2000]);
  });
});
