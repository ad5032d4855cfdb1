import { formatDuration } from '../../duration.js';
import { ApiCallCounter, networkErrorCode, ProviderError, type ProviderErrorKind } from '../errors.js';
import { backoffMs, DEFAULT_RETRY, isRetryableStatus, REAL_CLOCK, retryAfterMs, type Clock, type RetryPolicy } from '../retry.js';
import { ConfigurationShapeError, parseConfigurations, type IotHubConfiguration } from './configurations.js';
import { createSasToken, type IotHubCredentials } from './sas.js';
import { Pacer } from '../pace.js';

export const IOTHUB_API_VERSION = '2021-04-12';
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
export const DEFAULT_PAGE_BUDGET_MS = 60_000;
/**
 * The `top` `listConfigurations` asks for: every configuration a hub can hold (100 automatic device
 * management configurations and 100 IoT Edge deployments on a standard hub, per IoT Hub's quotas
 * page). The hub lowers a larger `top` to its own maximum, so asking for more gains nothing.
 */
export const CONFIGURATIONS_TOP = 200;
/** The alias `count` gives COUNT(): the one key of the one row it expects back. */
const COUNT_ALIAS = 'n';
/**
 * Throttles one page takes as the quota before they count as failures: with the rate halved on
 * each, the waits grow far past any reasonable quota long before this many.
 */
const MAX_THROTTLES_PER_PAGE = 30;

export interface IotHubClientOptions {
  readonly credentials: IotHubCredentials;
  /** Base URL override (an emulator): any scheme, host and port. Default `https://<HostName>`. */
  readonly endpoint?: string;
  readonly pageSize?: number;
  readonly retry?: RetryPolicy;
  /** One HTTP request, headers and body. */
  readonly requestTimeoutMs?: number;
  /**
   * One page (or the configurations list), all its attempts and the waits between them: no request
   * takes longer, whatever fails.
   */
  readonly pageBudgetMs?: number;
  readonly clock?: Clock;
  /** Shared by every request of the pass: paces them and slows down on 429. Default: unpaced until a 429. */
  readonly pacer?: Pacer;
  readonly calls?: ApiCallCounter;
  /** Called before each wait so the caller can log throttling. */
  readonly onRetry?: (info: { operation: string; attempt: number; waitMs: number; reason: string }) => void;
}

/** Why one attempt failed: `message` on its own (logged before a retry), `detail` within a page's give-up message. */
interface AttemptFailure {
  readonly kind: ProviderErrorKind;
  readonly status?: number;
  readonly message: string;
  readonly detail: string;
}

/** One request, as the retry loop sends it and as its messages name it. */
interface HubRequest {
  readonly method: 'GET' | 'POST';
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  /** Counted under this name, as the emulator counts it. */
  readonly operation: string;
  /** Names the request in a give-up message: `page 2 of query:devices`, `getConfigurations`. */
  readonly subject: string;
  /** Names it in one attempt's failure: `query:devices page 2`, `getConfigurations`. */
  readonly where: string;
  /** Called with the headers of the answer that succeeded, before its body is read. */
  readonly onHeaders?: (headers: Headers) => void;
}

interface FetchedPage<T> {
  readonly items: T[];
  /** The next page, already asked for; null on the last page. */
  readonly next: Promise<FetchedPage<T>> | null;
}

/**
 * A typed client of the IoT Hub service API over fetch: twin queries (continuation paging, COUNT)
 * and the configurations list, every request with SAS auth, pacing, bounded retries and counting.
 */
export class IotHubClient {
  readonly calls: ApiCallCounter;
  readonly hubName: string;
  private readonly base: string;
  private readonly pageSize: number;
  private readonly retry: RetryPolicy;
  private readonly timeoutMs: number;
  private readonly budgetMs: number;
  private readonly clock: Clock;
  private readonly pacer: Pacer;
  private token: { value: string; expiresAt: number } | null = null;

