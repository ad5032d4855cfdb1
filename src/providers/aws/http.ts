import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { NodeHttpHandler } from '@smithy/node-http-handler';

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
