/** Why a provider call failed, in the terms the exit code needs. */
export type ProviderErrorKind = 'unreachable' | 'auth' | 'throttled' | 'server' | 'timeout' | 'bad-request' | 'protocol';

export class ProviderError extends Error {
  constructor(
    readonly provider: string,
    readonly kind: ProviderErrorKind,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'ProviderError';
  }
}

/** Counts calls per operation: a cloud API's rate limit, not CPU, bounds a pass, so this is what we report. */
export class ApiCallCounter {
  private readonly counts = new Map<string, number>();
  /** Requests the provider answered with a throttle (429), and the time spent waiting on its quota (pacing included). */
  readonly quota = { throttled: 0, waitMs: 0 };
  add(operation: string, n = 1): void {
    this.counts.set(operation, (this.counts.get(operation) ?? 0) + n);
  }
  get total(): number {
    let sum = 0;
    for (const n of this.counts.values()) sum += n;
    return sum;
  }
  toJSON(): Record<string, number> {
    return Object.fromEntries([...this.counts.entries()].sort(([a], [b]) => (a < b ? -1 : 1)));
  }
}

/**
 * The system error code of a failed connection (`ECONNREFUSED`, `ENOTFOUND`...), wherever the HTTP
 * stack put it: on the error, on its cause (fetch), or on the first of an AggregateError's errors.
 */
export function networkErrorCode(error: unknown): string | null {
  const e = error as { code?: unknown; cause?: { code?: unknown; errors?: Array<{ code?: unknown }> }; errors?: Array<{ code?: unknown }> } | null;
  const code = e?.cause?.code ?? e?.cause?.errors?.[0]?.code ?? e?.code ?? e?.errors?.[0]?.code;
  return typeof code === 'string' ? code : null;
}
