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
