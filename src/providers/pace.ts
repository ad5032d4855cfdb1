import type { Clock } from './retry.js';

/** Requests a pass may make per unit of time, as `--rate 20/min` says it. */
export interface Rate {
  readonly requests: number;
  readonly perMs: number;
}

const UNIT_MS: Record<string, number> = { s: 1_000, sec: 1_000, min: 60_000, h: 3_600_000 };

/** `20/min`, `5/s`, `1000/h`; null for anything else. */
export function parseRate(text: string): Rate | null {
  const m = /^(\d+(?:\.\d+)?)\/(s|sec|min|h)$/.exec(text.trim());
  if (!m) return null;
  const requests = Number(m[1]);
  return requests > 0 ? { requests, perMs: UNIT_MS[m[2]!]! } : null;
}

/**
 * The share of the asked rate actually used: requests reach the provider with the network's jitter,
 * and a hub counting a strict per-minute window throttles the one that arrives early. 5% below the
 * quota absorbs that, so `--rate` set to the quota is never throttled.
 */
const RATE_MARGIN = 0.95;

/** How many past requests the first throttle looks back on to know the rate it halves. */
const OBSERVED = 10;
/** After a cut, how long the 429s of requests sent meanwhile are taken as answers to the old rate. */
const CUT_HOLD_MS = 1_000;
/** Successes that bring a halved rate back up to where it was (additive increase). */
const RECOVERY_STEPS = 10;
/** With a metering window: how much faster each window's worth of successes lets the pacer go (probing). */
const PROBE_PER_WINDOW = 0.02;

export interface PacerOptions {
  /**
   * The provider's metering window, when it meters each API over a fixed span (AWS: per second).
   * Then a 429 sets the rate to what the provider accepted over the last window (less the margin),
   * and the pacer probes above it slowly, 2% a window, for quota others stopped using.
   * Without (IoT Hub's per-minute quotas, met by serial requests), a 429 halves the rate.
   */
  readonly windowMs?: number;
}

/**
 * Paces the requests of one pass and slows down when the provider throttles: a token bucket of one
 * (requests evenly spaced at the rate asked for, so the hub's quota left to others stays free),
 * cut on a 429 and crept back up on success (AIMD). Without a rate it does not pace at all until
 * the first 429, which cuts the rate it was actually going at.
 *
 * Why measure with a window: halving and creeping back to the rate that was throttled sent a
 * pass at 8 requests in flight straight back over AWS's per-second rate (and, unpaced again,
 * far over it) every two seconds; each burst of 429s held requests in their backoff and, now and
 * then, failed a thing past --max-retries. What AWS accepted over its window is its rate.
 */
export class Pacer {
  private gapMs: number | null;
  private readonly minGapMs: number;
  private stepPerMs = 0;
  private nextAt = 0;
  private readonly sent: number[] = [];
  /** When the rate was last cut: a 429 to a request sent before then was answered to the old rate. */
  private cutAt = -Infinity;
  /** With a metering window: when each success of the last window came back, oldest first from `acceptedFrom`. */
  private readonly accepted: number[] = [];
  private acceptedFrom = 0;
  private readonly windowMs: number | undefined;

  constructor(
    rate: Rate | null,
    private readonly clock: Clock,
    options: PacerOptions = {},
  ) {
    this.gapMs = rate ? rate.perMs / (rate.requests * RATE_MARGIN) : null;
    this.minGapMs = this.gapMs ?? 0;
    this.windowMs = options.windowMs;
  }

  /** Waits for this request's turn; returns how long it waited (time spent on quota). */
  async acquire(): Promise<number> {
    const now = this.clock.now();
    this.sent.push(now);
    if (this.sent.length > OBSERVED) this.sent.shift();
    if (this.gapMs === null) return 0;
    // Reserve the slot before waiting: requests in flight together (a prefetched page) queue up.
    const at = Math.max(now, this.nextAt);
    this.nextAt = at + this.gapMs;
    const wait = at - now;
    if (wait > 0) await this.clock.sleep(wait);
    return wait;
  }

  /**
   * A 429: with a metering window, the rate becomes what the provider accepted over the last window
   * (less the margin) and nothing is sent until that window frees; without one (or with nothing
   * accepted in it), the rate halves (the gap doubles), from the rate actually sent at when not
   * paced yet. `sentAt` (when the throttled request was sent) lets one cut answer a whole burst: requests in
   * flight together, and those sent within a second after the cut, meet a window the burst before
   * it filled (AWS meters each API per second), so their 429s say nothing of the new rate. Halving
   * once per 429 instead took a pass with 8 requests in flight from 350 a second to a few.
   */
  throttled(sentAt?: number): void {
    if (sentAt !== undefined && sentAt < this.cutAt + CUT_HOLD_MS) return;
    const now = this.clock.now();
    this.cutAt = now;
    const accepted = this.acceptedInWindow(now);
    if (this.windowMs !== undefined && accepted > 0) {
      this.gapMs = Math.max(this.windowMs / (accepted * RATE_MARGIN), this.minGapMs);
      this.stepPerMs = PROBE_PER_WINDOW / this.windowMs;
    } else {
      const current = this.gapMs ?? this.observedGapMs();
      this.gapMs = Math.max(current, 1) * 2;
      // Back to the former rate over RECOVERY_STEPS successes, in equal steps of rate.
      this.stepPerMs = 1 / current / RECOVERY_STEPS;
    }
    // The window the 429 came from is full until its oldest success ages out: sending before then
    // would only meet more 429s (and burn the retries of whoever sent them).
    const windowFrees = accepted > 0 ? this.accepted[this.acceptedFrom]! + this.windowMs! : 0;
    this.nextAt = Math.max(this.nextAt, now + this.gapMs, windowFrees);
  }

  /** A success: creep the rate back up, never past the rate asked for. */
  succeeded(): void {
    if (this.windowMs !== undefined) {
      const now = this.clock.now();
      this.accepted.push(now);
      this.acceptedInWindow(now);
    }
    if (this.gapMs === null || this.stepPerMs === 0) return;
    const gap = 1 / (1 / this.gapMs + this.stepPerMs);
    this.gapMs = Math.max(gap, this.minGapMs);
    // Unpaced runs pace from their first 429 on, but never slower than they need to.
    if (this.minGapMs === 0 && this.gapMs < 1) this.gapMs = null;
  }

  /** The gap between requests now (ms); null when not paced. */
  get currentGapMs(): number | null {
    return this.gapMs;
  }

  /** Successes of the last metering window (none without a window); older ones are forgotten. */
  private acceptedInWindow(now: number): number {
    if (this.windowMs === undefined) return 0;
    while (this.acceptedFrom < this.accepted.length && this.accepted[this.acceptedFrom]! <= now - this.windowMs) this.acceptedFrom++;
    // Drop the forgotten head now and then, not on every call: a shift per success is quadratic.
    if (this.acceptedFrom > 1_024 && this.acceptedFrom * 2 > this.accepted.length) {
      this.accepted.splice(0, this.acceptedFrom);
      this.acceptedFrom = 0;
    }
    return this.accepted.length - this.acceptedFrom;
  }

  private observedGapMs(): number {
    // Too few requests to tell: a short gap, which the next 429s double as often as needed.
    if (this.sent.length < 2) return 100;
    return (this.sent[this.sent.length - 1]! - this.sent[0]!) / (this.sent.length - 1);
  }
}