  constructor(private readonly options: IotHubClientOptions) {
    this.calls = options.calls ?? new ApiCallCounter();
    this.hubName = options.credentials.hostName;
    this.base = (options.endpoint ?? `https://${options.credentials.hostName}`).replace(/\/+$/, '');
    this.pageSize = options.pageSize ?? 100;
    this.retry = options.retry ?? DEFAULT_RETRY;
    this.timeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.budgetMs = options.pageBudgetMs ?? DEFAULT_PAGE_BUDGET_MS;
    this.clock = options.clock ?? REAL_CLOCK;
    this.pacer = options.pacer ?? new Pacer(null, this.clock);
  }

  /**
   * Runs a query and yields its pages in order; one HTTP request per page (plus retries). A page that
   * fails past its retries or its time budget throws, and the caller knows the listing is incomplete.
   */
  async *queryPages<T = unknown>(query: string, operation = operationOf(query)): AsyncGenerator<T[]> {
    let next: Promise<FetchedPage<T>> | null = this.fetchPage<T>(query, null, operation, 1);
    while (next) {
      const page: FetchedPage<T> = await next;
      next = page.next;
      yield page.items;
    }
  }

  /**
   * `SELECT COUNT() AS n FROM <from> [WHERE <where>]`: the number of twins the filter matches. One
   * request (the hub answers an aggregate on one page); an answer that is not exactly one row with
   * a whole non-negative count is the hub's fault, not a zero.
   */
  async count(where: string | undefined, from: 'devices' | 'devices.modules' = 'devices'): Promise<number> {
    const query = `SELECT COUNT() AS ${COUNT_ALIAS} FROM ${from}${where ? ` WHERE ${where}` : ''}`;
    const rows: unknown[] = [];
    for await (const page of this.queryPages(query)) rows.push(...page);
    try {
      return countIn(rows);
    } catch (error) {
      throw new ProviderError('iothub', 'protocol', `IoT Hub ${this.hubName}: a COUNT() of ${from} answered ${(error as Error).message}`);
    }
  }

  /**
   * `GET /configurations?top=<top>`: the hub's automatic device management configurations and IoT
   * Edge deployments, in one unpaged answer (the API has no continuation). One request plus retries,
   * paced, bounded and counted as `getConfigurations` like any query page.
   */
  async listConfigurations(top = CONFIGURATIONS_TOP): Promise<IotHubConfiguration[]> {
    if (!Number.isSafeInteger(top) || top < 1) throw new RangeError(`listConfigurations: top must be a positive integer, got ${top}`);
    const operation = 'getConfigurations';
    const body = await this.send({
      method: 'GET',
      url: this.url('/configurations', { top: String(top) }),
      headers: { accept: 'application/json' },
      operation,
      subject: operation,
      where: operation,
    });
    try {
      return parseConfigurations(body);
    } catch (error) {
      if (!(error instanceof ConfigurationShapeError)) throw error;
      throw new ProviderError('iothub', 'protocol', `IoT Hub ${this.hubName}: ${operation} answered a list that is not of configurations: ${error.message}`);
    }
  }

  private url(path: string, params: Record<string, string> = {}): string {
    const search = new URLSearchParams({ ...params, 'api-version': IOTHUB_API_VERSION });
    return `${this.base}${path}?${search.toString()}`;
  }

  private fetchPage<T>(query: string, continuation: string | null, operation: string, page: number): Promise<FetchedPage<T>> {
    let next: Promise<FetchedPage<T>> | null | undefined;
    // The continuation is in the headers: ask for the next page as soon as they arrive, so the hub
    // prepares it while this one is read, parsed and mapped. Still one request per page, one page
    // ahead at most.
    const onContinuation = (token: string | null) => {
      if (next !== undefined) return;
      next = token ? this.fetchPage<T>(query, token, operation, page + 1) : null;
      // Its failure surfaces when it is awaited; this only keeps an abandoned one from crashing the process.
      next?.catch(() => undefined);
    };
    const headers: Record<string, string> = {
      'content-type': 'application/json; charset=utf-8',
      accept: 'application/json',
      'x-ms-max-item-count': String(this.pageSize),
    };
    if (continuation) headers['x-ms-continuation'] = continuation;
    return this.send({
      method: 'POST',
      url: this.url('/devices/query'),
      headers,
      body: JSON.stringify({ query }),
      operation,
      subject: `page ${page} of ${operation}`,
      where: `${operation} page ${page}`,
      onHeaders: (h) => onContinuation(h.get('x-ms-continuation')),
    }).then((items) => ({ items: items as T[], next: next ?? null }));
  }

