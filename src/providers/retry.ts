export interface RetryPolicy {
  /** Retries after the first attempt. */
  readonly maxRetries: number;
  readonly baseDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxRetries: 5, baseDelayMs: 250 };

/**
 * The time a client reads and waits on. Tests pass a clock whose waits and timeouts take no real
 * time, so a bound of a minute can be proven in milliseconds.
 */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
  /** A signal that aborts with a `TimeoutError` after `ms`, unless cleared first: one request's timeout. */
  timeout(ms: number): { readonly signal: AbortSignal; clear(): void };
}

export const REAL_CLOCK: Clock = {
  now: () => Date.now(),
  sleep: (ms) => delay(ms),
  timeout(ms) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new DOMException(`timed out after ${ms} ms`, 'TimeoutError')), ms);
    // The request it bounds keeps the process alive while it matters; the timer alone must not.
    timer.unref();
    return { signal: controller.signal, clear: () => clearTimeout(timer) };
  },
};

/**
 * A clock on which `scale` emulated milliseconds pass per real one: against an emulator running
 * with the same `--time-scale`, a quota-bound pass of an hour is proven in a minute. For tests and
 * benchmarks only (`PORTAL_SYNC_TIME_SCALE`).
 */
export function scaledClock(scale: number, base: Clock = REAL_CLOCK): Clock {
  if (scale === 1) return base;
  const origin = base.now();
  return {
    now: () => origin + (base.now() - origin) * scale,
    sleep: (ms) => base.sleep(ms / scale),
    timeout: (ms) => base.timeout(Math.max(1, Math.round(ms / scale))),
  };
}

/** The server's requested wait, from `x-ms-retry-after-ms`, `retry-after-ms` or `Retry-After` (seconds or a date). */
export function retryAfterMs(headers: Headers, now = Date.now()): number | null {
  for (const name of ['x-ms-retry-after-ms', 'retry-after-ms']) {
    const v = Number(headers.get(name));
    if (headers.has(name) && Number.isFinite(v) && v >= 0) return v;
  }
  const retryAfter = headers.get('retry-after');
  if (retryAfter === null) return null;
  const seconds = Number(retryAfter);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(retryAfter);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

/** HTTP statuses worth another attempt: throttling and the server errors a later attempt may not meet. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 500 || status === 502 || status === 503 || status === 504;
}

/** Exponential backoff with full jitter, used when the server names no wait. */
export function backoffMs(attempt: number, policy: RetryPolicy, random = Math.random): number {
  return Math.round(random() * policy.baseDelayMs * 2 ** attempt);
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
