/**
 * One Cisco Control Center (Jasper) service provider's devices API, as `jasper` reads it:
 * `GET <base>/rws/api/v1/devices?modifiedSince=&pageSize=&pageNumber=` with Basic authentication
 * (user name and API key). One request at a time, as Cisco's fair-use policy asks, paced by --rate
 * when set. Transient failures (5xx, timeouts, the network, the rate-limit error 40000029 or a 429)
 * are retried with exponential backoff and full jitter while the pass's retry budget lasts; past it
 * the error stands. The API key never appears in an error.
 */
import { ApiCallCounter, networkErrorCode, ProviderError, type ProviderErrorKind } from '../errors.js';
import { Pacer, type Rate } from '../pace.js';
import { isRetryableStatus, REAL_CLOCK, retryAfterMs, type Clock } from '../retry.js';

/** Control Center's page size limit. */
export const JASPER_PAGE_SIZE = 50;
/** Control Center's answer to a client over its rate limit (with HTTP 400). */
export const RATE_LIMIT_CODE = '40000029';
export const DEVICES_OPERATION = 'GetModifiedDevices';

export interface JasperEndpoint {
  readonly providerId: string;
  readonly baseUrl: string;
  readonly username: string;
  /** JASPER_API_KEY_<ID>. A secret. */
  readonly apiKey: string;
}

export interface JasperLimits {
  /** Total time the retries of one provider's pass may wait, in ms. */
  readonly retryBudgetMs: number;
  readonly requestTimeoutMs: number;
  readonly rate: Rate | null;
  /** First backoff; each retry doubles it (full jitter), up to maxBackoffMs. */
  readonly baseBackoffMs?: number;
  readonly maxBackoffMs?: number;
}

export interface RawDevice {
  readonly iccid: string | null;
  readonly status: string | null;
  readonly ratePlan: string | null;
  readonly communicationPlan: string | null;
}

export interface DevicesPage {
  readonly devices: readonly RawDevice[];
  readonly pageNumber: number;
  readonly lastPage: boolean;
}

export class JasperClient {
  private readonly pacer: Pacer;
  private budgetLeftMs: number;
  /** Retries waited for, and why, for the run's summary. */
  readonly retries: { count: number; waitedMs: number } = { count: 0, waitedMs: 0 };

  constructor(
    private readonly endpoint: JasperEndpoint,
    private readonly limits: JasperLimits,
    readonly calls: ApiCallCounter,
    private readonly clock: Clock = REAL_CLOCK,
    private readonly random: () => number = Math.random,
    /** A signal (SIGTERM, SIGINT) ends the request in flight and any wait at once: a pass never waits a page out. */
    private readonly stop: AbortSignal = new AbortController().signal,
  ) {
    this.pacer = new Pacer(limits.rate, clock);
    this.budgetLeftMs = limits.retryBudgetMs;
  }

