import type { IotHubConfig } from '../config.js';
import type { ApiCallCounter } from '../providers/errors.js';
import { IotHubClient } from '../providers/iothub/client.js';
import { Pacer } from '../providers/pace.js';
import { DEFAULT_RETRY, scaledClock } from '../providers/retry.js';
import type { Logger } from '../run/log.js';

/** The IoT Hub client every Azure inventory uses, counting its calls into the pass's counter. */
export function iothubClient(iothub: IotHubConfig, calls: ApiCallCounter, log: Logger): IotHubClient {
  const clock = scaledClock(iothub.timeScale);
  return new IotHubClient({
    credentials: iothub.credentials,
    endpoint: iothub.endpoint,
    pageSize: iothub.pageSize,
    retry: { ...DEFAULT_RETRY, maxRetries: iothub.maxRetries },
    requestTimeoutMs: iothub.requestTimeoutMs,
    pageBudgetMs: iothub.pageBudgetMs,
    calls,
    clock,
    // One pacer per client, and one client per pass: every request of the pass shares the quota.
    pacer: new Pacer(iothub.rate, clock),
    onRetry: ({ attempt, waitMs, reason }) => log.warn(`${reason}; retry ${attempt} in ${waitMs} ms`),
  });
}
