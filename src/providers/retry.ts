export interface RetryPolicy {
  /** Retries after the first attempt. */
  readonly maxRetries: number;
  /** Total time one request may spend waiting between attempts. */
  readonly maxWaitMs: number;
  readonly baseDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxRetries: 5, maxWaitMs: 60_000, baseDelayMs: 250 };

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

/** Exponential backoff with full jitter, used when the server names no wait. */
export function backoffMs(attempt: number, policy: RetryPolicy, random = Math.random): number {
  return Math.round(random() * policy.baseDelayMs * 2 ** attempt);
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
