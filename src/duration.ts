/** Durations as people write them on a command line (`500ms`, `30s`, `2m`, `1h`, `30d`), and back. */

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export class DurationError extends Error {}

/**
 * Milliseconds of `500ms`, `30s`, `1.5s`, `2m`, `1h` or `30d` (a day is 24 h). A bare number is refused: `30` could be
 * seconds or milliseconds, and guessing wrong is off by a factor of a thousand.
 */
export function parseDuration(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/i.exec(text);
  if (!match) throw new DurationError(`"${text}" is not a duration: write a number and a unit, like 500ms, 30s or 2m`);
  const ms = Math.round(Number(match[1]) * UNIT_MS[match[2]!.toLowerCase()]!);
  if (!Number.isSafeInteger(ms)) throw new DurationError(`"${text}" is too long a duration`);
  return ms;
}

/** `500 ms`, `1 s`, `1.5 s`, `60 s`: how an error message says how long something took. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  return `${Number.isInteger(seconds) ? seconds : seconds.toFixed(seconds < 10 ? 2 : 1).replace(/\.?0+$/, '')} s`;
}
