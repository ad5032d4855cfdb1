/**
 * The IoT Hub client's COUNT() query and configurations list, against the emulator over HTTP and on
 * a virtual clock (no real waiting): the same auth, retries, 429 handling and counting as the query
 * pages, and a clear error for an answer that is not what was asked.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startIotHubEmulator, type FixtureInput, type IotHubEmulator } from '../../src/emulators/iothub/index.js';
import { ProviderError } from '../../src/providers/errors.js';
import { countIn, IotHubClient, type IotHubClientOptions } from '../../src/providers/iothub/client.js';
import { ConfigurationShapeError, isEdgeDeployment, parseConfigurations } from '../../src/providers/iothub/configurations.js';
import { virtualClock } from '../support/virtual-clock.js';

const twins = (n: number, extra: Record<string, unknown> = {}) => Array.from({ length: n }, (_, i) => ({ deviceId: `d${String(i + 1).padStart(3, '0')}`, ...extra }));

const DEPLOYMENT = {
  id: 'edge-base',
  content: { modulesContent: { $edgeAgent: { 'properties.desired': { modules: {} } } } },
  targetCondition: "tags.modelId = 'em-gw'",
  priority: 10,
  systemMetrics: { results: { targetedCount: 4, appliedCount: 4, reportedSuccessfulCount: 3, reportedFailedCount: 1 }, queries: {} },
};
const DEVICE_CONFIGURATION = { id: 'firmware', content: { deviceContent: { 'properties.desired.firmware': { version: '2' } } }, labels: { team: 'ops' } };
const MODULE_CONFIGURATION = { id: 'module-settings', content: { moduleContent: { 'properties.desired.x': 1 } } };

describe('IotHubClient.count and listConfigurations', () => {
  let emulator: IotHubEmulator | undefined;
  afterEach(async () => {
    await emulator?.close();
    emulator = undefined;
  });

  async function clientFor(fixture: FixtureInput, options: Partial<IotHubClientOptions> = {}) {
    emulator = await startIotHubEmulator({ fixture });
    const clock = virtualClock();
    const client = new IotHubClient({ credentials: emulator.credentials, endpoint: emulator.url, pageSize: 2, clock, ...options });
    return { client, clock, emulator };
  }

  it('counts in one request whatever the page size, with or without a filter', async () => {
    const { client, emulator } = await clientFor({ twins: [...twins(5), { deviceId: 'e1', capabilities: { iotEdge: true }, connectionState: 'Connected' }] });
    expect(await client.count(undefined)).toBe(6);
    expect(await client.count('capabilities.iotEdge = false')).toBe(5);
    expect(await client.count("(capabilities.iotEdge = true) AND connectionState = 'Connected'")).toBe(1);
    expect(await client.count("deviceId = 'nobody'")).toBe(0);
    expect(await client.count("moduleId = '$edgeAgent'", 'devices.modules')).toBe(0);
    // Six twins at two a page, yet one request per count.
    expect(client.calls.toJSON()).toEqual({ 'query:devices': 4, 'query:devices.modules': 1 });
    expect(emulator.stats().operations).toEqual({ 'query:devices': 4, 'query:devices.modules': 1 });
  });

  it('reads a count only from exactly one row with a whole non-negative n', () => {
    expect(countIn([{ n: 0 }])).toBe(0);
    expect(countIn([{ n: 42 }])).toBe(42);
    for (const [rows, said] of [
      [[], '0 rows'],
      [[{ n: 1 }, { n: 2 }], '2 rows'],
      [[{ n: -1 }], '{"n":-1}'],
      [[{ n: 1.5 }], '{"n":1.5}'],
      [[{ n: '3' }], '{"n":"3"}'],
      [[{ total: 3 }], '{"total":3}'],
      [[null], 'null'],
      [[7], '7'],
    ] as Array<[unknown[], string]>) {
      expect(() => countIn(rows)).toThrow(`${said}, not one row with a whole non-negative "n"`);
    }
  });

  it('lists the configurations, typed, with what the hub leaves out read as empty', async () => {
    const { client, emulator } = await clientFor({ configurations: [DEPLOYMENT, DEVICE_CONFIGURATION, MODULE_CONFIGURATION] });
    const list = await client.listConfigurations();
    expect(list.map((c) => c.id)).toEqual(['edge-base', 'firmware', 'module-settings']);
    expect(list[0]).toMatchObject({ targetCondition: "tags.modelId = 'em-gw'", priority: 10, systemMetrics: { results: { reportedFailedCount: 1 } } });
    expect(list[1]).toMatchObject({ labels: { team: 'ops' }, targetCondition: '', priority: 0, metrics: { results: {}, queries: {} } });
    expect(list.map(isEdgeDeployment)).toEqual([true, false, false]);
    expect(client.calls.toJSON()).toEqual({ getConfigurations: 1 });
    expect(emulator.stats().operations).toEqual({ getConfigurations: 1 });
    // `top` goes to the hub, which honours it.
    expect((await client.listConfigurations(2)).map((c) => c.id)).toEqual(['edge-base', 'firmware']);
    await expect(client.listConfigurations(0)).rejects.toThrow(RangeError);
  });

  it("waits out a 429's Retry-After on the configurations list, then reads it", { timeout: 5000 }, async () => {
    const { client, clock, emulator } = await clientFor({
      configurations: [DEPLOYMENT],
      faults: [{ operation: 'getConfigurations', status: 429, retryAfterSeconds: 7, times: 1 }],
    });
    expect((await client.listConfigurations()).map((c) => c.id)).toEqual(['edge-base']);
    expect(clock.sleeps[0]).toBe(7000);
    expect(client.calls.quota.throttled).toBe(1);
    expect(emulator.stats().operations).toEqual({ getConfigurations: 2 });
  });

  it('retries a failing configurations list within --max-retries, then names it in the give-up', { timeout: 5000 }, async () => {
    const { client, clock, emulator } = await clientFor({ faults: [{ operation: 'getConfigurations', status: 503 }] }, { retry: { maxRetries: 2, baseDelayMs: 250 } });
    const error = (await client.listConfigurations().catch((e: unknown) => e)) as ProviderError;
    expect(error).toBeInstanceOf(ProviderError);
    expect(error.kind).toBe('server');
    expect(error.message).toMatch(/^IoT Hub emulated-hub\.azure-devices\.net: getConfigurations gave up after 3 attempts: failed with HTTP 503$/);
    expect(clock.sleeps).toHaveLength(2);
    expect(emulator.stats().operations).toEqual({ getConfigurations: 3 });
  });

  it('a refused key fails the list and the count as auth errors that never quote the key', async () => {
    const { emulator } = await clientFor({ twins: twins(1), configurations: [DEPLOYMENT] });
    const key = Buffer.from('another-key-another-key-another!').toString('base64');
    const client = new IotHubClient({ credentials: { ...emulator.credentials, sharedAccessKey: key }, endpoint: emulator.url, clock: virtualClock() });
    for (const attempt of [client.listConfigurations(), client.count(undefined)]) {
      const error = (await attempt.catch((e: unknown) => e)) as ProviderError;
      expect(error.kind).toBe('auth');
      expect(error.message).toContain('refused the credentials (HTTP 401)');
      expect(error.message).not.toContain(key);
      expect(error.message).not.toContain(emulator.credentials.sharedAccessKey);
    }
  });
});

describe('parseConfigurations', () => {
  it('types what the hub sends, null sections included', () => {
    const [c] = parseConfigurations([{ id: 'x', labels: null, content: { modulesContent: { $edgeAgent: {} }, deviceContent: null }, systemMetrics: null }]);
    expect(c).toMatchObject({ id: 'x', labels: {}, content: { modulesContent: { $edgeAgent: {} } }, systemMetrics: { results: {}, queries: {} }, priority: 0 });
    expect(c!.content.deviceContent).toBeUndefined();
    expect(isEdgeDeployment(c!)).toBe(true);
    expect(isEdgeDeployment(parseConfigurations([{ id: 'y', content: { modulesContent: {} } }])[0]!)).toBe(false);
  });

  it.each([
    [[42], /^configuration 0 is not an object$/],
    [[{ id: '' }], /^configuration 0 \(\)\.id is not a non-empty string$/],
    [[{ id: 'a' }, { id: 7 }], /^configuration 1\.id is not a non-empty string$/],
    [[{ id: 'a', systemMetrics: { results: { reportedFailedCount: 'many' } } }], /^configuration 0 \(a\)\.systemMetrics\.results\.reportedFailedCount is not a number$/],
    [[{ id: 'a', content: { modulesContent: [] } }], /^configuration 0 \(a\)\.content\.modulesContent is not an object$/],
    [[{ id: 'a', labels: { team: 3 } }], /^configuration 0 \(a\)\.labels\.team is not a string$/],
    [[{ id: 'a', priority: 1.5 }], /^configuration 0 \(a\)\.priority is not an integer$/],
  ])('refuses %j', (body, message) => {
    expect(() => parseConfigurations(body)).toThrow(ConfigurationShapeError);
    expect(() => parseConfigurations(body)).toThrow(message);
  });
});
