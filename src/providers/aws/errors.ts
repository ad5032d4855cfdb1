import { networkErrorCode, type ProviderErrorKind } from '../errors.js';
import { isRetryableStatus, retryAfterMs } from '../retry.js';

/** What one failed attempt was, in the terms a retry and the exit code need. */
export interface AwsFailure {
  readonly kind: ProviderErrorKind | 'not-found';
  /** Throttled (ThrottlingException, 429, 503): retried, and the pass slows down. */
  readonly throttled: boolean;
  readonly retryable: boolean;
  readonly status: number | undefined;
  /** The wait the service asked for (Retry-After), if it did. */
  readonly retryAfterMs: number | null;
  /** What happened, without the operation: `ThrottlingException (HTTP 429): Rate exceeded`. Never a key. */
  readonly detail: string;
}

/** Error codes AWS uses for credentials it does not accept, or an identity not allowed the call. */
const AUTH_ERRORS = new Set([
  'AccessDeniedException',
  'AccessDenied',
  'UnauthorizedException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'IncompleteSignatureException',
  'MissingAuthenticationTokenException',
  'InvalidClientTokenId',
  'InvalidAccessKeyId',
  'ExpiredTokenException',
  'ExpiredToken',
]);

const THROTTLE_ERRORS = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'SlowDown',
  'ServiceUnavailableException',
  'ServiceUnavailable',
]);

const SERVER_ERRORS = new Set(['InternalFailureException', 'InternalFailure', 'InternalException', 'InternalServerException', 'InternalServerError']);

/** Connection failures: the endpoint is wrong or down, which is exit 69 once the retries are spent. */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'EPIPE',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
]);

/** Longest part of a service message quoted in an error: a 5xx page can be a whole HTML document. */
const MESSAGE_LIMIT = 200;

interface SdkError {
  name?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { statusCode?: number; headers?: Record<string, string | undefined> };
}

/**
 * Classifies what an SDK call threw (a request past --request-timeout fails in the HTTP handler as a
 * TimeoutError). Auth failures never quote the service's message: it may carry an access key id.
 */
export function classifyAwsError(error: unknown, now: number): AwsFailure {
  const e = (error ?? {}) as SdkError;
  const base = { throttled: false, status: undefined, retryAfterMs: null };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') {
    return { ...base, kind: 'timeout', retryable: true, detail: 'timed out' };
  }
  const code = networkErrorCode(error);
  if (code !== null && (UNREACHABLE_CODES.has(code) || code.startsWith('UND_ERR_CONNECT'))) {
    return { ...base, kind: 'unreachable', retryable: true, detail: `unreachable (${code})` };
  }
  const status = e.$metadata?.httpStatusCode ?? e.$response?.statusCode;
  const name = e.name ?? 'Error';
  const http = status === undefined ? '' : ` (HTTP ${status})`;
  // A service error the SDK recognised has its code as name; a body it could not parse (an HTML 5xx
  // page) is a SyntaxError that says nothing useful beyond the status.
  const recognised = name !== 'SyntaxError' && name !== 'Error';
  const message = recognised && e.message ? `: ${oneLine(e.message)}` : '';
  const retryAfter = headersOf(e) === null ? null : retryAfterMs(headersOf(e)!, now);
  if (AUTH_ERRORS.has(name) || status === 401 || status === 403) {
    return { ...base, status, kind: 'auth', retryable: false, detail: `${recognised ? name : 'refused'}${http}` };
  }
  if (THROTTLE_ERRORS.has(name) || status === 429 || status === 503) {
    return { kind: 'throttled', throttled: true, retryable: true, status, retryAfterMs: retryAfter, detail: `${recognised ? name : 'throttled'}${http}${message}` };
  }
  if (name === 'ResourceNotFoundException' || status === 404) {
    return { ...base, status, kind: 'not-found', retryable: false, detail: `${recognised ? name : 'not found'}${http}${message}` };
  }
  if (SERVER_ERRORS.has(name) || (status !== undefined && status >= 500)) {
    // The same statuses as the IoT Hub client retries: 501 or 505 would fail the same way again.
    const retryable = status === undefined || isRetryableStatus(status);
    return { ...base, status, retryAfterMs: retryAfter, kind: 'server', retryable, detail: `${recognised ? name : 'failed'}${http}${message}` };
  }
  if (status !== undefined) {
    return { ...base, status, kind: 'bad-request', retryable: false, detail: `${recognised ? name : 'rejected'}${http}${message}` };
  }
  // No status and no known code: something local (a signing or parsing failure), not worth a retry.
  return { ...base, kind: 'protocol', retryable: false, detail: `${name}: ${oneLine(e.message ?? String(error))}` };
}

function headersOf(e: SdkError): Headers | null {
  const raw = e.$response?.headers;
  if (!raw) return null;
  const headers = new Headers();
  for (const [k, v] of Object.entries(raw)) if (typeof v === 'string') headers.set(k, v);
  return headers;
}

function oneLine(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > MESSAGE_LIMIT ? `${line.slice(0, MESSAGE_LIMIT - 1)}…` : line;
}

/** True for the SDK's "no credentials anywhere in the chain" error. */
export function isMissingCredentials(error: unknown): boolean {
  return (error as { name?: string } | null)?.name === 'CredentialsProviderError';
}
