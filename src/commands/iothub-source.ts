import type { IotHubConfig } from '../config.js';
import type { ApiCallCounter } from '../providers/errors.js';
import { IotHubClient } from '../providers/iothub/client.js';
import { DEFAULT_RETRY } from '../providers/retry.js';
import type { Logger } from '../run/log.js';

/** The IoT Hub client every Azure inventory uses, counting its calls into the pass's counter. */
export function iothubClient(iothub: IotHubConfig, calls: ApiCallCounter, log: Logger): IotHubClient {
  return new IotHubClient({
    credentials: iothub.credentials,
    endpoint: iothub.endpoint,
    pageSize: iothub.pageSize,
    retry: { ...DEFAULT_RETRY, maxRetries: iothub.maxRetries },
    requestTimeoutMs: iothub.requestTimeoutMs,
    pageBudgetMs: iothub.pageBudgetMs,
    calls,
    onRetry: ({ attempt, waitMs, reason }) => log.warn(`${reason}; retry ${attempt} in ${waitMs} ms`),
  });
}
