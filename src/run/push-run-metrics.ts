import type { Logger } from './log.js';
import type { RunMetrics } from './metrics.js';

/**
 * Pushes a run's metrics (run/metrics.ts, loaded only now: prom-client is for runs that push).
 * A push that fails is a warning: the run itself is done, and its exit code says how it went.
 */
export async function pushRunMetricsOrWarn(url: string, metrics: RunMetrics, log: Pick<Logger, 'warn'>, what = 'metrics'): Promise<void> {
  try {
    const { pushRunMetrics } = await import('./metrics.js');
    await pushRunMetrics(url, metrics);
  } catch (error) {
    log.warn(`${what} not pushed: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** What every run reports of itself, as its metrics carry it. */
interface RunHead {
  readonly command: string;
  readonly status: RunMetrics['status'] | 'locked';
  readonly startedAt: Date;
  readonly finishedAt: Date;
}

/** The head of a run's metrics: a run that found the lock held did not do its work, so it counts as failed. */
export function runMetricsHead(run: RunHead): Pick<RunMetrics, 'command' | 'status' | 'startedAt' | 'finishedAt'> {
  return { command: run.command, status: run.status === 'locked' ? 'failed' : run.status, startedAt: run.startedAt, finishedAt: run.finishedAt };
}
