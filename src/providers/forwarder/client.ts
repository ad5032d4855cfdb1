/**
 * The Navixy data-forwarding service's connections API, as `navixy-customers` uses it (README,
 * "navixy-customers", the contract): list every connection (all pages), read one customer's
 * connections, establish one by customer reference and hash, close one by id.
 *
 * Every request is counted under its operation; reads are retried on what a later attempt may not
 * meet (429 after its Retry-After, 5xx, the network, a timeout) at most --max-retries times; writes
 * are not retried here (the command decides: an establish is planned again next pass, a close is
 * retried once). The token and the hashes never appear in an error.
 */
import type { Connection } from '../../reconcile/navixy.js';
import { ApiCallCounter, networkErrorCode, ProviderError, type ProviderErrorKind } from '../errors.js';
import { backoffMs, DEFAULT_RETRY, isRetryableStatus, REAL_CLOCK, retryAfterMs, type Clock } from '../retry.js';

export interface ForwarderConfig {
  /** NAVIXY_FORWARDER_URL or --forwarder-url, without a trailing slash. */
  readonly url: string;
  /** NAVIXY_FORWARDER_TOKEN. A secret. */
  readonly token: string;
  readonly maxRetries: number;
  readonly requestTimeoutMs: number;
}

/** Connections per listing page: the most the service gives, so a pass costs the fewest calls. */
export const LIST_PAGE_SIZE = 1000;

export const FORWARDER_OPERATIONS = { list: 'ListConnections', read: 'ReadCustomerConnections', establish: 'EstablishConnection', close: 'CloseConnection' } as const;

/** What a write got back: done, or the service's own refusal (409, 404) the command reads as an answer. */
export type WriteAnswer = { readonly status: 'ok'; readonly connection: Connection | null } | { readonly status: 'conflict' | 'not-found' };

interface Answer {
  readonly status: number;
  readonly body: unknown;
}

export class ForwarderClient {
  private readonly clock: Clock;

  constructor(
    private readonly config: ForwarderConfig,
    readonly calls: ApiCallCounter,
    private readonly random: () => number = Math.random,
    clock: Clock = REAL_CLOCK,
  ) {
    this.clock = clock;
  }

