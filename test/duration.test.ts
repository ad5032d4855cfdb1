import { describe, expect, it } from 'vitest';
import { DurationError, formatDuration, parseDuration } from '../src/duration.js';

describe('durations', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['1.5s', 1500],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['30d', 2_592_000_000],
    ['1.5 D', 129_600_000],
    ['0s', 0],
    [' 45 S ', 45_000],
    ['0.25ms', 0],
  ])('reads %j as %i ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['30', '', 's', '-1s', '1.s', '1 w', '1 day', '1e3ms', 'soon', '1s2'])('refuses %j', (text) => {
    expect(() => parseDuration(text)).toThrow(DurationError);
    expect(() => parseDuration(text)).toThrow(/is not a duration: write a number and a unit, like 500ms, 30s or 2m/);
  });

  it('says how long in the unit people read', () => {
    expect(formatDuration(200)).toBe('200 ms');
    expect(formatDuration(1000)).toBe('1 s');
    expect(formatDuration(1500)).toBe('1.5 s');
    expect(formatDuration(4990)).toBe('4.99 s');
    expect(formatDuration(29_750)).toBe('29.8 s');
    expect(formatDuration(60_000)).toBe('60 s');
  });
});
