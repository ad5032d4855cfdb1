/**
 * The AWS client over the real SDK clients and real sockets, against a scripted loopback HTTP server
 * (just enough of the REST-JSON wire for each case): retries, timeouts and waits on a virtual clock,
 * so bounds of minutes are proven in milliseconds; error mapping to exit codes; configuration checks.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveAwsConfig, ConfigError, type AwsConfig } from '../../src/config.js';
import { AwsIot } from '../../src/providers/aws/client.js';
import { mapConcurrent } from '../../src/providers/concurrency.js';
import { SdkThreads, type SdkThreadOptions } from '../../src/providers/aws/sdk-threads.js';
import { ApiCallCounter, ProviderError } from '../../src/providers/errors.js';
import type { Clock } from '../../src/providers/retry.js';
import { exitCodeOf } from '../../src/run/exit-code.js';

const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY0';
const KEY_ID = 'AKIATESTKEY000000000';

type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => void;

interface FakeAws {
  readonly url: string;
  readonly requests: string[];
  /** TCP connections accepted so far. */
  connections(): number;
  handle(handler: Handler): void;
  close(): Promise<void>;
}

async function startFakeAws(): Promise<FakeAws> {
  let handler: Handler = (_req, res) => json(res, 500, {});
  const requests: string[] = [];
  const sockets = new Set<import('node:net').Socket>();
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    requests.push(`${req.method} ${url.pathname}`);
    handler(req, res, url);
  });
  let connections = 0;
  server.on('connection', (s) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    connections: () => connections,
    handle: (h) => (handler = h),
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function awsError(res: ServerResponse, status: number, type: string, message: string, headers: Record<string, string> = {}): void {
  json(res, status, { message }, { 'x-amzn-errortype': type, ...headers });
}

interface VirtualClock extends Clock {
  readonly sleeps: number[];
}

/**
 * Waits take no real time. (Its timeout is the Clock's, no longer what bounds an AWS request: the
 * SDK's HTTP handler does, in real time divided by the time scale, see client().)
 */
function virtualClock(): VirtualClock {
  let skipped = 0;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => Date.now() + skipped,
    async sleep(ms) {
      sleeps.push(ms);
      skipped += ms;
    },
    timeout(ms) {
      const controller = new AbortController();
      const timer = setTimeout(() => {
        skipped += ms;
        controller.abort(new DOMException('timed out', 'TimeoutError'));
      }, Math.min(ms, 300));
      return { signal: controller.signal, clear: () => clearTimeout(timer) };
    },
  };
}