  /** Every connection, whatever its status, page by page; a page that fails after its retries ends the listing. */
  async *listConnections(): AsyncGenerator<Connection[]> {
    const seen = new Set<string>();
    let cursor: string | null = null;
    for (let page = 1; ; page++) {
      const query = `limit=${LIST_PAGE_SIZE}${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;
      const answer = await this.read(FORWARDER_OPERATIONS.list, `/v1/connections?${query}`, `page ${page} of the connections`);
      const body = answer.body as { connections?: unknown; nextCursor?: unknown };
      yield connectionsOf(body.connections, `page ${page} of the connections`);
      const next = body.nextCursor;
      if (next === null || next === undefined || next === '') return;
      if (typeof next !== 'string') throw protocol(`page ${page} of the connections has a nextCursor that is not a string`);
      // A service that hands the same cursor back would be listed for ever.
      if (seen.has(next)) throw protocol(`page ${page} of the connections gave a cursor already used; the listing stops there instead of looping`);
      seen.add(next);
      cursor = next;
    }
  }

  /** Every connection of one customer (the read-back after an action). */
  async customerConnections(ref: string): Promise<Connection[]> {
    const answer = await this.read(FORWARDER_OPERATIONS.read, `/v1/customers/${encodeURIComponent(ref)}/connections`, `the connections of customer ${ref}`);
    return connectionsOf((answer.body as { connections?: unknown }).connections, `the connections of customer ${ref}`);
  }

  /** Opens a connection for the customer with its hash: one request, never retried here. */
  async establish(ref: string, hash: string): Promise<WriteAnswer> {
    const answer = await this.send(FORWARDER_OPERATIONS.establish, 'POST', '/v1/connections', `establishing customer ${ref}`, { customerRef: ref, hash });
    if (answer.status === 409) return { status: 'conflict' };
    return { status: 'ok', connection: connectionOf(answer.body, `the connection established for customer ${ref}`) };
  }

  /** Closes one connection: one request, never retried here. A 404 means it is not active (any more). */
  async close(id: string, ref: string): Promise<WriteAnswer> {
    const answer = await this.send(FORWARDER_OPERATIONS.close, 'DELETE', `/v1/connections/${encodeURIComponent(id)}`, `closing connection ${id} of customer ${ref}`);
    if (answer.status === 404) return { status: 'not-found' };
    return { status: 'ok', connection: null };
  }

  /** A read, retried while it fails in a way a later attempt may not. */
  private async read(operation: string, path: string, what: string): Promise<Answer> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.send(operation, 'GET', path, what);
      } catch (error) {
        const retryable = error instanceof RetryableError;
        if (!retryable || attempt >= this.config.maxRetries) throw retryable ? error.final(attempt + 1) : error;
        await this.clock.sleep(error.retryAfterMs ?? backoffMs(attempt, { ...DEFAULT_RETRY, maxRetries: this.config.maxRetries }, this.random));
      }
    }
  }

  /**
   * One request. Answers 2xx, and 409/404 for writes, come back; anything else throws: a
   * {@link RetryableError} for what may pass later, else a ProviderError.
   */
  private async send(operation: string, method: string, path: string, what: string, body?: unknown): Promise<Answer> {
    this.calls.add(operation);
    const timeout = this.clock.timeout(this.config.requestTimeoutMs);
    const subject = `forwarding service: ${what}`;
    let response: Response;
    let text: string;
    try {
      response = await fetch(`${this.config.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.config.token}`, accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: timeout.signal,
      });
      text = await response.text();
    } catch (error) {
      const code = networkErrorCode(error);
      if ((error as { name?: string } | null)?.name === 'TimeoutError' || timeout.signal.aborted) {
        throw new RetryableError('timeout', `${subject} timed out after ${this.config.requestTimeoutMs} ms`, undefined, null);
      }
      // fetch says only "fetch failed"; why is in its cause (a code, or e.g. "bad port" for the ports fetch refuses).
      const why = code ?? (error as { cause?: { message?: string } }).cause?.message ?? (error as Error).message;
      throw new RetryableError('unreachable', `${subject}: the service at ${this.config.url} is unreachable (${why})`, undefined, null);
    } finally {
      timeout.clear();
    }
    const status = response.status;
    if (status >= 200 && status < 300) return { status, body: text === '' ? null : parseJson(text, subject) };
    if ((method !== 'GET' && status === 409) || (method === 'DELETE' && status === 404)) return { status, body: null };
    const detail = `HTTP ${status}${errorCodeOf(text)}`;
    if (status === 401 || status === 403) {
      throw new ProviderError('navixy', 'auth', `${subject} was refused (${detail}): check NAVIXY_FORWARDER_TOKEN`, status);
    }
    if (status === 429 || isRetryableStatus(status)) {
      throw new RetryableError(status === 429 ? 'throttled' : 'server', `${subject} failed: ${detail}`, status, retryAfterMs(response.headers, this.clock.now()));
    }
    throw new ProviderError('navixy', status >= 500 ? 'server' : 'bad-request', `${subject} failed: ${detail}`, status);
  }
}

/** A failure a later attempt may not meet; becomes a ProviderError when the attempts are spent. */
class RetryableError extends ProviderError {
  constructor(
    kind: ProviderErrorKind,
    message: string,
    status: number | undefined,
    readonly retryAfterMs: number | null,
  ) {
    super('navixy', kind, message, status);
  }

  final(attempts: number): ProviderError {
    return new ProviderError('navixy', this.kind, attempts > 1 ? `${this.message} (after ${attempts} attempts)` : this.message, this.status);
  }
}

function protocol(what: string): ProviderError {
  return new ProviderError('navixy', 'protocol', `forwarding service: ${what}`);
}

function parseJson(text: string, subject: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ProviderError('navixy', 'protocol', `${subject}: the answer is not JSON`);
  }
}

/** ` (code)` of the service's error body, if it has one; never its message, which could quote a request. */
function errorCodeOf(text: string): string {
  try {
    const code = (JSON.parse(text) as { error?: { code?: unknown } }).error?.code;
    return typeof code === 'string' && /^[a-z_]{1,40}$/.test(code) ? ` ${code}` : '';
  } catch {
    return '';
  }
}

function connectionsOf(value: unknown, where: string): Connection[] {
  if (!Array.isArray(value)) throw protocol(`${where}: no connections array`);
  return value.map((item, i) => connectionOf(item, `${where}, item ${i}`));
}

function connectionOf(value: unknown, where: string): Connection {
  const c = (value ?? {}) as Record<string, unknown>;
  for (const field of ['id', 'customerRef', 'hashSha256', 'status', 'createdAt']) {
    if (typeof c[field] !== 'string') throw protocol(`${where}: ${field} is not a string`);
  }
  return { id: c.id as string, customerRef: c.customerRef as string, hashSha256: c.hashSha256 as string, status: c.status as string, createdAt: c.createdAt as string };
}
