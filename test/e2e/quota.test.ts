/**
 * Passes inside the provider's quota, end to end: --max-duration bounds a pass in time, --rate and
 * the emulator's quota (when it has one) show a paced pass is never throttled.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateFleet, startIotHubEmulator, type IotHubEmulator } from '../../src/emulators/iothub/index.js';
import { migrateLatest } from '../../src/store/migrate.js';
import { upsertDeviceModels } from '../../src/store/models.js';
import { createTestDatabase, type TestDatabase } from '../support/backends.js';
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
    // Five requests at 10 a second: at least four gaps of 100 ms. The pacer waits what is left of
    // each gap once its request is done, so the wait it reports shrinks as requests get slower (a
    // loaded machine): some wait, never more than the gaps themselves.
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    expect(doc.quota.waitSeconds).toBeGreaterThan(0);
    expect(doc.quota.waitSeconds).toBeLessThanOrEqual(0.4 + 0.05);
    expect(doc.quota.throttledRequests).toBe(0);
    expect((await sync('--rate', 'fast')).code).toBe(64);
  });
});

/**
 * Against the emulator's IoT Hub quota at 20 queries a minute, 60 times faster than real time (the
 * client on the same time scale): a 5,000-device pass of 50 pages is 2.5 emulated minutes.
 */
describe('a pass inside an S1 quota (20 queries/min, time scale 60)', () => {
  const SCALE = 60;
  let emulator: IotHubEmulator;
  let db: TestDatabase;
  beforeEach(async () => {
    emulator = await startIotHubEmulator({ fixture: generateFleet({ devices: 5_000, lora: 0 }), quota: { queries: '20/min' }, timeScale: SCALE });
    db = await createTestDatabase('sqlite');
    await migrateLatest(db.knex());
    await upsertDeviceModels(db.knex(), emulator.fixture().deviceModels.map((m) => ({ ...m, description: m.description ?? null })));
  });
  afterEach(async () => {
    await emulator.close();
    await db.drop();
  });
  const sync = (...args: string[]) =>
    runCli(['devices', '--db', db.url, '--lock-dir', `${db.url.slice('sqlite:'.length)}.locks`, '--json', '--page-size', '100', ...args], {
      ...emulator.env(),
      PORTAL_SYNC_TIME_SCALE: String(SCALE),
    });
  const stored = async () => Number((await db.knex()('devices').count({ n: '*' }).first())!.n);

  it('with --rate 20/min: every page read, not one request throttled', async () => {
    const result = await sync('--rate', '20/min');
    const doc = parseJson(result);
    expect(result.code, result.stderr).toBe(0);
    const listed = emulator.fixture().twins.filter((t) => !t.capabilities?.iotEdge && t.tags?.deviceType !== 'LoRa Concentrator').length;
    expect(doc.apiCalls.total).toBe(Math.ceil(listed / 100));
    expect(doc.quota.throttledRequests).toBe(0);
    expect(emulator.stats().throttled).toBe(0);
    expect(await stored()).toBeGreaterThan(4_000);
  });

  it('without --rate: throttled, it slows down (AIMD) and still reads every page, so deletes happen', async () => {
    const first = await sync();
    expect(first.code, first.stderr).toBe(0);
    const before = await stored();
    expect(parseJson(first).quota.throttledRequests).toBeGreaterThan(0);
    emulator.mutate((f) => {
      f.twins = f.twins.slice(100);
    });
    const second = await sync();
    const doc = parseJson(second);
    expect(second.code, second.stderr).toBe(0);
    expect(doc.deletesWithheld).toBeNull();
    expect(doc.applied.delete).toBe(before - (await stored()));
    expect(doc.applied.delete).toBeGreaterThan(0);
  });
});