const SAVED = { ...process.env };
// The developer's AWS settings must not leak in; the SDK's Node-version warning stays off (client.ts).
const AWS_VARIABLES = Object.keys(process.env).filter((k) => k.startsWith('AWS_') && k !== 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED');

describe('AwsIot over the real SDK', () => {
  let fake: FakeAws;
  const warnings: string[] = [];
  const debugs: string[] = [];
  const log = { warn: (m: string) => warnings.push(m), debug: (m: string) => debugs.push(m) };

  beforeEach(async () => {
    fake = await startFakeAws();
    warnings.length = 0;
    debugs.length = 0;
    for (const name of AWS_VARIABLES) delete process.env[name];
    Object.assign(process.env, {
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: KEY_ID,
      AWS_SECRET_ACCESS_KEY: SECRET,
      AWS_ENDPOINT_URL_IOT: fake.url,
      AWS_EC2_METADATA_DISABLED: 'true',
      HOME: '/nonexistent-home-for-aws-tests',
    });
  });
  afterEach(async () => {
    await fake.close();
    for (const name of Object.keys(process.env)) if (!(name in SAVED)) delete process.env[name];
    Object.assign(process.env, SAVED);
  });

  function client(options: { maxRetries?: string; requestTimeout?: string } = {}, sdkThreads?: SdkThreadOptions) {
    // --request-timeout is enforced by the SDK's HTTP handler, in real time divided by the time scale
    // (as a --time-scale run has it): at 100, a request left unanswered for 20 s fails after 200 real ms.
    const config: AwsConfig = { ...resolveAwsConfig(options, process.env), timeScale: 100 };
    const clock = virtualClock();
    const calls = new ApiCallCounter();
    // No jitter: the backoff is its upper bound, so the waits are known.
    const aws = new AwsIot(config, calls, log, { clock, random: () => 1, ...(sdkThreads ? { sdkThreads } : {}) });
    opened.push(aws);
    return { aws, clock, calls };
  }
  const opened: AwsIot[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((aws) => aws.close()));
  });

  describe('per-thing calls on SDK worker threads (a big pass spills to them)', () => {
    // Every per-thing call on the two workers from the first one.
    const onThreads: SdkThreadOptions = { threads: 2, callsBeforeThreads: 0 };

    it('answers DescribeThing and GetThingShadow (404: no shadow) from the threads, over the same sockets and counts', async () => {
      fake.handle((req, res, url) => {
        if (url.pathname === '/endpoint') return json(res, 200, { endpointAddress: fake.url.replace('http://', '') });
        if (url.pathname === '/things/with/shadow') return json(res, 200, { state: {} });
        const thing = /^\/things\/([^/]+)$/.exec(url.pathname);
        if (thing) return json(res, 200, { thingName: thing[1], thingId: `id-${thing[1]}`, version: 1 });
        awsError(res, 404, 'ResourceNotFoundException', `${req.method} ${url.pathname}`);
      });
      const { aws, calls } = client({}, onThreads);
      const names = Array.from({ length: 30 }, (_, i) => `t${i}`);
      const ids = await mapConcurrent(names, 8, async (name) => (await aws.describeThing(name)).thingId);
      expect(ids).toEqual(names.map((n) => `id-${n}`));
      expect(await aws.hasClassicShadow('with')).toBe(true);
      expect(await aws.hasClassicShadow('without')).toBe(false);
      expect(calls.toJSON()).toEqual({ DescribeEndpoint: 1, DescribeThing: 30, GetThingShadow: 2 });
      expect(fake.requests.filter((r) => r.startsWith('GET /things/t'))).toHaveLength(30);
    });

    it('retries a throttled call of a thread after the Retry-After it carried, and maps refused credentials to 78 without the key', async () => {
      let attempts = 0;
      fake.handle((_req, res, url) => {
        if (url.pathname === '/things/busy') {
          attempts++;
          if (attempts === 1) return awsError(res, 429, 'ThrottlingException', 'Rate exceeded', { 'retry-after': '3' });
          return json(res, 200, { thingName: 'busy', thingId: 'id-busy', version: 1 });
        }
        awsError(res, 403, 'AccessDeniedException', `User: arn:aws:iam::1:user/x with key ${KEY_ID} is not authorized`);
      });
      const { aws, calls, clock } = client({}, onThreads);
      expect((await aws.describeThing('busy')).thingId).toBe('id-busy');
      expect(clock.sleeps).toEqual([3000]);
      expect(calls.quota.throttled).toBe(1);
      const error = await aws.describeThing('denied').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ProviderError);
      expect(exitCodeOf(error)).toBe(78);
      expect((error as Error).message).toContain('AWS DescribeThing (thing denied) was refused: AccessDeniedException (HTTP 403)');
      expect((error as Error).message).not.toContain(KEY_ID);
      expect(calls.toJSON()).toEqual({ DescribeThing: 3 });
    });

    it('stays on the pass\'s thread for the first calls, spills after them, and starts again after close()', async () => {
      const pool = new SdkThreads(
        { region: 'eu-west-1', iotEndpoint: fake.url, timeoutMs: 5000, concurrency: 4 },
        { threads: 1, callsBeforeThreads: 2 },
      );
      fake.handle((_req, res, url) => json(res, 200, { thingName: url.pathname.split('/').pop(), thingId: 'id', version: 1 }));
      try {
        await pool.send({ operation: 'DescribeThing', thingName: 'a' });
        await pool.send({ operation: 'DescribeThing', thingName: 'b' });
        expect(pool.spilled).toBe(false);
        expect(await pool.send({ operation: 'DescribeThing', thingName: 'c' })).toEqual({ thingId: 'id' });
        expect(pool.spilled).toBe(true);
      } finally {
        await pool.close();
      }
      fake.handle((_req, res) => json(res, 200, { thingName: 'd', thingId: 'id-d', version: 1 }));
      const { aws } = client({}, onThreads);
      expect((await aws.describeThing('d')).thingId).toBe('id-d');
      await aws.close();
      // A call after close() starts the threads again rather than failing.
      expect((await aws.describeThing('d')).thingId).toBe('id-d');
    });

    it('fails the calls of a thread that died, and every later one, instead of hanging', async () => {
      const pool = new SdkThreads(
        { region: 'eu-west-1', iotEndpoint: fake.url, timeoutMs: 5000, concurrency: 4 },
        { threads: 1, callsBeforeThreads: 0, module: new URL('data:text/javascript,setTimeout(() => process.exit(3), 50)') },
      );
      try {
        const first = await pool.send({ operation: 'DescribeThing', thingName: 'a' }).catch((e: unknown) => e);
        expect(first).toBeInstanceOf(ProviderError);
        expect((first as Error).message).toBe('the SDK thread of the pass stopped: exited with code 3');
        await expect(pool.send({ operation: 'GetThingShadow', thingName: 'b', endpoint: fake.url })).rejects.toThrow('the SDK thread of the pass stopped');
      } finally {
        await pool.close();
      }
    });
  });

  it('retries a throttled call after the Retry-After asked, counting every attempt', async () => {
    let n = 0;
    fake.handle((_req, res) => {
      if (n++ === 0) return awsError(res, 429, 'ThrottlingException', 'Rate exceeded', { 'retry-after': '3' });
      json(res, 200, { thingTypes: [{ thingTypeName: 'sensor' }] });
    });
    const { aws, clock, calls } = client();
    const names: string[] = [];
    for await (const page of aws.listThingTypes()) names.push(...page.map((t) => t.thingTypeName!));
    expect(names).toEqual(['sensor']);
    expect(clock.sleeps).toEqual([3000]);
    expect(calls.toJSON()).toEqual({ ListThingTypes: 2 });
    expect(calls.quota.throttled).toBe(1);
    // The quota at work, not a fault: said at debug level (the table's last line counts throttles).
    expect(warnings).toEqual([]);
    expect(debugs).toEqual(['AWS ListThingTypes: ThrottlingException (HTTP 429): Rate exceeded; retry 1 of 5 in 3000 ms']);
  });

  it('backs off exponentially without Retry-After, and gives up after --max-retries', async () => {
    fake.handle((_req, res) => awsError(res, 503, 'ServiceUnavailableException', 'busy'));
    const { aws, clock, calls } = client({ maxRetries: '3' });
    const error = await aws.describeThingType('sensor').catch((e: unknown) => e);
    expect(clock.sleeps).toEqual([250, 500, 1000]);
    expect(calls.toJSON()).toEqual({ DescribeThingType: 4 });
    expect(error).toBeInstanceOf(ProviderError);
    expect((error as ProviderError).kind).toBe('throttled');
    expect((error as Error).message).toBe('AWS DescribeThingType (thing type sensor) failed after 4 attempts: ServiceUnavailableException (HTTP 503): busy');
    expect(exitCodeOf(error)).toBe(1);
  });

  it('does not retry with --max-retries 0, nor a request AWS rejects', async () => {
    fake.handle((_req, res) => awsError(res, 500, 'InternalFailureException', 'oops'));
    const zero = client({ maxRetries: '0' });
    await expect(zero.aws.describeThingType('a')).rejects.toThrow('failed after 1 attempt: InternalFailureException (HTTP 500): oops');
    expect(zero.calls.total).toBe(1);
    fake.handle((_req, res) => awsError(res, 400, 'InvalidRequestException', 'no such thing'));
    const rejected = client();
    await expect(rejected.aws.describeThingType('b')).rejects.toThrow('AWS DescribeThingType (thing type b) failed: InvalidRequestException (HTTP 400): no such thing');
    expect(rejected.calls.total).toBe(1);
  });

  it('maps refused credentials to exit 78, naming the operation and never a key', async () => {
    fake.handle((_req, res) => awsError(res, 403, 'UnrecognizedClientException', `The security token ${KEY_ID} included in the request is invalid`));
    const { aws, calls } = client();
    const error = await aws.listTags('arn:aws:iot:eu-west-1:123456789012:thingtype/sensor').catch((e: unknown) => e);
    expect(exitCodeOf(error)).toBe(78);
    const message = (error as Error).message;
    expect(message).toContain('AWS ListTagsForResource');
    expect(message).toContain('UnrecognizedClientException (HTTP 403)');
    expect(message).not.toContain(KEY_ID);
    expect(message).not.toContain(SECRET);
    expect(calls.total).toBe(1);
  });

  it('maps an unreachable endpoint to exit 69 once its retries are spent', async () => {
    const dead = fake.url;
    await fake.close();
    fake = await startFakeAws();
    process.env.AWS_ENDPOINT_URL_IOT = dead;
    const { aws, calls, clock } = client({ maxRetries: '2' });
    const error = await aws.describeThingType('sensor').catch((e: unknown) => e);
    expect(exitCodeOf(error)).toBe(69);
    expect((error as Error).message).toBe(`AWS DescribeThingType (thing type sensor) failed after 3 attempts: AWS IoT at ${dead} is unreachable (ECONNREFUSED)`);
    expect(calls.total).toBe(3);
    expect(clock.sleeps).toEqual([250, 500]);
  });

  it('times a hung request out at --request-timeout and retries it', async () => {
    let n = 0;
    fake.handle((_req, res) => {
      if (n++ === 0) return; // never answered
      json(res, 200, { thingTypeName: 'sensor', thingTypeId: 'tt-1', thingTypeArn: 'arn:x' });
    });
    const { aws, calls } = client({ requestTimeout: '20s' });
    const started = Date.now();
    expect((await aws.describeThingType('sensor')).thingTypeId).toBe('tt-1');
    expect(Date.now() - started).toBeLessThan(5000);
    expect(calls.toJSON()).toEqual({ DescribeThingType: 2 });
    expect(warnings[0]).toBe('AWS DescribeThingType (thing type sensor): timed out after 20 s; retry 1 of 5 in 250 ms');
  });

  it('gives up on a request that always hangs with exit 69', async () => {
    fake.handle(() => undefined);
    const { aws } = client({ maxRetries: '1', requestTimeout: '5s' });
    const error = await aws.describeThing('t').catch((e: unknown) => e);
    expect((error as Error).message).toBe('AWS DescribeThing (thing t) failed after 2 attempts: timed out after 5 s');
    expect(exitCodeOf(error)).toBe(69);
  });

  it('times out a response whose body stalls after its headers, as a timeout, and retries it', async () => {
    let n = 0;
    fake.handle((_req, res) => {
      if (n++ === 0) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"thingTypeName": "sen'); // and never the rest
        return;
      }
      json(res, 200, { thingTypeName: 'sensor', thingTypeId: 'tt-1', thingTypeArn: 'arn:x' });
    });
    const { aws, calls } = client({ requestTimeout: '20s' });
    const started = Date.now();
    expect((await aws.describeThingType('sensor')).thingTypeId).toBe('tt-1');
    expect(Date.now() - started).toBeLessThan(5000);
    expect(calls.toJSON()).toEqual({ DescribeThingType: 2 });
    expect(warnings).toEqual(['AWS DescribeThingType (thing type sensor): timed out after 20 s; retry 1 of 5 in 250 ms']);
  });

  it('keeps its connections alive: concurrent calls share one socket per call in flight', async () => {
    fake.handle((_req, res, url) => json(res, 200, { thingName: url.pathname.split('/').pop(), thingId: 'id', version: 1 }));
    const { aws, calls } = client();
    const names = Array.from({ length: 40 }, (_, i) => `t${i}`);
    await mapConcurrent(names, 4, (name) => aws.describeThing(name));
    expect(calls.toJSON()).toEqual({ DescribeThing: 40 });
    expect(fake.connections()).toBeLessThanOrEqual(4);
  });

  it('decides edge by the tags and asks AWS once per type and pass', async () => {
    fake.handle((req, res, url) => {
      if (url.pathname === '/thing-types/gateway') return json(res, 200, { thingTypeName: 'gateway', thingTypeId: 'tt-g', thingTypeArn: 'arn:aws:iot:eu-west-1:1:thingtype/gateway' });
      if (url.pathname === '/tags') {
        expect(url.searchParams.get('resourceArn')).toBe('arn:aws:iot:eu-west-1:1:thingtype/gateway');
        if (!url.searchParams.get('nextToken')) return json(res, 200, { tags: [{ Key: 'owner', Value: 'ops' }], nextToken: 'p2' });
        return json(res, 200, { tags: [{ Key: 'IOTEDGE', Value: 'True' }] });
      }
      awsError(res, 404, 'ResourceNotFoundException', `${req.method} ${url.pathname}`);
    });
    const { aws, calls } = client();
    const [a, b] = await Promise.all([aws.thingTypeEdge('gateway'), aws.thingTypeEdge('gateway')]);
    expect(a).toEqual({ kind: 'edge' });
    expect(b).toBe(a);
    expect(await aws.thingTypeEdge('gateway')).toEqual({ kind: 'edge' });
    await aws.describeThingType('gateway');
    expect(calls.toJSON()).toEqual({ DescribeThingType: 1, ListTagsForResource: 2 });
  });

  it('takes a 404 as absent for group deletes and describes, and as no shadow', async () => {
    fake.handle((req, res, url) => {
      if (url.pathname === '/endpoint') return json(res, 200, { endpointAddress: fake.url.replace('http://', '') });
      if (url.pathname === '/things/with/shadow') return json(res, 200, { state: {} });
      if (req.method === 'DELETE' && url.pathname === '/dynamic-thing-groups/there') return json(res, 200, {});
      awsError(res, 404, 'ResourceNotFoundException', 'none');
    });
    const { aws, calls } = client();
    expect(await aws.deleteDynamicThingGroup('missing')).toBe('absent');
    expect(await aws.deleteDynamicThingGroup('there')).toBe('deleted');
    expect(await aws.describeThingGroup('missing')).toBeNull();
    expect(await aws.describeThingGroup('missing')).toBeNull();
    expect(await aws.hasClassicShadow('with')).toBe(true);
    expect(await aws.hasClassicShadow('without')).toBe(false);
    // The data plane was found with DescribeEndpoint, once, and reached over http like the IoT endpoint.
    expect(calls.toJSON()).toEqual({ DeleteDynamicThingGroup: 2, DescribeEndpoint: 1, DescribeThingGroup: 1, GetThingShadow: 2 });
    expect(fake.requests.filter((r) => r.startsWith('GET /endpoint'))).toHaveLength(1);
    // A thing type already gone (another run deleted it) is absent, not a failure.
    expect(await aws.deleteThingType('gone')).toBe('absent');
  });

  it('asks for one thing of a type (ListThings thingTypeName, maxResults 1): its name, whether more may follow', async () => {
    const queries: URLSearchParams[] = [];
    let throttled = false;
    fake.handle((req, res, url) => {
      if (req.method !== 'GET' || url.pathname !== '/things') return awsError(res, 404, 'ResourceNotFoundException', url.pathname);
      queries.push(url.searchParams);
      const token = url.searchParams.get('nextToken');
      switch (url.searchParams.get('thingTypeName')) {
        case 'busy':
          return json(res, 200, { things: [{ thingName: 'probe-1', thingTypeName: 'busy' }], nextToken: 'p2' });
        case 'one':
          return json(res, 200, { things: [{ thingName: 'probe-old', thingTypeName: 'one' }] });
        case 'sparse':
          // A filtered listing may answer an empty page with a token: the next page is asked for.
          return token === null ? json(res, 200, { things: [], nextToken: 'p2' }) : json(res, 200, { things: [{ thingName: 'late' }] });
        case 'flaky':
          if (!throttled) {
            throttled = true;
            return awsError(res, 400, 'ThrottlingException', 'Rate exceeded');
          }
          return json(res, 200, { things: [] });
        default:
          return json(res, 200, { things: [] });
      }
    });
    const { aws, calls } = client();
    expect(await aws.thingOfType('busy')).toEqual({ name: 'probe-1', more: true });
    expect(await aws.thingOfType('one')).toEqual({ name: 'probe-old', more: false });
    expect(await aws.thingOfType('none')).toBeNull();
    expect(await aws.thingOfType('sparse')).toEqual({ name: 'late', more: false });
    expect(await aws.thingOfType('flaky')).toBeNull();
    // One call a type (never the next page after a thing), two for the empty page, one more for the retry; all counted.
    expect(calls.toJSON()).toEqual({ ListThings: 7 });
    expect(calls.quota.throttled).toBe(1);
    for (const query of queries) expect(query.get('maxResults')).toBe('1');
    expect(queries.map((q) => [q.get('thingTypeName'), q.get('nextToken')])).toEqual([
      ['busy', null],
      ['one', null],
      ['none', null],
      ['sparse', null],
      ['sparse', 'p2'],
      ['flaky', null],
      ['flaky', null],
    ]);
  });

  it('says which type a failed check for its things was about', async () => {
    fake.handle((_req, res) => awsError(res, 500, 'InternalFailureException', 'boom'));
    const { aws, calls } = client({ maxRetries: '1' });
    const error = await aws.thingOfType('old').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderError);
    expect((error as Error).message).toBe('AWS ListThings (things of thing type old) failed after 2 attempts: InternalFailureException (HTTP 500): boom');
    expect(calls.toJSON()).toEqual({ ListThings: 2 });
  });

  it('uses the data-plane endpoint of the environment without DescribeEndpoint', async () => {
    process.env.AWS_ENDPOINT_URL_IOT_DATA_PLANE = fake.url;
    fake.handle((_req, res, url) => (url.pathname.endsWith('/shadow') ? json(res, 200, {}) : awsError(res, 500, 'InternalFailureException', 'no')));
    const { aws, calls } = client();
    expect(await aws.hasClassicShadow('t1')).toBe(true);
    expect(calls.toJSON()).toEqual({ GetThingShadow: 1 });
  });

  it('stops a listing whose next token repeats, with the pages it had', async () => {
    fake.handle((_req, res) => json(res, 200, { thingTypes: [{ thingTypeName: 'a' }], nextToken: 'same' }));
    const { aws, calls } = client();
    const seen: string[] = [];
    const error = await (async () => {
      for await (const page of aws.listThingTypes()) seen.push(...page.map((t) => t.thingTypeName!));
    })().catch((e: unknown) => e);
    expect(seen).toEqual(['a', 'a']);
    expect((error as Error).message).toContain('page 2 gave the next token already used for page 2');
    expect(calls.toJSON()).toEqual({ ListThingTypes: 2 });
  });

  it('says which is missing: the region, or the credentials; before any request', async () => {
    delete process.env.AWS_REGION;
    const noRegion = client();
    const error = await noRegion.aws.describeThingType('x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe('no AWS region: set AWS_REGION (or a region in the AWS_PROFILE profile of the AWS config file)');
    process.env.AWS_REGION = 'eu-west-1';
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
    const noCredentials = client();
    const missing = await noCredentials.aws.describeThingType('x').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(ConfigError);
    expect(exitCodeOf(missing)).toBe(78);
    expect((missing as Error).message).toMatch(/^no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE/);
    expect(fake.requests).toEqual([]);
  });
});

