/**
 * The SDK clients' serialize and deserialize steps, as @smithy/core's schema serde plugin makes them
 * (`getSchemaSerdePlugin`), less their copy of the whole client config on every call.
 *
 * Why: each step hands the protocol `{ ...config, ...context }`, a fresh object with every property
 * of the resolved client config (over a hundred) and the call's context; spreading it twice a call
 * was about a sixth of the client's CPU per call (bench/aws-client.ts: 0.258 -> 0.21-0.22 ms on one
 * thread). The protocol only reads properties of that object, so the call's context laid over the
 * config through its prototype gives it the same answers without the copy.
 *
 * Written against @smithy/core 3.41.0 (pinned in package.json, as the SDK clients are): the steps
 * replace the SDK's own under the same names, so a stack without them (another SDK version) is
 * left as it is.
 */
import { deserializerMiddlewareOption, operation, serializerMiddlewareOption } from '@smithy/core/schema';
import { getSmithyContext, toEndpointV1 } from '@smithy/core/transport';

/** What of a client's resolved config the steps use; the rest reaches the protocol through the prototype. */
interface SerdeConfig {
  readonly protocol: {
    serializeRequest(operationSchema: unknown, input: unknown, context: object): Promise<unknown>;
    deserializeResponse(operationSchema: unknown, context: object, response: unknown): Promise<unknown>;
  };
  readonly endpoint?: unknown;
}

type OperationSchema = [unknown, string, string, unknown, unknown, unknown];
type Context = Parameters<typeof getSmithyContext>[0];
type Next = (args: Record<string, unknown>) => Promise<{ response: unknown; output?: unknown }>;

function operationOf(context: Context) {
  const [, namespace, name, traits, input, output] = ((getSmithyContext(context) as { operationSchema?: OperationSchema }).operationSchema ?? []) as Partial<OperationSchema>;
  return operation(namespace as string, name as string, traits as never, input as never, output as never);
}

/** The config, with the call's context (and `extra`) over it. */
function layered(config: object, context: object, extra?: object): object {
  return Object.assign(Object.create(config) as object, context, extra);
}

function serializeStep(config: SerdeConfig) {
  return (next: Next, context: Context) => async (args: Record<string, unknown>) => {
    const endpointV2 = context.endpointV2;
    const endpoint = endpointV2 ? async () => toEndpointV1(endpointV2) : config.endpoint;
    const request = await config.protocol.serializeRequest(operationOf(context), args.input, layered(config, context, { endpoint }));
    return next({ ...args, request });
  };
}

function deserializeStep(config: SerdeConfig) {
  return (next: Next, context: Context) => async (args: Record<string, unknown>) => {
    const { response } = await next(args);
    try {
      return { response, output: await config.protocol.deserializeResponse(operationOf(context), layered(config, context), response) };
    } catch (error) {
      // As the SDK's step does: the raw response beside the error, and the HTTP metadata on an
      // error the service's answer did not make (one the body could not be read into).
      const e = error as Record<string, unknown>;
      Object.defineProperty(e, '$response', { value: response, enumerable: false, writable: false, configurable: false });
      if (!('$metadata' in e)) {
        const r = response as { statusCode?: number; headers?: Record<string, string> };
        const headers = Object.entries(r.headers ?? {});
        const header = (pattern: RegExp) => headers.find(([k]) => pattern.test(k))?.[1];
        e.$metadata = {
          httpStatusCode: r.statusCode,
          requestId: header(/^x-[\w-]+-request-?id$/),
          extendedRequestId: header(/^x-[\w-]+-id-2$/),
          cfId: header(/^x-[\w-]+-cf-id$/),
        };
      }
      throw error;
    }
  };
}

interface SerdeStack {
  add(middleware: unknown, options: object): void;
}

/** Replaces the client's schema serde steps with the ones above. */
export function leanSerde(client: { middlewareStack: unknown; config: unknown }): void {
  const stack = client.middlewareStack as SerdeStack;
  const config = client.config as SerdeConfig;
  if (typeof config.protocol?.serializeRequest !== 'function') return;
  stack.add(serializeStep(config), serializerMiddlewareOption);
  stack.add(deserializeStep(config), deserializerMiddlewareOption);
}
