/**
 * What crosses between the pass and its SDK threads (sdk-threads.ts, sdk-thread.ts): the per-thing
 * calls, their answers, and a failure in the shape classifyAwsError reads (errors.ts). Structured
 * clone keeps only an Error's name, message and stack, so the SDK's fields travel as a plain object.
 */

/** The settings a thread makes its SDK clients with, as the pass resolved them. */
export interface SdkThreadSettings {
  readonly region: string | undefined;
  /** The IoT endpoint from the environment (undefined: the region's own). */
  readonly iotEndpoint: string | undefined;
  /** --request-timeout in real milliseconds. */
  readonly timeoutMs: number;
  readonly concurrency: number;
}

/** The per-thing calls a thread makes. */
export type ThreadCall =
  | { readonly operation: 'DescribeThing'; readonly thingName: string }
  /** `endpoint`: the data plane's, from the environment or DescribeEndpoint, found by the pass once. */
  | { readonly operation: 'GetThingShadow'; readonly thingName: string; readonly endpoint: string };

/** What each call gives back: the thing's id (DescribeThing), or that the shadow exists (GetThingShadow). */
export type ThreadAnswer = { readonly thingId: string | undefined } | { readonly shadow: true };

export interface ThreadRequest {
  readonly id: number;
  readonly call: ThreadCall;
}

export type ThreadReply = { readonly id: number; readonly answer: ThreadAnswer } | { readonly id: number; readonly failure: WireFailure };

/** The fields of an SDK or network error that classifyAwsError and networkErrorCode read. */
export interface WireFailure {
  readonly name: string | undefined;
  readonly message: string | undefined;
  readonly code: string | undefined;
  readonly status: number | undefined;
  readonly headers: Record<string, string> | undefined;
}

export function toWire(error: unknown): WireFailure {
  const e = (error ?? {}) as {
    name?: unknown;
    message?: unknown;
    code?: unknown;
    cause?: { code?: unknown; errors?: Array<{ code?: unknown }> };
    errors?: Array<{ code?: unknown }>;
    $metadata?: { httpStatusCode?: unknown };
    $response?: { statusCode?: unknown; headers?: Record<string, unknown> };
  };
  const code = e.cause?.code ?? e.cause?.errors?.[0]?.code ?? e.code ?? e.errors?.[0]?.code;
  const status = e.$metadata?.httpStatusCode ?? e.$response?.statusCode;
  let headers: Record<string, string> | undefined;
  if (e.$response?.headers) {
    headers = {};
    for (const [k, v] of Object.entries(e.$response.headers)) if (typeof v === 'string') headers[k] = v;
  }
  return {
    name: typeof e.name === 'string' ? e.name : undefined,
    message: typeof e.message === 'string' ? e.message : error instanceof Error ? undefined : String(error),
    code: typeof code === 'string' ? code : undefined,
    status: typeof status === 'number' ? status : undefined,
    headers,
  };
}

/** An error the pass's retry and classification read as they would the SDK's own. */
export function fromWire(failure: WireFailure): Error {
  const error = new Error(failure.message ?? '') as Error & Record<string, unknown>;
  if (failure.name !== undefined) error.name = failure.name;
  if (failure.code !== undefined) error.code = failure.code;
  if (failure.status !== undefined) error.$metadata = { httpStatusCode: failure.status };
  if (failure.status !== undefined || failure.headers !== undefined) error.$response = { statusCode: failure.status, headers: failure.headers ?? {} };
  return error;
}
