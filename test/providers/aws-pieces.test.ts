/** The AWS provider's pure pieces: the paging guard, the edge verdict, bounded concurrency, error classes. */
import { describe, expect, it } from 'vitest';
import { awsPages, type AwsPage } from '../../src/providers/aws/paging.js';
import { edgeVerdictOf } from '../../src/providers/aws/edge.js';
import { mapConcurrent } from '../../src/providers/concurrency.js';
import { classifyAwsError } from '../../src/providers/aws/errors.js';
import { ProviderError } from '../../src/providers/errors.js';

async function collect<T>(pages: AsyncIterable<T[]>): Promise<T[][]> {
  const out: T[][] = [];
  for await (const page of pages) out.push(page);
  return out;
}

/** A paginator over `script`: the answer to each token asked (undefined = the first page). */
function scripted(script: Record<string, AwsPage<number>>) {
  const asked: Array<string | undefined> = [];
  const fetch = async (token: string | undefined) => {
    asked.push(token);
    const page = script[token ?? ''];
    if (!page) throw new Error(`asked for unknown token ${token}`);
    return page;
  };
  return { asked, fetch };
}

describe('awsPages', () => {
  it('follows next tokens to the last page and sends each token once', async () => {
    const { asked, fetch } = scripted({ '': { items: [1, 2], nextToken: 'a' }, a: { items: [3], nextToken: 'b' }, b: { items: [4], nextToken: undefined } });
    expect(await collect(awsPages('ListThings', fetch))).toEqual([[1, 2], [3], [4]]);
    expect(asked).toEqual([undefined, 'a', 'b']);
  });

  it('ends on an empty or null token, and takes a page without items as empty', async () => {
    const { fetch } = scripted({ '': { items: undefined, nextToken: 'x' }, x: { items: [9], nextToken: '' } });
    expect(await collect(awsPages('ListThings', fetch))).toEqual([[], [9]]);
    const nulls = scripted({ '': { items: [1], nextToken: null } });
    expect(await collect(awsPages('ListThings', nulls.fetch))).toEqual([[1]]);
  });

  it('throws on a token that does not advance, after yielding the pages it had, without asking again', async () => {
    const { asked, fetch } = scripted({ '': { items: [1], nextToken: 't' }, t: { items: [2], nextToken: 't' } });
    const seen: number[][] = [];
    const error = await (async () => {
      for await (const page of awsPages('ListThingTypes', fetch)) seen.push(page);
    })().catch((e: unknown) => e);
    expect(seen).toEqual([[1], [2]]);
    expect(asked).toEqual([undefined, 't']);
    expect(error).toBeInstanceOf(ProviderError);
    expect((error as ProviderError).kind).toBe('protocol');
    expect((error as Error).message).toBe(
      'AWS ListThingTypes: page 2 gave the next token already used for page 2; the listing stops there instead of looping',
    );
  });

  it('throws on a cycle of tokens too (a -> b -> a)', async () => {
    const { asked, fetch } = scripted({ '': { items: [1], nextToken: 'a' }, a: { items: [2], nextToken: 'b' }, b: { items: [3], nextToken: 'a' } });
    await expect(collect(awsPages('ListThings', fetch))).rejects.toThrow('page 3 gave the next token already used for page 2');
    expect(asked).toEqual([undefined, 'a', 'b']);
  });
});

describe('edgeVerdictOf', () => {
  const tag = (Key: string, Value: string) => ({ Key, Value });

  it('reads the iotEdge tag whatever the case of its key and value', () => {
    expect(edgeVerdictOf([tag('iotEdge', 'true')])).toEqual({ kind: 'edge' });
    expect(edgeVerdictOf([tag('IOTEDGE', 'TRUE')])).toEqual({ kind: 'edge' });
    expect(edgeVerdictOf([tag('iotedge', 'False'), tag('owner', 'ops')])).toEqual({ kind: 'standard' });
  });

  it('is unknown, saying why, without the tag', () => {
    const verdict = edgeVerdictOf([tag('owner', 'ops')]);
    expect(verdict).toEqual({ kind: 'unknown', reason: 'no iotEdge tag (true or false) says whether it is for edge devices' });
    expect(edgeVerdictOf([])).toEqual(verdict);
    // A key that only looks like it is another key.
    expect(edgeVerdictOf([tag('iotEdge ', 'true'), tag('iot_edge', 'true')]).kind).toBe('unknown');
  });

  it('is unknown for any value but true or false', () => {
    expect(edgeVerdictOf([tag('iotEdge', 'yes')])).toEqual({ kind: 'unknown', reason: 'tag iotEdge is "yes", not true or false' });
    expect(edgeVerdictOf([tag('iotEdge', ' true')]).kind).toBe('unknown');
    expect(edgeVerdictOf([{ Key: 'iotEdge' }])).toEqual({ kind: 'unknown', reason: 'tag iotEdge is "", not true or false' });
  });

  it('is unknown when two keys differing in case disagree, and decided when they agree', () => {
    expect(edgeVerdictOf([tag('iotEdge', 'true'), tag('IotEdge', 'false')])).toEqual({
      kind: 'unknown',
      reason: 'tags iotEdge=true, IotEdge=false disagree on whether it is for edge devices',
    });
    expect(edgeVerdictOf([tag('iotEdge', 'true'), tag('IOTEDGE', 'True')])).toEqual({ kind: 'edge' });
    expect(edgeVerdictOf([tag('iotEdge', 'false'), tag('IOTEDGE', 'maybe')]).kind).toBe('unknown');
  });
});

