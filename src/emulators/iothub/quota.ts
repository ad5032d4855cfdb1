/**
 * The hub's operation throttles, as the emulator enforces them when asked (`quota` option, fixture
 * `quota`, `emulate --quota`).
 *
 * What the real hub does (MicrosoftDocs/azure-docs, articles/iot-hub/iot-hub-devguide-quotas-throttling.md
 * and troubleshoot-error-codes.md; https://learn.microsoft.com/azure/iot-hub/iot-hub-devguide-quotas-throttling):
 * - Queries are throttled at 20/min/unit on Free, S1 and S2 (1,000/min/unit on S3); twin reads at
 *   100/s on S1; "configurations and edge deployments (create, update, list, delete)" at 20/min/unit
 *   on every tier. Throttles "are rate limitations that are applied in minute ranges"; the docs' own
 *   example (bulk registry operations on one S1 unit) says the request past the limit "in the same
 *   minute would be rejected because the limit has been reached".
 * - Past the limit the hub answers HTTP 429 with error 429001 ThrottlingException, and "the client
 *   should back-off and retry". Neither page documents a Retry-After header, and Microsoft's service
 *   SDKs do not read one: they back off on their own schedule (azure-iot-common's RetryPolicy has a
 *   separate "throttled" parameter set). Bodies seen from real hubs carry the hint in the text, e.g.
 *   `{"Message":"ErrorCode:ThrottlingBacklogTimeout;The request has been throttled. Wait 10 seconds
 *   and try again. Operation type: CRUD", ...}` (Azure-Samples/Iot-Telemetry-Simulator#39).
 * - The hub also shapes traffic: a short burst over the limit is queued and served late before the
 *   hub starts answering 429.
 *
 * What the emulator does, and why:
 * - A sliding window per operation class: a request is admitted when fewer than `limit` requests
 *   were admitted during the `window` before it. That is the strict reading of "in the same minute":
 *   a fixed window would let 2×limit through around its boundary, a sliding one never admits more
 *   than `limit` in any window-long stretch, so a client paced to pass here passes any per-minute
 *   accounting the real hub may use.
 * - A refused request leaves no trace: it neither takes a slot nor pushes back the moment one frees.
 *   The docs count admitted operations against the limit ("the limit has been reached"), and a hub
 *   that counted its own refusals would lock out, for good, any client that retries before the
 *   window ends — not what "back off and retry" describes.
 * - 429 with the hub's error body (ErrorCode ThrottlingException) and no Retry-After header; nothing
 *   documents one for this case. (A fixture fault can still send Retry-After when a test wants it.)
 * - No traffic shaping: past the limit the emulator refuses at once. That is stricter than the real
 *   hub, which is what a test of a client's pacing needs.
 */

export const QUOTA_CLASSES = ['queries', 'twinReads', 'configurations'] as const;
export type QuotaClass = (typeof QUOTA_CLASSES)[number];

/** What the client sees in `Operation type:` of a 429 body. */
export const OPERATION_TYPE: Record<QuotaClass, string> = { queries: 'Query', twinReads: 'TwinRead', configurations: 'Configurations' };

/** As written in the fixture or on the command line: class -> rate text such as "20/min". */
export type QuotaSpec = Partial<Record<QuotaClass, string>>;

export interface Rate {
  /** Requests admitted per window. */
  readonly limit: number;
  readonly windowMs: number;
  /** The rate as written, normalized: `20/min`. */
  readonly text: string;
}

export class QuotaError extends Error {
  override name = 'QuotaError';
}

const UNITS: Record<string, number> = { s: 1000, min: 60_000, h: 3_600_000 };
/** A sliding window keeps one timestamp per admitted request; past this the memory is not worth it. */
export const MAX_LIMIT = 1_000_000;

/** `20/min`, `5/s`, `1000/h`: a whole number of requests per second, minute or hour. */
export function parseRate(text: string): Rate {
  const m = /^\s*(\d+)\s*\/\s*(s|min|h)\s*$/.exec(text);
  if (!m) throw new QuotaError(`"${text}" is not a rate like 20/min (requests per s, min or h)`);
  const limit = Number(m[1]);
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw new QuotaError(`"${text}": the count must be between 1 and ${MAX_LIMIT}`);
  return { limit, windowMs: UNITS[m[2]!]!, text: `${limit}/${m[2]}` };
}

function isQuotaClass(name: string): name is QuotaClass {
  return (QUOTA_CLASSES as readonly string[]).includes(name);
}

