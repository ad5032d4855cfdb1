import { describe, expect, it } from 'vitest';
import { progressLine } from '../../src/run/progress.js';

describe('progressLine', () => {
  it('says the pages left and the expected finish at the current pace, from the portal row count', () => {
    const now = Date.parse('2026-11-23T10:00:00Z');
    // 200 pages of 100 read in 10 minutes, 100,000 rows in the portal: 800 pages left, 40 more minutes.
    expect(progressLine('devices', 20_000, 200, 100_000, 600_000, now)).toBe(
      "devices: 20,000 records, 200 pages, about 800 left (from the portal's 100,000 rows), done about 10:40:00 UTC",
    );
  });

  it('says only what it knows on a first pass or past the portal count', () => {
    expect(progressLine('devices', 100, 1, 0, 1000)).toBe('devices: 100 records, 1 page');
    expect(progressLine('edge', 5_000, 50, 4_000, 1000)).toBe('edge: 5,000 records, 50 pages');
    // An empty page from a hub that lost everything: no estimate, and no Infinity in a Date.
    expect(progressLine('devices', 0, 1, 12, 1000)).toBe('devices: 0 records, 1 page');
  });
});
