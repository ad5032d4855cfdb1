/**
 * The AWS emulator's injected faults and quotas, seen through the real SDK clients. Time is
 * injected (`clock`): no test waits for a window to pass.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DescribeThingCommand, DescribeThingTypeCommand, ListThingsCommand, ListThingTypesCommand, ThrottlingException } from '@aws-sdk/client-iot';
import { GetThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import { ListCoreDevicesCommand, ListDeploymentsCommand } from '@aws-sdk/client-greengrassv2';
import { parseAwsQuotaOption, PUBLISHED_QUOTA, startAwsEmulator, type AwsEmulator, type AwsEmulatorOptions, type AwsFixtureInput } from '../../src/emulators/aws/index.js';
import { QuotaError } from '../../src/emulators/iothub/index.js';
import { awsClients, startTestAws, type TestAws } from '../support/aws.js';

type SdkError = Error & { $metadata: { httpStatusCode?: number; attempts?: number }; $response?: { headers: Record<string, string> }; $retryable?: unknown };

async function errorOf(p: Promise<unknown>): Promise<SdkError> {
  try {
    await p;
  } catch (err) {
    return err as SdkError;
  }
  throw new Error('expected the call to fail');
}

const things = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `thing-${i + 1}`, type: 'sensor', shadow: true }));

let emu: AwsEmulator | undefined;
let aws: TestAws | undefined;
afterEach(async () => {
  await emu?.close();
  await aws?.close();
  emu = undefined;
  aws = undefined;
});

async function start(fixture: AwsFixtureInput, options: Omit<AwsEmulatorOptions, 'fixture'> = {}) {
  emu = await startAwsEmulator({ fixture, ...options });
  return awsClients(emu.env());
}

/** A real clock the test moves by hand (ms). */
function manualClock() {
  let t = 1_000;
  return {
    now: () => t,
    advance(ms: number) {
      t += ms;
    },
  };
}

