/**
 * Emulated time. With a time scale of n, n emulated milliseconds pass per real millisecond, so a
 * quota window of one emulated minute lasts 60/n real seconds (`--time-scale 60`: one second) and a
 * quota-bound pass that takes minutes against a real hub takes seconds against the emulator.
 *
 * Only the quota windows run on emulated time. SAS expiry stays on the wall clock (clients sign
 * tokens with real time), and fixture delays (`delayMs`, `retryAfterMs`) stay real milliseconds,
 * because they model the network and the client's timers, not the hub's accounting.
 */

/** Milliseconds on a monotonic real clock; injectable so that tests advance time without waiting. */
export type RealClock = () => number;

export const PERFORMANCE_CLOCK: RealClock = () => performance.now();

export const MAX_TIME_SCALE = 1_000_000;

export class TimeScaleError extends Error {
  override name = 'TimeScaleError';
}

export function checkTimeScale(scale: number): number {
  if (!Number.isFinite(scale) || scale <= 0 || scale > MAX_TIME_SCALE) {
    throw new TimeScaleError(`time scale must be a number greater than 0 and at most ${MAX_TIME_SCALE}, got ${String(scale)}`);
  }
  return scale;
}

/** `--time-scale` text: a positive number (`60`, `0.5`, `1e3`). */
export function parseTimeScale(text: string): number {
  const t = text.trim();
  if (!/^(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(t)) throw new TimeScaleError(`time scale must be a positive number, got "${text}"`);
  return checkTimeScale(Number(t));
}

export class EmulatedClock {
  private readonly start: number;

  constructor(
    readonly timeScale: number = 1,
    private readonly real: RealClock = PERFORMANCE_CLOCK,
  ) {
    checkTimeScale(timeScale);
    this.start = real();
  }

  /** Emulated milliseconds since the emulator started. */
  now(): number {
    return (this.real() - this.start) * this.timeScale;
  }
}
