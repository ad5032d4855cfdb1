/**
 * The lean SDK clients (sdk-stack.ts, sdk-serde.ts) against the SDK's own, over real sockets to a
 * loopback server that records each request: the same requests on the wire, the same outputs, and
 * the same errors (name, HTTP metadata, raw response) for a service error and for a body the SDK
 * cannot read.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { DescribeThingCommand, IoTClient, ListThingsCommand } from '@aws-sdk/client-iot';
import { GetThingShadowCommand, IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leanSdkClient } from '../../src/providers/aws/sdk-stack.js';

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly contentType: string | undefined;
  readonly body: string;
  readonly userAgent: string | undefined;
}

type Answer = { status: number; body: string; headers?: Record<string, string> };

describe('lean SDK clients: the SDK on the wire, less its per-call overhead', () => {
  let server: Server;
  let url: string;
  const seen: Seen[] = [];
  let answer: (req: IncomingMessage) => Answer = () => ({ status: 500, body: '{}' });

  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', contentType: req.headers['content-type'], body, userAgent: req.headers['user-agent'] });
        const a = answer(req);
        res.writeHead(a.status, { 'content-type': 'application/json', 'x-amzn-requestid': 'req-1', ...a.headers });
        res.end(a.body);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const config = () => ({ region: 'eu-west-1', endpoint: url, maxAttempts: 1, credentials: { accessKeyId: 'AKIATESTKEY000000000', secretAccessKey: 'secret' } });

  /** The same command through the SDK's client and the lean one: what each sent, and what each gave. */
  async function both<T>(send: (iot: IoTClient, data: IoTDataPlaneClient) => Promise<T>) {
    const out: Array<{ request: Seen; result: T | undefined; error: Record<string, unknown> | undefined }> = [];
    for (const lean of [false, true]) {
      const iot = new IoTClient(config());
      const data = new IoTDataPlaneClient(config());
      if (lean) {
        leanSdkClient(iot);
        leanSdkClient(data);
      }
      seen.length = 0;
      let result: T | undefined;
      let error: Record<string, unknown> | undefined;
      try {
        result = await send(iot, data);
      } catch (e) {
        error = e as Record<string, unknown>;
      }
      out.push({ request: seen[0]!, result, error });
      iot.destroy();
      data.destroy();
    }
    return { sdk: out[0]!, lean: out[1]! };
  }

  /** The HTTP metadata, less what the SDK's retry step adds (the lean client's retries are the pass's own: client.ts). */
  const http = (error: Record<string, unknown> | undefined) => {
    const { attempts: _attempts, totalRetryDelay: _delay, ...rest } = (error?.$metadata ?? {}) as Record<string, unknown>;
    return rest;
  };
  const wire = (s: Seen) => ({ method: s.method, url: s.url, contentType: s.contentType, body: s.body });

  it('sends the same requests and reads the same answers (path and query bindings, JSON bodies)', async () => {
    answer = (req) =>
      req.url!.startsWith('/things/')
        ? { status: 200, body: JSON.stringify({ thingName: 'a b/c', thingId: 'id-1', version: 3, attributes: { floor: '2' } }) }
        : { status: 200, body: JSON.stringify({ things: [{ thingName: 't1', version: 1, attributes: {} }], nextToken: 'tok/2' }) };
    const described = await both((iot) => iot.send(new DescribeThingCommand({ thingName: 'a b/c' })));
    expect(wire(described.lean.request)).toEqual(wire(described.sdk.request));
    expect(described.lean.request.url).toBe('/things/a%20b%2Fc');
    const { $metadata: m1, ...leanOut } = described.lean.result!;
    const { $metadata: m2, ...sdkOut } = described.sdk.result!;
    expect(leanOut).toEqual(sdkOut);
    expect(m1.httpStatusCode).toBe(m2.httpStatusCode);
    expect(m1.requestId).toBe('req-1');

    const listed = await both((iot) => iot.send(new ListThingsCommand({ nextToken: 'tok/1', maxResults: 250 })));
    expect(wire(listed.lean.request)).toEqual(wire(listed.sdk.request));
    expect(listed.lean.result!.nextToken).toBe('tok/2');
    expect(listed.lean.result!.things).toEqual(listed.sdk.result!.things);
    // The User-Agent is set once per client, not rebuilt per call; it still names the SDK.
    expect(listed.lean.request.userAgent).toMatch(/^portal-sync aws-sdk-js\/\d/);
  });

  it('gives the same error for a service error: its name, status, request id and raw response', async () => {
    answer = () => ({ status: 404, body: JSON.stringify({ message: 'no shadow' }), headers: { 'x-amzn-errortype': 'ResourceNotFoundException' } });
    const { sdk, lean } = await both((_iot, data) => data.send(new GetThingShadowCommand({ thingName: 't1' })));
    expect(wire(lean.request)).toEqual(wire(sdk.request));
    expect(lean.error?.name).toBe('ResourceNotFoundException');
    expect(lean.error?.name).toBe(sdk.error?.name);
    expect(http(lean.error)).toEqual(http(sdk.error));
    expect((lean.error?.$response as { statusCode: number }).statusCode).toBe(404);
  });

  it('gives the same error for a body it cannot read (a proxy answering HTML): the HTTP metadata and the raw response', async () => {
    answer = () => ({ status: 200, body: '<html>gateway</html>', headers: { 'content-type': 'text/html' } });
    const { sdk, lean } = await both((iot) => iot.send(new DescribeThingCommand({ thingName: 't1' })));
    expect(sdk.error).toBeDefined();
    expect(lean.error?.name).toBe(sdk.error?.name);
    expect(http(lean.error)).toEqual(http(sdk.error));
    expect(lean.error?.$metadata).toMatchObject({ httpStatusCode: 200, requestId: 'req-1' });
    expect((lean.error?.$response as { statusCode: number }).statusCode).toBe(200);
  });
});
