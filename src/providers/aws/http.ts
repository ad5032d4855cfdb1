import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { createRequire } from 'node:module';
import { NodeHttpHandler } from '@smithy/node-http-handler';

const SDK_VERSION = (createRequire(import.meta.url)('@aws-sdk/client-iot/package.json') as { version: string }).version;

/** The SDK's own default; a pass at a high --concurrency with a listing beside it needs more. */
const SDK_DEFAULT_MAX_SOCKETS = 50;

export interface HttpBounds {
  /** --request-timeout, in real milliseconds (already divided by the time scale). */
  readonly timeoutMs: number;
  readonly concurrency: number;
}

/**
 * The HTTP handler of one AWS SDK client: keep-alive agents with a socket for every request in
 * flight, and --request-timeout enforced here rather than by an `abortSignal` per call.
 *
 * Why: the SDK reuses a command's resolved middleware stack (`cacheMiddleware`) only for a send
 * without options, and resolving it again on every call, plus an AbortController and its listeners,
 * was about a third of the client's CPU per call (bench/aws-client.ts).
 *
 * The bound is the same: `requestTimeout` runs from the request until the response headers (connect
 * and socket included) and, with `throwOnRequestTimeout`, fails it as a `TimeoutError`; a body that
 * then stalls as long fails the same way through `socketTimeout`. Both classify as a timeout.
 */
export function boundedHttpHandler(bounds: HttpBounds): NodeHttpHandler {
  const agent = { keepAlive: true, maxSockets: Math.max(SDK_DEFAULT_MAX_SOCKETS, 2 * bounds.concurrency) };
  return new NodeHttpHandler({
    requestTimeout: bounds.timeoutMs,
    throwOnRequestTimeout: true,
    socketTimeout: bounds.timeoutMs,
    httpAgent: new HttpAgent(agent),
    httpsAgent: new HttpsAgent(agent),
  });
}

type Handler = (args: { request: unknown }) => Promise<unknown>;

/** The part of an SDK client's middleware stack used here. */
interface SdkStack {
  remove(name: string): boolean;
  add(middleware: (next: Handler) => Handler, options: { step: 'build' | 'finalizeRequest'; name: string; priority?: 'high' }): void;
}

/** The User-Agent of every AWS request: this tool and the SDK's package it speaks through. */
const USER_AGENT = `portal-sync aws-sdk-js/${SDK_VERSION}`;

/**
 * An SDK client without two steps that cost a pass more than they give it (bench/aws-client.ts
 * measures the client's CPU per call; together they were about a seventh of it):
 * - its retry step: retries are ours (client.ts: counted, paced, bounded by --max-retries), yet
 *   with maxAttempts 1 the step still runs a retry token bucket on every call. A pass-through
 *   keeps its name, which the signing step is placed after.
 * - its user-agent step, which builds and escapes the same User-Agent string anew on every call:
 *   the header is set here from a string made once.
 */
export function leanSdkClient<C extends { middlewareStack: unknown }>(client: C): C {
  const stack = client.middlewareStack as SdkStack;
  if (stack.remove('retryMiddleware')) stack.add((next) => next, { step: 'finalizeRequest', name: 'retryMiddleware', priority: 'high' });
  if (stack.remove('getUserAgentMiddleware')) {
    stack.add(
      (next) => (args) => {
        const request = args.request as { headers?: Record<string, string> };
        if (request.headers) request.headers['user-agent'] = USER_AGENT;
        return next(args);
      },
      { step: 'build', name: 'staticUserAgentMiddleware' },
    );
  }
  return client;
}