describe('resolveAwsConfig', () => {
  it('checks the endpoint variables the SDK will read, naming the bad one', () => {
    expect(() => resolveAwsConfig({}, { AWS_ENDPOINT_URL_IOT: 'not a url' })).toThrow(new ConfigError('AWS_ENDPOINT_URL_IOT is not a valid URL'));
    expect(() => resolveAwsConfig({}, { AWS_ENDPOINT_URL: 'ftp://x' })).toThrow(new ConfigError('AWS_ENDPOINT_URL must be an http(s) URL'));
    expect(() => resolveAwsConfig({}, { AWS_ENDPOINT_URL_GREENGRASSV2: '127.0.0.1:80' })).toThrow('AWS_ENDPOINT_URL_GREENGRASSV2');
    const config = resolveAwsConfig({}, { AWS_ENDPOINT_URL: 'http://all:1', AWS_ENDPOINT_URL_IOT: 'http://iot:2' });
    expect(config.endpoints).toEqual({ iot: 'http://iot:2', dataPlane: 'http://all:1', greengrass: 'http://all:1' });
    expect(resolveAwsConfig({}, { AWS_ENDPOINT_URL: 'nonsense', AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true' }).endpoints.iot).toBeUndefined();
  });

  it('takes the region from AWS_REGION, leaving it to the SDK otherwise', () => {
    expect(resolveAwsConfig({}, { AWS_REGION: 'us-east-1' }).region).toBe('us-east-1');
    expect(resolveAwsConfig({}, {}).region).toBeUndefined();
  });

  it('refuses bad option values as usage errors', () => {
    expect(() => resolveAwsConfig({ maxRetries: '-1' }, {})).toThrow('--max-retries must be a whole number from 0 to 20');
    expect(() => resolveAwsConfig({ requestTimeout: '10' }, {})).toThrow('--request-timeout');
    expect(() => resolveAwsConfig({ concurrency: '0' }, {})).toThrow('--concurrency must be a whole number from 1 to 64');
    expect(resolveAwsConfig({ maxRetries: '2', requestTimeout: '5s', concurrency: '3' }, {})).toMatchObject({ maxRetries: 2, requestTimeoutMs: 5000, concurrency: 3 });
  });
});
