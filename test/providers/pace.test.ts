import { describe, expect, it } from 'vitest';
import { Pacer, parseRate } from '../../src/providers/pace.js';
import type { Clock } from '../../src/providers/retry.js';

/** A clock that only moves when slept on: the pacer's waits are read, never waited. */
function manualClock() {
  let now = 1_000_000;
  const sleeps: number[] = [];
  const clock: Clock = {
    now: () => now,
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
    timeout: () => ({ signal: new AbortController().signal, clear() {} }),
  };
  return { clock, sleeps, advance: (ms: number) => (now += ms) };
}

describe('parseRate', () => {
  it('reads requests per unit of time', () => {
    expect(parseRate('20/min')).toEqual({ requests: 20, perMs: 60_000 });
    expect(parseRate('5/s')).toEqual({ requests: 5, perMs: 1_000 });
    expect(parseRate('0.5/s')).toEqual({ requests: 0.5, perMs: 1_000 });
    for (const bad of ['20', '0/min', '20/day', 'fast', '-1/s']) expect(parseRate(bad), bad).toBeNull();
  });
});

describe('Pacer', () => {
  it('spaces requests evenly at 95% of the rate asked for (a margin for network jitter)', async () => {
    const { clock, sleeps } = manualClock();
    const pacer = new Pacer(parseRate('19/min'), clock);
    for (let i = 0; i < 4; i++) await pacer.acquire();
    expect(sleeps.map(Math.round)).toEqual([3_324, 3_324, 3_324]);
  });

  it('queues requests asked for together (a prefetched page) instead of sending them at once', async () => {
    // All three asked at the same instant (a clock that does not move while they wait).
    const frozen: Clock = { now: () => 5_000, sleep: async () => undefined, timeout: manualClock().clock.timeout };
    const pacer = new Pacer(parseRate('0.95/s'), frozen);
    const waits = await Promise.all([pacer.acquire(), pacer.acquire(), pacer.acquire()]);
    expect(waits.map(Math.round)).toEqual([0, 1_108, 2_216]);
  });

  it('cuts the rate once for a burst: 429s to requests sent before the cut or within a second after it', async () => {
    const { clock, advance } = manualClock();
    const pacer = new Pacer(parseRate('100/s'), clock);
    const start = clock.now();
    const gap = pacer.currentGapMs!;
    // Eight requests in flight together, all refused: one cut.
    for (let i = 0; i < 8; i++) pacer.throttled(start);
    expect(pacer.currentGapMs).toBeCloseTo(2 * gap, 6);
    // Sent 999 ms after the cut: the window the burst filled, not the new rate. Still one cut.
    advance(999);
    pacer.throttled(clock.now());
    expect(pacer.currentGapMs).toBeCloseTo(2 * gap, 6);
    // Sent a second after the cut: a 429 to the new rate, which halves it again.
    advance(1);
    pacer.throttled(clock.now());
    expect(pacer.currentGapMs).toBeCloseTo(4 * gap, 6);
    // Without the send time (IoT Hub's serial pages), every 429 cuts, as before.
    pacer.throttled();
    expect(pacer.currentGapMs).toBeCloseTo(8 * gap, 6);
  });

  it('halves the rate on a 429 and creeps back up on success, never past the rate asked for', async () => {
    const { clock } = manualClock();
    const pacer = new Pacer(parseRate('9.5/s'), clock);
    expect(pacer.currentGapMs).toBeCloseTo(110.8, 1);
    pacer.throttled();
    expect(pacer.currentGapMs).toBeCloseTo(221.6, 1);
    pacer.throttled();
    expect(pacer.currentGapMs).toBeCloseTo(443.2, 1);
    const gaps: number[] = [];
    for (let i = 0; i < 40; i++) {
      pacer.succeeded();
      gaps.push(pacer.currentGapMs!);
    }
    for (let i = 1; i < gaps.length; i++) expect(gaps[i]!).toBeLessThanOrEqual(gaps[i - 1]!);
    expect(gaps.at(-1)).toBeCloseTo(110.8, 1);
  });

  it('without a rate, sends at once until the first 429, then halves the rate it was going at', async () => {
    const { clock, sleeps, advance } = manualClock();
    const pacer = new Pacer(null, clock);
    for (let i = 0; i < 5; i++) {
      await pacer.acquire();
      advance(50);
    }
    expect(sleeps).toEqual([]);
    pacer.throttled();
    expect(pacer.currentGapMs).toBe(100);
    await pacer.acquire();
    expect(sleeps.length).toBe(1);
  });

  describe('with a metering window (AWS: each API per second)', () => {
    const WINDOW = { windowMs: 1_000 };

    /** `n` successes `everyMs` apart, each after its wait. */
    function succeed(pacer: Pacer, advance: (ms: number) => void, n: number, everyMs: number) {
      for (let i = 0; i < n; i++) {
        advance(everyMs);
        pacer.succeeded();
      }
    }

    it('a 429 sets the rate to what the window accepted, less the margin, and waits for the window to free', async () => {
      const { clock, sleeps, advance } = manualClock();
      const pacer = new Pacer(null, clock, WINDOW);
      const start = clock.now();
      // 100 accepted in half a second, unpaced: the window of the provider is full.
      succeed(pacer, advance, 100, 5);
      pacer.throttled(clock.now());
      expect(pacer.currentGapMs).toBeCloseTo(1_000 / (100 * 0.95), 6);
      // The oldest success (start + 5) ages out of the window at start + 1005: nothing is sent before.
      await pacer.acquire();
      expect(clock.now()).toBe(start + 1_005);
      expect(sleeps).toEqual([505]);
    });

    it('counts only the successes of the last window', () => {
      const { clock, advance } = manualClock();
      const pacer = new Pacer(null, clock, WINDOW);
      succeed(pacer, advance, 300, 1);
      advance(2_000);
      succeed(pacer, advance, 40, 10);
      pacer.throttled(clock.now());
      expect(pacer.currentGapMs).toBeCloseTo(1_000 / (40 * 0.95), 6);
    });

    it('probes 2% faster for each window of successes after a cut, never past the rate asked for', () => {
      const { clock, advance } = manualClock();
      const unasked = new Pacer(null, clock, WINDOW);
      succeed(unasked, advance, 200, 2);
      unasked.throttled(clock.now());
      const cut = unasked.currentGapMs!;
      // A window's worth of successes at the new rate: 190.
      succeed(unasked, advance, 190, cut);
      expect(unasked.currentGapMs).toBeCloseTo(cut / 1.02, 6);

      const asked = new Pacer(parseRate('100/s'), clock, WINDOW);
      // Others take half of the quota: 50 accepted in the window.
      succeed(asked, advance, 50, 20);
      asked.throttled(clock.now());
      expect(asked.currentGapMs).toBeCloseTo(1_000 / (50 * 0.95), 6);
      succeed(asked, advance, 5_000, 11);
      // Never past 100/s less the margin.
      expect(asked.currentGapMs).toBeCloseTo(1_000 / (100 * 0.95), 6);
    });

    it('halves, as without a window, when nothing was accepted in the window (the quota taken by others)', () => {
      const { clock, advance } = manualClock();
      const pacer = new Pacer(parseRate('50/s'), clock, WINDOW);
      const gap = pacer.currentGapMs!;
      advance(5_000);
      pacer.throttled(clock.now());
      expect(pacer.currentGapMs).toBeCloseTo(2 * gap, 6);
    });
  });
});
