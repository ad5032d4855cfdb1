/**
 * A clock for provider clients on which waits take no real time, and a request the emulator leaves
 * unanswered times out as soon as it is seen to hang, the clock jumping by its whole timeout. Bounds
 * of a minute are proven in milliseconds; a test with a short real timeout fails a client that
 * really waited.
 */
import type { Clock } from '../../src/providers/retry.js';

/**
 * A request still unanswered after this much real time is taken to hang: long enough for a loaded
 * machine to answer a real one, short next to the 30 s a real timeout would take.
 */
const HUNG_AFTER_MS = 1000;

export interface VirtualClock extends Clock {
  /** Every wait asked for, in order (ms). */
  readonly sleeps: number[];
  /** Every request timeout set, in order (ms). */
  readonly timeouts: number[];
}

export function virtualClock(): VirtualClock {
  let skipped = 0;
  const sleeps: number[] = [];
  const timeouts: number[] = [];
  return {
    sleeps,
    timeouts,
    now: () => Date.now() + skipped,
    async sleep(ms) {
      sleeps.push(ms);
      skipped += ms;
    },
    timeout(ms) {
      timeouts.push(ms);
      const controller = new AbortController();
      const started = Date.now();
      const timer = setTimeout(() => {
        // The rest of the timeout passes at once: on this clock the attempt lasted exactly `ms`.
        skipped += Math.max(0, ms - (Date.now() - started));
        controller.abort(new DOMException('timed out', 'TimeoutError'));
      }, Math.min(ms, HUNG_AFTER_MS));
      return { signal: controller.signal, clear: () => clearTimeout(timer) };
    },
  };
}
