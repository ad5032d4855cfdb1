import type { IotHubConfig } from '../config.js';
import { ApiCallCounter } from '../providers/errors.js';
import type { RemoteEntry } from '../reconcile/index.js';
import type { Inventory, RemoteContext } from '../run/inventory.js';
import { applyConcentratorsPlan, CONCENTRATOR_LIVE_FIELDS, concentratorValidator, loadCurrentConcentrators } from '../store/concentrators.js';
import { CONCENTRATOR_FIELD_SOURCES, mapConcentratorTwin } from './concentrators-mapping.js';
import { iothubClient } from './iothub-source.js';

export const CONCENTRATORS_QUERY =
  "SELECT * FROM devices WHERE capabilities.iotEdge = false AND tags.deviceType = 'LoRa Concentrator'";

export function concentratorsInventory(iothub: IotHubConfig): Inventory {
  const calls = new ApiCallCounter();
  return {
    command: 'concentrators',
    noun: 'concentrator',
    calls,
    policy: { liveFields: CONCENTRATOR_LIVE_FIELDS, secretFields: [] },
    async *remote({ log }: RemoteContext): AsyncIterable<RemoteEntry[]> {
      for await (const page of iothubClient(iothub, calls, log).queryPages(CONCENTRATORS_QUERY)) yield page.map(mapConcentratorTwin);
    },
    validate: concentratorValidator(CONCENTRATOR_FIELD_SOURCES),
    loadCurrent: loadCurrentConcentrators,
    apply: applyConcentratorsPlan,
  };
}
