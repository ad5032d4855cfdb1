/**
 * The peak RSS a run reports is its own, even when a big process started it (the benchmarks'
 * emulators hold whole fleets): Linux keeps getrusage's maximum across exec, so maxRSS alone gave
 * the parent's size at the fork.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { peakRssBytes } from '../../src/run/peak-rss.js';

const MB = 1024 * 1024;

describe('peakRssBytes', () => {
  it('is at least what this process holds now', () => {
    expect(peakRssBytes()).toBeGreaterThanOrEqual(process.memoryUsage().rss - MB);
  });

  it.runIf(process.platform === 'linux')("reports a child's own peak, not the size of the big parent that started it", () => {
    // This process, 200 MB bigger, starts a small one.
    const ballast = Array.from({ length: 200 }, () => Buffer.alloc(MB, 1));
    const parentRss = process.memoryUsage().rss;
    const module = new URL('../../dist/src/run/peak-rss.js', import.meta.url).href;
    const script = `import(${JSON.stringify(module)}).then((m) => console.log(JSON.stringify({ own: m.peakRssBytes(), maxRSS: process.resourceUsage().maxRSS * 1024 })))`;
    const child = JSON.parse(execFileSync(process.execPath, ['-e', script]).toString()) as { own: number; maxRSS: number };
    expect(ballast.length).toBe(200);
    // getrusage alone reports about the parent's size; the child itself holds well under 100 MB.
    expect(child.maxRSS).toBeGreaterThan(parentRss - 100 * MB);
    expect(child.own).toBeLessThan(100 * MB);
  });
});
