import type { IotHubConfig } from '../config.js';
import { ApiCallCounter } from '../providers/errors.js';
import type { RemoteEntry } from '../reconcile/index.js';
import type { Inventory, RemoteContext } from '../run/inventory.js';
import {
  applyDevicesPlan,
  DEVICE_LIVE_FIELDS,
  deviceValidator,
  LORAWAN_SECRET_COLUMNS,
  loadCurrentDevices,
} from '../store/devices.js';
import { loadDeviceModels } from '../store/models.js';
import { DEVICE_FIELD_SOURCES, mapDeviceTwin } from './devices-mapping.js';
import { iothubClient } from './iothub-source.js';

/**
 * Standard and LoRaWAN devices: every twin that is neither an edge device nor a LoRa concentrator.
 * The filter on its own is what `metrics push` counts, so the gauge and this pass never disagree.
 */
export const DEVICES_FILTER = "capabilities.iotEdge = false AND (NOT IS_DEFINED(tags.deviceType) OR tags.deviceType != 'LoRa Concentrator')";
export const DEVICES_QUERY = `SELECT * FROM devices WHERE ${DEVICES_FILTER}`;

export function devicesInventory(iothub: IotHubConfig): Inventory {
  const calls = new ApiCallCounter();
  return {
    command: 'devices',
    noun: 'device',
    calls,
    policy: { liveFields: DEVICE_LIVE_FIELDS, secretFields: LORAWAN_SECRET_COLUMNS },
    async *remote({ db, log }: RemoteContext): AsyncIterable<RemoteEntry[]> {
      const models = await loadDeviceModels(db);
      const client = iothubClient(iothub, calls, log);
      for await (const page of client.queryPages(DEVICES_QUERY)) {
        yield page.map((twin) => mapDeviceTwin(twin, models));
      }
    },
    validate: deviceValidator(DEVICE_FIELD_SOURCES),
    loadCurrent: loadCurrentDevices,
    apply: applyDevicesPlan,
  };
}