describe('mapConcurrent', () => {
  it('keeps the order of the items and never has more than `limit` calls in flight', async () => {
    let inFlight = 0;
    let most = 0;
    const release: Array<() => void> = [];
    const run = mapConcurrent([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise<void>((r) => release.push(r));
      inFlight--;
      return n * 10;
    });
    // Let the calls finish in reverse order of their start, a few at a time.
    while (release.length > 0 || inFlight > 0) {
      await new Promise((r) => setImmediate(r));
      const pending = release.splice(0);
      for (const r of pending.reverse()) r();
    }
    expect(await run).toEqual([10, 20, 30, 40, 50, 60, 70]);
    expect(most).toBe(3);
  });

  it('starts no call after a failure and rejects with it', async () => {
    const started: number[] = [];
    const run = mapConcurrent([1, 2, 3, 4, 5], 2, async (n) => {
      started.push(n);
      await new Promise((r) => setImmediate(r));
      if (n === 2) throw new Error('boom');
      return n;
    });
    await expect(run).rejects.toThrow('boom');
    expect(started).toEqual([1, 2, 3]);
  });

  it('handles no items, and refuses a limit below 1', async () => {
    expect(await mapConcurrent([], 4, async () => 1)).toEqual([]);
    await expect(mapConcurrent([1], 0, async () => 1)).rejects.toThrow(RangeError);
  });
});

describe('classifyAwsError', () => {
  const sdkError = (name: string, status: number | undefined, message = 'message', headers: Record<string, string> = {}) =>
    Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status }, $response: { statusCode: status, headers } });

  it('tells auth failures apart, without quoting the message (it may carry a key id)', () => {
    for (const name of ['AccessDeniedException', 'UnauthorizedException', 'UnrecognizedClientException', 'InvalidSignatureException']) {
      const failure = classifyAwsError(sdkError(name, 403, 'The key AKIAEXAMPLE0000000000 is not valid'), 0);
      expect(failure).toMatchObject({ kind: 'auth', retryable: false, detail: `${name} (HTTP 403)` });
    }
    expect(classifyAwsError(sdkError('SomethingElse', 401), 0).kind).toBe('auth');
  });

  it('takes throttling, 429 and 503 as throttled and retryable, with the Retry-After asked', () => {
    const t = classifyAwsError(sdkError('ThrottlingException', 400, 'Rate exceeded', { 'retry-after': '3' }), 0);
    expect(t).toMatchObject({ kind: 'throttled', throttled: true, retryable: true, retryAfterMs: 3000, detail: 'ThrottlingException (HTTP 400): Rate exceeded' });
    expect(classifyAwsError(sdkError('TooManyRequestsException', 429), 0)).toMatchObject({ throttled: true, retryAfterMs: null });
    // A 503 whose body the SDK could not parse (an HTML page): the status says enough.
    expect(classifyAwsError(sdkError('SyntaxError', 503, "Unexpected token '<'"), 0)).toMatchObject({
      kind: 'throttled',
      retryable: true,
      detail: 'throttled (HTTP 503)',
    });
  });

  it('retries 5xx, not other 4xx; 404 is not-found', () => {
    expect(classifyAwsError(sdkError('InternalFailureException', 500, 'oops'), 0)).toMatchObject({ kind: 'server', retryable: true });
    expect(classifyAwsError(sdkError('SyntaxError', 502, '<html>'), 0)).toMatchObject({ kind: 'server', retryable: true, detail: 'failed (HTTP 502)' });
    expect(classifyAwsError(sdkError('SyntaxError', 501, 'nope'), 0)).toMatchObject({ kind: 'server', retryable: false });
    expect(classifyAwsError(sdkError('InvalidRequestException', 400, 'bad'), 0)).toMatchObject({ kind: 'bad-request', retryable: false });
    expect(classifyAwsError(sdkError('ResourceNotFoundException', 404, 'none'), 0)).toMatchObject({ kind: 'not-found', retryable: false });
  });

  it('takes connection failures as unreachable and an aborted request as a timeout', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED', $metadata: { attempts: 1 } });
    expect(classifyAwsError(refused, 0)).toMatchObject({ kind: 'unreachable', retryable: true, detail: 'unreachable (ECONNREFUSED)' });
    expect(classifyAwsError(Object.assign(new Error('getaddrinfo'), { code: 'ENOTFOUND' }), 0).kind).toBe('unreachable');
    expect(classifyAwsError(Object.assign(new Error('Request aborted'), { name: 'AbortError' }), 0)).toMatchObject({ kind: 'timeout', retryable: true });
  });

  it('cuts a long service message to one short line', () => {
    const failure = classifyAwsError(sdkError('InvalidRequestException', 400, 'x\n'.repeat(500)), 0);
    expect(failure.detail.length).toBeLessThan(260);
    expect(failure.detail).not.toContain('\n');
  });
});
