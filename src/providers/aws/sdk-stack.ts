import { createRequire } from 'node:module';
import { leanSerde } from './sdk-serde.js';

const SDK_VERSION = (createRequire(import.meta.url)('@aws-sdk/client-iot/package.json') as { version: string }).version;

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
 * measures the client's CPU per call; together they were about a seventh of it), and with serde
 * steps that do not copy its config on every call (sdk-serde.ts):
 * - its retry step: retries are ours (client.ts: counted, paced, bounded by --max-retries), yet
 *   with maxAttempts 1 the step still runs a retry token bucket on every call. A pass-through
 *   keeps its name, which the signing step is placed after.
 * - its user-agent step, which builds and escapes the same User-Agent string anew on every call:
 *   the header is set here from a string made once.
 */
export function leanSdkClient<C extends { middlewareStack: unknown; config: unknown }>(client: C): C {
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
  leanSerde(client);
  return client;
}
