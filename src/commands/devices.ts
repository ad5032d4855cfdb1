import type { Knex } from 'knex';
import type { IotHubConfig } from '../config.js';
import { ApiCallCounter } from '../providers/errors.js';
import { IotHubClient } from '../providers/iothub/client.js';
import { DEFAULT_RETRY } from '../providers/retry.js';
import type { RemoteEntry } from '../reconcile/index.js';
import type { Inventory } from '../run/inventory.js';
import type { Logger } from '../run/log.js';
import {
  applyDevicesPlan,
  DEVICE_LIVE_FIELDS,
  LORAWAN_SECRET_COLUMNS,
  loadCurrentDevices,
} from '../store/devices.js';
import { loadDeviceModels } from '../store/models.js';
import { mapDeviceTwin } from './devices-mapping.js';

/** Standard and LoRaWAN devices: every twin that is neither an edge device nor a LoRa concentrator. */
export const DEVICES_QUERY =
  "SELECT * FROM devices WHERE capabilities.iotEdge = false AND (NOT IS_DEFINED(tags.deviceType) OR tags.deviceType != 'LoRa Concentrator')";

export function devicesInventory(iothub: IotHubConfig): Inventory {
  const calls = new ApiCallCounter();
  return {
    command: 'devices',
    noun: 'device',
    calls,
    policy: { liveFields: DEVICE_LIVE_FIELDS, secretFields: LORAWAN_SECRET_COLUMNS },
    async *remote(db: Knex, log: Logger): AsyncIterable<RemoteEntry[]> {
      const models = await loadDeviceModels(db);
      const client = new IotHubClient({
        credentials: iothub.credentials,
        endpoint: iothub.endpoint,
        pageSize: iothub.pageSize,
        retry: { ...DEFAULT_RETRY, maxRetries: iothub.maxRetries },
        calls,
        onRetry: ({ attempt, waitMs, reason }) => log.warn(`${reason}; retry ${attempt} in ${waitMs} ms`),
      });
      for await (const page of client.queryPages(DEVICES_QUERY)) {
        yield page.map((twin) => mapDeviceTwin(twin, models));
      }
    },
    loadCurrent: loadCurrentDevices,
    apply: applyDevicesPlan,
  };
}