function unknownClass(name: string): QuotaError {
  return new QuotaError(`unknown quota "${name}" (expected ${QUOTA_CLASSES.slice(0, -1).join(', ')} or ${QUOTA_CLASSES[QUOTA_CLASSES.length - 1]})`);
}

/** `queries=20/min,twinReads=100/s` (the command line's form). */
export function parseQuotaOption(text: string): QuotaSpec {
  const spec: QuotaSpec = {};
  for (const part of text.split(',')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    if (eq < 0) throw new QuotaError(`"${part.trim()}" is not name=rate, e.g. queries=20/min`);
    const name = part.slice(0, eq).trim();
    if (!isQuotaClass(name)) throw unknownClass(name);
    if (spec[name] !== undefined) throw new QuotaError(`quota "${name}" is given twice`);
    spec[name] = parseRate(part.slice(eq + 1)).text;
  }
  if (Object.keys(spec).length === 0) throw new QuotaError('no quota given, e.g. queries=20/min');
  return spec;
}

/** The fixture's form, `{"queries": "20/min"}`; errors name the offending key. */
export function checkQuotaSpec(input: unknown, where: string): QuotaSpec {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) throw new QuotaError(`${where} must be an object like {"queries": "20/min"}`);
  const spec: QuotaSpec = {};
  for (const [name, value] of Object.entries(input)) {
    if (!isQuotaClass(name)) throw new QuotaError(`${where}.${name}: ${unknownClass(name).message}`);
    if (typeof value !== 'string') throw new QuotaError(`${where}.${name} must be a string like "20/min"`);
    try {
      spec[name] = parseRate(value).text;
    } catch (err) {
      throw new QuotaError(`${where}.${name}: ${(err as Error).message}`);
    }
  }
  return spec;
}

/** Admitted-request timestamps in a ring, oldest first: O(1) a request, `limit` numbers of memory. */
export class SlidingWindow {
  private readonly stamps: Float64Array;
  private count = 0;
  private oldest = 0;

  constructor(readonly rate: Rate) {
    this.stamps = new Float64Array(rate.limit);
  }

  /** Admits the request made at `now` (ms) or refuses it, leaving the window as it was. */
  tryTake(now: number): boolean {
    const { limit, windowMs } = this.rate;
    if (this.count < limit) {
      this.stamps[(this.oldest + this.count) % limit] = now;
      this.count++;
      return true;
    }
    if (now - this.stamps[this.oldest]! < windowMs) return false;
    this.stamps[this.oldest] = now;
    this.oldest = (this.oldest + 1) % limit;
    return true;
  }

  /** Requests admitted during the window before `now`. */
  used(now: number): number {
    const { limit, windowMs } = this.rate;
    let n = 0;
    for (let i = this.count - 1; i >= 0; i--) {
      if (now - this.stamps[(this.oldest + i) % limit]! >= windowMs) break;
      n++;
    }
    return n;
  }
}

export interface QuotaState {
  rate: string;
  limit: number;
  windowMs: number;
  used: number;
}

/**
 * One window per configured class, on the emulated clock. Generic over the class names so that
 * every emulator meters its own operations with the same windows (the AWS emulator's are SDK
 * operation names).
 */
export class QuotaMeter<K extends string = QuotaClass> {
  private windows = new Map<K, SlidingWindow>();

  constructor(private readonly now: () => number) {}

  /** Applies a (possibly changed) spec; a class whose rate did not change keeps its window. */
  configure(spec: Partial<Record<K, string>>): void {
    const next = new Map<K, SlidingWindow>();
    for (const [name, text] of Object.entries(spec) as [K, string | undefined][]) {
      if (text === undefined) continue;
      const kept = this.windows.get(name);
      const rate = parseRate(text);
      next.set(name, kept && kept.rate.text === rate.text ? kept : new SlidingWindow(rate));
    }
    this.windows = next;
  }

  /** The class's rate when this request is refused; undefined when it is admitted (or unmetered). */
  take(name: K): Rate | undefined {
    const window = this.windows.get(name);
    if (!window) return undefined;
    return window.tryTake(this.now()) ? undefined : window.rate;
  }

  snapshot(): Partial<Record<K, QuotaState>> {
    const now = this.now();
    const out: Partial<Record<K, QuotaState>> = {};
    for (const [name, w] of this.windows) out[name] = { rate: w.rate.text, limit: w.rate.limit, windowMs: w.rate.windowMs, used: w.used(now) };
    return out;
  }
}