  private authorization(): string {
    const now = Math.floor(Date.now() / 1000);
    if (!this.token || this.token.expiresAt - now < 300) {
      const expiresAt = now + 3600;
      this.token = { value: createSasToken(this.options.credentials, expiresAt), expiresAt };
    }
    return this.token.value;
  }

  /**
   * One request (a query page, the configurations list), its JSON array body parsed: retried within
   * `maxRetries` and the page budget, never past either.
   */
  private async send(request: HubRequest): Promise<unknown[]> {
    const { operation, subject, where } = request;
    let deadline = this.clock.now() + this.budgetMs;
    // An attempt left with a sliver of the budget cannot be answered in time: better to give up
    // before the wait that would lead to it.
    const minAttemptMs = Math.min(this.timeoutMs, this.budgetMs) / 10;
    const giveUp = (failure: AttemptFailure, attempts: number, budgetSpent: boolean) => {
      const after = `${budgetSpent ? `${formatDuration(this.budgetMs)} (budget) and ` : ''}${plural(attempts, 'attempt')}`;
      const message = `IoT Hub ${this.hubName}: ${subject} gave up after ${after}: ${failure.detail}`;
      return new ProviderError('iothub', failure.kind, message, failure.status);
    };
    let throttles = 0;
    for (let attempt = 0; ; attempt++) {
      this.calls.quota.waitMs += await this.pacer.acquire();
      // A wait that ends a little late can eat into the last attempt's time, never below 1 ms.
      const timeoutMs = Math.max(1, Math.min(this.timeoutMs, deadline - this.clock.now()));
      const headers = { ...request.headers, authorization: this.authorization() };
      this.calls.add(operation);
      let failure: AttemptFailure;
      let wait: number | null = null;
      const timeout = this.clock.timeout(timeoutMs);
      try {
        const response = await fetch(request.url, {
          method: request.method,
          headers,
          ...(request.body !== undefined ? { body: request.body } : {}),
          // The body is read under the same signal: a hub that sends headers and then stalls is a
          // hang too.
          signal: timeout.signal,
        });
        if (response.ok) {
          this.pacer.succeeded();
          request.onHeaders?.(response.headers);
          const body = await readJson(response);
          if (!Array.isArray(body)) {
            throw new ProviderError('iothub', 'protocol', `IoT Hub ${this.hubName}: ${subject} is not a JSON array`);
          }
          return body;
        }
        await response.body?.cancel();
        failure = this.httpFailure(response.status, where);
        if (!isRetryableStatus(response.status)) throw toError(failure);
        wait = retryAfterMs(response.headers, this.clock.now());
        if (response.status === 429 && throttles < MAX_THROTTLES_PER_PAGE) {
          // The quota, not a failure: slow the whole pass down and ask again, without spending this
          // page's retries or its budget (--max-duration bounds a pass that is throttled for ever).
          throttles++;
          attempt--;
          this.calls.quota.throttled++;
          this.pacer.throttled();
          const waitMs = wait ?? 0;
          this.options.onRetry?.({ operation, attempt: throttles, waitMs, reason: failure.message });
          await this.clock.sleep(waitMs);
          this.calls.quota.waitMs += waitMs;
          deadline = this.clock.now() + this.budgetMs;
          continue;
        }
      } catch (error) {
        if (error instanceof ProviderError) throw error;
        failure = this.networkFailure(error, timeoutMs, where);
      } finally {
        timeout.clear();
      }
      if (attempt >= this.retry.maxRetries) throw giveUp(failure, attempt + 1, false);
      const left = deadline - this.clock.now();
      const waitMs = wait ?? backoffMs(attempt, this.retry);
      if (waitMs + minAttemptMs > left) {
        if (wait !== null && minAttemptMs <= left) {
          // Sleeping past the budget to honour the hub would break the bound, and retrying sooner
          // would be throttled again: say so now rather than after a wait that cannot end well.
          const detail = `${failure.detail}, and the hub asked to wait ${formatDuration(wait)} (Retry-After) with ${formatDuration(left)} left of the ${formatDuration(this.budgetMs)} page budget`;
          throw giveUp({ ...failure, detail }, attempt + 1, false);
        }
        throw giveUp(failure, attempt + 1, true);
      }
      this.options.onRetry?.({ operation, attempt: attempt + 1, waitMs, reason: failure.message });
      await this.clock.sleep(waitMs);
    }
  }

