import { readFileSync } from 'node:fs';

/**
 * This process's peak resident set size, in bytes: on Linux, `VmHWM` of /proc/self/status.
 *
 * Why not `process.resourceUsage().maxRSS` alone: Linux keeps getrusage's maximum across exec, and
 * a child starts as a copy of its parent, so a pass started by a big process (the benchmarks, whose
 * emulators hold whole fleets) reported its parent's size at the fork, not its own. `VmHWM` is the
 * high-water mark of this program's own memory. Elsewhere, maxRSS is what there is.
 */
export function peakRssBytes(): number {
  try {
    const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (hwm) return Number(hwm[1]) * 1024;
  } catch {
    // not Linux: no /proc
  }
  return process.resourceUsage().maxRSS * 1024;
}
