import { ApiCallCounter, ProviderError } from '../errors.js';
import { backoffMs, DEFAULT_RETRY, delay, retryAfterMs, type RetryPolicy } from '../retry.js';
import { createSasToken, type IotHubCredentials } from './sas.js';

export const IOTHUB_API_VERSION = '2021-04-12';

export interface IotHubClientOptions {
  readonly credentials: IotHubCredentials;
  /** Base URL override (an emulator): any scheme, host and port. Default `https://<HostName>`. */
  readonly endpoint?: string;
  readonly pageSize?: number;
  readonly retry?: RetryPolicy;
  readonly requestTimeoutMs?: number;
  readonly calls?: ApiCallCounter;
  /** Called before each wait so the caller can log throttling. */
  readonly onRetry?: (info: { operation: string; attempt: number; waitMs: number; reason: string }) => void;
}

/** A typed client of the IoT Hub query API over fetch: SAS auth, continuation paging, bounded retries. */
export class IotHubClient {
  readonly calls: ApiCallCounter;
  readonly hubName: string;
  private readonly base: string;
  private readonly pageSize: number;
  private readonly retry: RetryPolicy;
  private readonly timeoutMs: number;
  private token: { value: string; expiresAt: number } | null = null;

  constructor(private readonly options: IotHubClientOptions) {
    this.calls = options.calls ?? new ApiCallCounter();
    this.hubName = options.credentials.hostName;
    this.base = (options.endpoint ?? `https://${options.credentials.hostName}`).replace(/\/+$/, '');
    this.pageSize = options.pageSize ?? 100;
    this.retry = options.retry ?? DEFAULT_RETRY;
    this.timeoutMs = options.requestTimeoutMs ?? 30_000;
  }

  /**
   * Runs a query and yields its pages in order; one HTTP request per page (plus retries). A page that
   * fails past the retry budget throws, and the caller knows the listing is incomplete.
   */
  async *queryPages<T = unknown>(query: string, operation = operationOf(query)): AsyncGenerator<T[]> {
    let page = 1;
    let next: Promise<Response> | null = this.post(query, null, operation, page);
    while (next) {
      const response: Response = await next;
      const continuation = response.headers.get('x-ms-continuation');
      // The continuation is in the headers: ask for the next page now, so the hub prepares it while
      // this one is parsed and mapped. Still one request per page, one page ahead at most.
      next = continuation ? this.post(query, continuation, operation, page + 1) : null;
      // Its failure surfaces when it is awaited; this only keeps an abandoned one from crashing the process.
      next?.catch(() => undefined);
      const body = (await response.json().catch(() => undefined)) as unknown;
      if (!Array.isArray(body)) {
        throw new ProviderError('iothub', 'protocol', `IoT Hub ${this.hubName}: page ${page} of ${operation} is not a JSON array`);
      }
      yield body as T[];
      page++;
    }
  }

  private authorization(): string {
    const now = Math.floor(Date.now() / 1000);
    if (!this.token || this.token.expiresAt - now < 300) {
      const expiresAt = now + 3600;
      this.token = { value: createSasToken(this.options.credentials, expiresAt), expiresAt };
    }
    return this.token.value;
  }

  private async post(query: string, continuation: string | null, operation: string, page: number): Promise<Response> {
    const url = `${this.base}/devices/query?api-version=${IOTHUB_API_VERSION}`;
    let waited = 0;
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = {
        authorization: this.authorization(),
        'content-type': 'application/json; charset=utf-8',
        accept: 'application/json',
        'x-ms-max-item-count': String(this.pageSize),
      };
      if (continuation) headers['x-ms-continuation'] = continuation;
      this.calls.add(operation);
      let failure: ProviderError;
      let wait: number | null = null;
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers,
          body: JSON.stringify({ query }),
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        if (response.ok) return response;
        await response.body?.cancel();
        failure = this.httpError(response.status, operation, page);
        if (!isRetryableStatus(response.status)) throw failure;
        wait = retryAfterMs(response.headers);
      } catch (error) {
        if (error instanceof ProviderError && !isRetryableKind(error.kind)) throw error;
        failure = error instanceof ProviderError ? error : this.networkError(error, operation, page);
      }
      const waitMs = wait ?? backoffMs(attempt, this.retry);
      if (attempt >= this.retry.maxRetries || waited + waitMs > this.retry.maxWaitMs) {
        throw new ProviderError(
          'iothub',
          failure.kind,
          `${failure.message} (gave up after ${attempt + 1} attempt${attempt === 0 ? '' : 's'})`,
          failure.status,
        );
      }
      this.options.onRetry?.({ operation, attempt: attempt + 1, waitMs, reason: failure.message });
      waited += waitMs;
      await delay(waitMs);
    }
  }

  private httpError(status: number, operation: string, page: number): ProviderError {
    const where = `IoT Hub ${this.hubName}: ${operation} page ${page}`;
    if (status === 401 || status === 403) {
      return new ProviderError(
        'iothub',
        'auth',
        `IoT Hub ${this.hubName} refused the credentials (HTTP ${status}): check IOTHUB_CONNECTION_STRING (key name ${this.options.credentials.sharedAccessKeyName})`,
        status,
      );
    }
    if (status === 429) return new ProviderError('iothub', 'throttled', `${where} throttled (HTTP 429)`, status);
    if (status >= 500) return new ProviderError('iothub', 'server', `${where} failed with HTTP ${status}`, status);
    return new ProviderError('iothub', 'bad-request', `${where} was rejected with HTTP ${status}`, status);
  }

  private networkError(error: unknown, operation: string, page: number): ProviderError {
    const e = error as { name?: string; cause?: { code?: string; errors?: Array<{ code?: string }> }; code?: string };
    if (e?.name === 'TimeoutError' || e?.name === 'AbortError') {
      return new ProviderError('iothub', 'timeout', `IoT Hub ${this.hubName}: ${operation} page ${page} timed out after ${this.timeoutMs} ms`);
    }
    const code = e?.cause?.code ?? e?.cause?.errors?.[0]?.code ?? e?.code ?? 'network error';
    return new ProviderError('iothub', 'unreachable', `IoT Hub ${this.hubName} is unreachable at ${this.base} (${code})`);
  }
}

function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 500 || status === 502 || status === 503 || status === 504;
}

function isRetryableKind(kind: string): boolean {
  return kind === 'throttled' || kind === 'server' || kind === 'timeout' || kind === 'unreachable';
}

/** `query:devices` or `query:devices.modules`, the names the emulator counts under too. */
export function operationOf(query: string): string {
  const match = /\bfrom\s+(devices(?:\.modules)?)\b/i.exec(query);
  return `query:${match ? match[1]!.toLowerCase() : 'unknown'}`;
}