  private httpFailure(status: number, request: string): AttemptFailure {
    const where = `IoT Hub ${this.hubName}: ${request}`;
    if (status === 401 || status === 403) {
      return {
        kind: 'auth',
        status,
        detail: `the credentials were refused (HTTP ${status})`,
        message: `IoT Hub ${this.hubName} refused the credentials (HTTP ${status}): check IOTHUB_CONNECTION_STRING (key name ${this.options.credentials.sharedAccessKeyName})`,
      };
    }
    const detail =
      status === 429 ? 'throttled (HTTP 429)' : status >= 500 ? `failed with HTTP ${status}` : `was rejected with HTTP ${status}`;
    const kind: ProviderErrorKind = status === 429 ? 'throttled' : status >= 500 ? 'server' : 'bad-request';
    return { kind, status, detail, message: `${where} ${detail}` };
  }

  private networkFailure(error: unknown, timeoutMs: number, request: string): AttemptFailure {
    const e = error as { name?: string };
    if (e?.name === 'TimeoutError' || e?.name === 'AbortError') {
      const detail = `timed out after ${formatDuration(timeoutMs)}`;
      return { kind: 'timeout', detail, message: `IoT Hub ${this.hubName}: ${request} ${detail}` };
    }
    const code = networkErrorCode(error) ?? 'network error';
    const detail = `unreachable at ${this.base} (${code})`;
    return { kind: 'unreachable', detail, message: `IoT Hub ${this.hubName} is ${detail}` };
  }
}

function toError(failure: AttemptFailure): ProviderError {
  return new ProviderError('iothub', failure.kind, failure.message, failure.status);
}

/** A body that is not JSON is the hub's fault, not the network's: it is not retried. */
async function readJson(response: Response): Promise<unknown> {
  const text = await response.text();
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * The count of a `SELECT COUNT() AS n` answer: exactly one row whose `n` is a whole non-negative
 * number. Anything else throws, its message saying what came instead (a zero that was not counted
 * must never pass for one).
 */
export function countIn(rows: readonly unknown[], alias = COUNT_ALIAS): number {
  const n = rows.length === 1 ? (rows[0] as Record<string, unknown> | null)?.[alias] : undefined;
  if (typeof n === 'number' && Number.isSafeInteger(n) && n >= 0) return n;
  const got = rows.length === 1 ? truncate(JSON.stringify(rows[0]) ?? String(rows[0])) : plural(rows.length, 'row');
  throw new Error(`${got}, not one row with a whole non-negative "${alias}"`);
}

function truncate(text: string, max = 80): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/** `query:devices` or `query:devices.modules`, the names the emulator counts under too. */
export function operationOf(query: string): string {
  const match = /\bfrom\s+(devices(?:\.modules)?)\b/i.exec(query);
  return `query:${match ? match[1]!.toLowerCase() : 'unknown'}`;
}
