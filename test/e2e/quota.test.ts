/**
 * Passes inside the provider's quota, end to end: --max-duration bounds a pass in time, --rate and
 * the emulator's quota (when it has one) show a paced pass is never throttled.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseJson, runCli } from '../support/cli.js';
import { startPortal, type Portal } from '../support/portal.js';
import { fleet, MODELS, standard } from './fleet.js';

describe('quota and time bounds', () => {
  let portal: Portal;
  const twins = (n: number) => Array.from({ length: n }, (_, i) => standard(`dev-${String(i).padStart(4, '0')}`));
  beforeEach(async () => {
    portal = await startPortal('sqlite', fleet(twins(50)), { devices: MODELS });
  });
  afterEach(() => portal.close());
  const sync = (...args: string[]) => runCli(['devices', '--db', portal.db.url, '--lock-dir', portal.lockDir, '--json', ...args], portal.hub.env());

  it('--max-duration stops a pass as partial: what was read is applied, nothing deleted, the reason said', async () => {
    // Page 3 answers after a minute; the pass may take 2 s.
    portal.hub.write(fleet(twins(50), [{ operation: 'query:devices', page: 3, delayMs: 60_000, times: 1 }]));
    const started = Date.now();
    const result = await sync('--page-size', '10', '--max-duration', '2s');
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(result.code).toBe(3);
    const doc = parseJson(result);
    expect(doc.status).toBe('partial');
    expect(doc.failed).toContainEqual({ ref: null, error: 'listing stopped after page 2: stopped at --max-duration 2 s after 2 pages' });
    expect(doc.deletesWithheld).toMatch(/--max-duration/);
    expect(doc.applied.create).toBe(20);
  });

  it('reports the time spent on quota and the throttled requests, and a 429 spends no retry', async () => {
    // Three 429s in a row for page 2, with --max-retries 0: the quota is not a failure.
    portal.hub.write(fleet(twins(50), [{ operation: 'query:devices', page: 2, status: 429, retryAfterMs: 20, times: 3 }]));
    const result = await sync('--page-size', '10', '--max-retries', '0');
    expect(result.code).toBe(0);
    const doc = parseJson(result);
    expect(doc.applied.create).toBe(50);
    expect(doc.quota.throttledRequests).toBe(3);
    expect(doc.quota.waitSeconds).toBeGreaterThanOrEqual(0.06);
  });

  it('--rate paces every request of the pass', async () => {
    const started = Date.now();
    const result = await sync('--page-size', '10', '--rate', '10/s');
    const doc = parseJson(result);
    expect(result.code).toBe(0);
    expect(doc.apiCalls.total).toBe(5);
    // Five requests at 10 a second: at least four gaps of 100 ms, all of it time spent on quota.
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    expect(doc.quota.waitSeconds).toBeGreaterThanOrEqual(0.3);
    expect(doc.quota.throttledRequests).toBe(0);
    expect((await sync('--rate', 'fast')).code).toBe(64);
  });
});