describe('faults', () => {
  it('throttle: ThrottlingException with IoT status 400 and no Retry-After, `times` times, then fine', async () => {
    const c = await start({ things: things(2), faults: [{ operation: 'ListThings', kind: 'throttle', times: 2 }] });
    for (let i = 0; i < 2; i++) {
      const err = await errorOf(c.iot.send(new ListThingsCommand({})));
      expect(err).toBeInstanceOf(ThrottlingException);
      expect(err.$metadata.httpStatusCode).toBe(400);
      expect(err.$response?.headers['retry-after']).toBeUndefined();
    }
    expect((await c.iot.send(new ListThingsCommand({}))).things).toHaveLength(2);
    expect(emu!.stats()).toMatchObject({ requests: { ListThings: 3 }, faults: { ListThings: 2 }, throttled: 0 });
  });

  it('throttle: the SDK retries a throttled call and it then succeeds', async () => {
    await start({ things: things(2), faults: [{ operation: 'ListThings', kind: 'throttle', times: 1 }] });
    const c = awsClients(emu!.env(), { maxAttempts: 3 });
    const out = await c.iot.send(new ListThingsCommand({}));
    expect(out.things).toHaveLength(2);
    expect(out.$metadata.attempts).toBe(2);
  });

  it('throttle: Greengrass answers 429 with Retry-After, the data plane 429 without', async () => {
    const c = await start({
      faults: [
        { operation: 'ListCoreDevices', kind: 'throttle', times: 1, retryAfterSeconds: 7 },
        { operation: 'ListDeployments', kind: 'throttle', times: 1 },
        { operation: 'GetThingShadow', kind: 'throttle', times: 1 },
      ],
    });
    const core = await errorOf(c.greengrass.send(new ListCoreDevicesCommand({})));
    expect(core.name).toBe('ThrottlingException');
    expect(core.$metadata.httpStatusCode).toBe(429);
    expect((core as unknown as { retryAfterSeconds: number }).retryAfterSeconds).toBe(7);
    const dep = await errorOf(c.greengrass.send(new ListDeploymentsCommand({})));
    expect((dep as unknown as { retryAfterSeconds: number }).retryAfterSeconds).toBe(1);
    const shadow = await errorOf(c.data.send(new GetThingShadowCommand({ thingName: 'x' })));
    expect(shadow.name).toBe('ThrottlingException');
    expect(shadow.$metadata.httpStatusCode).toBe(429);
    expect(shadow.$response?.headers['retry-after']).toBeUndefined();
  });

  it('error: the status as its service names it, `times` times', async () => {
    const c = await start({
      things: things(1),
      faults: [
        { operation: 'ListThings', kind: 'error', status: 500, times: 2 },
        { operation: 'DescribeThing', kind: 'error', status: 503, times: 1 },
        { operation: 'ListDeployments', kind: 'error', status: 500, times: 1 },
        { operation: 'ListCoreDevices', kind: 'error', status: 403, times: 1 },
        { operation: 'DescribeThingType', kind: 'error', status: 401, times: 1, code: 'UnauthorizedException' },
      ],
    });
    for (let i = 0; i < 2; i++) {
      const err = await errorOf(c.iot.send(new ListThingsCommand({})));
      expect(err.name).toBe('InternalFailureException');
      expect(err.$metadata.httpStatusCode).toBe(500);
    }
    expect((await c.iot.send(new ListThingsCommand({}))).things).toHaveLength(1);
    expect((await errorOf(c.iot.send(new DescribeThingCommand({ thingName: 'thing-1' })))).name).toBe('ServiceUnavailableException');
    expect((await c.iot.send(new DescribeThingCommand({ thingName: 'thing-1' }))).thingName).toBe('thing-1');
    expect((await errorOf(c.greengrass.send(new ListDeploymentsCommand({})))).name).toBe('InternalServerException');
    expect((await errorOf(c.greengrass.send(new ListCoreDevicesCommand({})))).name).toBe('AccessDeniedException');
    const unauthorized = await errorOf(c.iot.send(new DescribeThingTypeCommand({ thingTypeName: 'x' })));
    expect(unauthorized.name).toBe('UnauthorizedException');
    expect(unauthorized.$metadata.httpStatusCode).toBe(401);
  });

  it('page: that page of the listing fails every time, the others are served', async () => {
    const c = await start({
      things: things(5),
      thingTypes: [{ name: 'a' }, { name: 'b' }, { name: 'c' }],
      faults: [
        { operation: 'ListThings', kind: 'page', page: 2 },
        { operation: 'ListThingTypes', kind: 'page', page: 2, times: 1 },
      ],
    });
    const p1 = await c.iot.send(new ListThingsCommand({ maxResults: 2 }));
    expect(p1.things!.map((t) => t.thingName)).toEqual(['thing-1', 'thing-2']);
    for (let i = 0; i < 3; i++) {
      const err = await errorOf(c.iot.send(new ListThingsCommand({ maxResults: 2, nextToken: p1.nextToken })));
      expect(err.name).toBe('InternalFailureException');
      expect(err.message).toContain('page 2 of ListThings');
    }
    // With `times`, the page fails that often; then the listing goes on to its end.
    const types = await c.iot.send(new ListThingTypesCommand({ maxResults: 1 }));
    expect((await errorOf(c.iot.send(new ListThingTypesCommand({ maxResults: 1, nextToken: types.nextToken })))).name).toBe('InternalFailureException');
    const p2 = await c.iot.send(new ListThingTypesCommand({ maxResults: 1, nextToken: types.nextToken }));
    const p3 = await c.iot.send(new ListThingTypesCommand({ maxResults: 1, nextToken: p2.nextToken }));
    expect([types, p2, p3].map((p) => p.thingTypes![0]!.thingTypeName)).toEqual(['a', 'b', 'c']);
    expect(p3.nextToken).toBeUndefined();
  });

  it('thing: that thing\'s call fails every time, the others are served', async () => {
    const c = await start({ things: things(8), faults: [{ operation: 'DescribeThing', kind: 'thing', thing: 'thing-7' }, { operation: 'GetThingShadow', kind: 'thing', thing: 'thing-2', status: 503 }] });
    for (let i = 0; i < 2; i++) expect((await errorOf(c.iot.send(new DescribeThingCommand({ thingName: 'thing-7' })))).name).toBe('InternalFailureException');
    expect((await c.iot.send(new DescribeThingCommand({ thingName: 'thing-6' }))).thingName).toBe('thing-6');
    expect((await errorOf(c.data.send(new GetThingShadowCommand({ thingName: 'thing-2' })))).name).toBe('ServiceUnavailableException');
    expect((await c.data.send(new GetThingShadowCommand({ thingName: 'thing-7' }))).payload).toBeDefined();
  });

  it('repeat-token: every answer carries the token it was asked with', async () => {
    const c = await start({ thingTypes: [{ name: 'a' }], faults: [{ operation: 'ListThingTypes', kind: 'repeat-token' }] });
    const first = await c.iot.send(new ListThingTypesCommand({}));
    expect(first.thingTypes!.map((t) => t.thingTypeName)).toEqual(['a']);
    expect(first.nextToken).toEqual(expect.any(String));
    const second = await c.iot.send(new ListThingTypesCommand({ nextToken: first.nextToken }));
    expect(second.nextToken).toBe(first.nextToken);
    expect(second.thingTypes!.map((t) => t.thingTypeName)).toEqual(['a']);
    expect((await c.iot.send(new ListThingTypesCommand({ nextToken: second.nextToken }))).nextToken).toBe(first.nextToken);
  });

  it('a reload of the fixture file resets the spent counters', async () => {
    const fleet = { things: things(1), faults: [{ operation: 'ListThings', kind: 'error', status: 500, times: 1 }] };
    aws = await startTestAws(fleet);
    const c = awsClients(aws.env());
    expect((await errorOf(c.iot.send(new ListThingsCommand({})))).name).toBe('InternalFailureException');
    await c.iot.send(new ListThingsCommand({}));
    aws.write(fleet);
    expect((await errorOf(c.iot.send(new ListThingsCommand({})))).name).toBe('InternalFailureException');
  });
});