  /** One page of the devices modified since `modifiedSince`, retried while the budget lasts. */
  async devicesPage(modifiedSince: Date, pageNumber: number): Promise<DevicesPage> {
    const query = `modifiedSince=${encodeURIComponent(isoWithZone(modifiedSince))}&pageSize=${JASPER_PAGE_SIZE}&pageNumber=${pageNumber}`;
    const url = `${this.endpoint.baseUrl.replace(/\/+$/, '')}/rws/api/v1/devices?${query}`;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.once(url, pageNumber);
      } catch (error) {
        if (!(error instanceof TransientError)) throw error;
        const backoff = Math.round(this.random() * Math.min(this.limits.maxBackoffMs ?? 60_000, (this.limits.baseBackoffMs ?? 1000) * 2 ** attempt));
        const wait = Math.max(backoff, error.retryAfterMs ?? 0);
        if (wait > this.budgetLeftMs) {
          throw new ProviderError('jasper', error.kind, `${error.message}; retry budget spent (${attempt + 1} attempt${attempt === 0 ? '' : 's'})`, error.status);
        }
        this.budgetLeftMs -= wait;
        this.retries.count++;
        this.retries.waitedMs += wait;
        await Promise.race([this.clock.sleep(wait), stopped(this.stop)]);
        this.stop.throwIfAborted();
      }
    }
  }

  private async once(url: string, pageNumber: number): Promise<DevicesPage> {
    this.stop.throwIfAborted();
    await this.pacer.acquire();
    this.calls.add(DEVICES_OPERATION);
    const subject = `Control Center of service provider ${this.endpoint.providerId}, devices page ${pageNumber}`;
    const timeout = this.clock.timeout(this.limits.requestTimeoutMs);
    let response: Response;
    let text: string;
    try {
      response = await fetch(url, {
        headers: { authorization: `Basic ${Buffer.from(`${this.endpoint.username}:${this.endpoint.apiKey}`).toString('base64')}`, accept: 'application/json' },
        signal: AbortSignal.any([timeout.signal, this.stop]),
      });
      text = await response.text();
    } catch (error) {
      // Not a failure of Control Center: the pass was told to stop.
      this.stop.throwIfAborted();
      if ((error as { name?: string } | null)?.name === 'TimeoutError' || timeout.signal.aborted) {
        throw new TransientError('timeout', `${subject}: timed out after ${this.limits.requestTimeoutMs} ms`, undefined, null);
      }
      const why = networkErrorCode(error) ?? (error as { cause?: { message?: string } }).cause?.message ?? (error as Error).message;
      throw new TransientError('unreachable', `${subject}: ${this.endpoint.baseUrl} is unreachable (${why})`, undefined, null);
    } finally {
      timeout.clear();
    }
    const status = response.status;
    const code = errorCodeOf(text);
    if (status === 401 || status === 403) {
      throw new ProviderError('jasper', 'auth', `${subject}: refused (HTTP ${status}): check the user name of service provider ${this.endpoint.providerId} and JASPER_API_KEY_${envSuffix(this.endpoint.providerId)}`, status);
    }
    if (status === 429 || code === RATE_LIMIT_CODE) {
      this.pacer.throttled();
      throw new TransientError('throttled', `${subject}: rate limited (HTTP ${status}${code ? `, error ${code}` : ''})`, status, retryAfterMs(response.headers, this.clock.now()));
    }
    if (status >= 500 && isRetryableStatus(status)) throw new TransientError('server', `${subject}: HTTP ${status}${code ? `, error ${code}` : ''}`, status, null);
    if (status < 200 || status >= 300) throw new ProviderError('jasper', status >= 500 ? 'server' : 'bad-request', `${subject}: HTTP ${status}${code ? `, error ${code}` : ''}`, status);
    this.pacer.succeeded();
    return pageOf(text, subject);
  }
}

/** Resolves when `signal` aborts (never, if it does not): a wait that a signal cuts short. */
function stopped(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

class TransientError extends ProviderError {
  constructor(
    kind: ProviderErrorKind,
    message: string,
    status: number | undefined,
    readonly retryAfterMs: number | null,
  ) {
    super('jasper', kind, message, status);
  }
}

/** `JASPER_API_KEY_<ID>`: the id upper-cased, anything not a letter or digit as `_`. */
export function envSuffix(providerId: string): string {
  return providerId.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

/** ISO 8601 with its zone, as Control Center wants it: `2026-11-01T00:00:00Z`. */
function isoWithZone(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function errorCodeOf(text: string): string | null {
  try {
    const code = (JSON.parse(text) as { errorCode?: unknown }).errorCode;
    return typeof code === 'string' && /^\d{1,12}$/.test(code) ? code : null;
  } catch {
    return null;
  }
}

/**
 * A field as staged: a string, or null (absent, another type, or holding a NUL, which PostgreSQL's
 * text cannot take: staged as is, it would fail the whole page). The promotion rejects the record.
 */
const textOrNull = (v: unknown): string | null => (typeof v === 'string' && !v.includes('\u0000') ? v : null);

function pageOf(text: string, subject: string): DevicesPage {
  let body: { devices?: unknown; pageNumber?: unknown; lastPage?: unknown };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    throw new ProviderError('jasper', 'protocol', `${subject}: the answer is not JSON`);
  }
  if (!Array.isArray(body.devices)) throw new ProviderError('jasper', 'protocol', `${subject}: no devices array`);
  if (typeof body.lastPage !== 'boolean') throw new ProviderError('jasper', 'protocol', `${subject}: no lastPage`);
  // A record is taken as given (fields missing or of the wrong type become null): the promotion
  // skips it with the reason, and one bad record never fails a page.
  const devices = body.devices.map((d) => {
    const r = (d ?? {}) as Record<string, unknown>;
    return { iccid: textOrNull(r.iccid), status: textOrNull(r.status), ratePlan: textOrNull(r.ratePlan), communicationPlan: textOrNull(r.communicationPlan) };
  });
  return { devices, pageNumber: typeof body.pageNumber === 'number' ? body.pageNumber : NaN, lastPage: body.lastPage };
}