describe('quota', () => {
  it('refuses past the rate with ThrottlingException, admits again once the window moved on', async () => {
    const clock = manualClock();
    const c = await start({ things: things(1) }, { quota: { ListThings: '2/s' }, clock: clock.now });
    await c.iot.send(new ListThingsCommand({}));
    await c.iot.send(new ListThingsCommand({}));
    const err = await errorOf(c.iot.send(new ListThingsCommand({})));
    expect(err).toBeInstanceOf(ThrottlingException);
    expect(err.message).toBe('Rate exceeded');
    // Other operations are not metered.
    await c.iot.send(new DescribeThingCommand({ thingName: 'thing-1' }));
    clock.advance(999);
    expect((await errorOf(c.iot.send(new ListThingsCommand({})))).name).toBe('ThrottlingException');
    clock.advance(1);
    await c.iot.send(new ListThingsCommand({}));
    expect(emu!.stats()).toMatchObject({
      requests: { ListThings: 5, DescribeThing: 1 },
      throttled: 2,
      throttledOperations: { ListThings: 2 },
      quota: { ListThings: { rate: '2/s', limit: 2, windowMs: 1000, used: 1 } },
    });
  });

  it('"aws" enforces the published table: ListThings 10/s while DescribeThing (350/s) goes on', async () => {
    const clock = manualClock();
    const c = await start({ things: things(1) }, { quota: 'aws', clock: clock.now });
    const statuses: string[] = [];
    for (let i = 0; i < 11; i++) statuses.push(await c.iot.send(new ListThingsCommand({})).then(() => 'ok', (e: Error) => e.name));
    expect(statuses).toEqual([...Array<string>(10).fill('ok'), 'ThrottlingException']);
    for (let i = 0; i < 11; i++) await c.iot.send(new DescribeThingCommand({ thingName: 'thing-1' }));
    expect(emu!.stats().quota).toMatchObject({ ListThings: { limit: 10 }, DescribeThing: { limit: 350, used: 11 }, DescribeThingType: { limit: 100 } });
  });

  it('runs its windows on the emulated clock: time scale 60 makes a minute last a real second', async () => {
    const clock = manualClock();
    const c = await start({ things: things(1) }, { quota: { ListThings: '1/min' }, timeScale: 60, clock: clock.now });
    await c.iot.send(new ListThingsCommand({}));
    expect((await errorOf(c.iot.send(new ListThingsCommand({})))).name).toBe('ThrottlingException');
    clock.advance(1000);
    await c.iot.send(new ListThingsCommand({}));
  });

  it('takes the fixture\'s quota, the option winning per operation; Greengrass refusals carry Retry-After', async () => {
    const clock = manualClock();
    const c = await start({ quota: { ListCoreDevices: '1/s', ListDeployments: '1/s' } }, { quota: { ListDeployments: '3/s' }, clock: clock.now });
    await c.greengrass.send(new ListCoreDevicesCommand({}));
    const err = await errorOf(c.greengrass.send(new ListCoreDevicesCommand({})));
    expect(err.name).toBe('ThrottlingException');
    expect(err.$metadata.httpStatusCode).toBe(429);
    expect(err.$response?.headers['retry-after']).toBe('1');
    for (let i = 0; i < 3; i++) await c.greengrass.send(new ListDeploymentsCommand({}));
    expect((await errorOf(c.greengrass.send(new ListDeploymentsCommand({})))).name).toBe('ThrottlingException');
  });

  it('parses the command line form', () => {
    expect(parseAwsQuotaOption('ListThings=5/s')).toEqual({ ListThings: '5/s' });
    expect(parseAwsQuotaOption('aws')).toEqual(PUBLISHED_QUOTA);
    expect(parseAwsQuotaOption('aws,ListThings=5/s')).toEqual({ ...PUBLISHED_QUOTA, ListThings: '5/s' });
    expect(parseAwsQuotaOption('ListThings=5/s,aws')).toEqual({ ...PUBLISHED_QUOTA, ListThings: '5/s' });
    expect(() => parseAwsQuotaOption('ListThing=5/s')).toThrow(QuotaError);
    expect(() => parseAwsQuotaOption('ListThing=5/s')).toThrow('unknown AWS operation "ListThing"');
    expect(() => parseAwsQuotaOption('ListThings=5/s,ListThings=6/s')).toThrow('given twice');
    expect(() => parseAwsQuotaOption('ListThings=fast')).toThrow('is not a rate');
    expect(() => parseAwsQuotaOption('')).toThrow('no AWS quota given');
  });
});
