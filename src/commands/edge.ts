import type { IotHubConfig } from '../config.js';
import { ApiCallCounter } from '../providers/errors.js';
import type { RemoteEntry } from '../reconcile/index.js';
import type { Inventory, RemoteContext } from '../run/inventory.js';
import { applyEdgeDevicesPlan, EDGE_LIVE_FIELDS, edgeDeviceValidator, loadCurrentEdgeDevices } from '../store/edge.js';
import { loadEdgeDeviceModelIds } from '../store/models.js';
import { addModuleTwin, EDGE_AGENT, EDGE_FIELD_SOURCES, EDGE_HUB, mapEdgeTwin, type ModuleSummary } from './edge-mapping.js';
import { iothubClient } from './iothub-source.js';

/** Edge devices; the filter on its own is what `metrics push` counts. */
export const EDGE_FILTER = 'capabilities.iotEdge = true';
export const EDGE_QUERY = `SELECT * FROM devices WHERE ${EDGE_FILTER}`;
/** Every edge device's agent and hub module twins in one paged query, never two queries per device. */
export const EDGE_MODULES_QUERY = `SELECT * FROM devices.modules WHERE moduleId IN ['${EDGE_AGENT}', '${EDGE_HUB}']`;

export function edgeInventory(iothub: IotHubConfig): Inventory {
  const calls = new ApiCallCounter();
  return {
    command: 'edge',
    noun: 'edge device',
    calls,
    policy: { liveFields: EDGE_LIVE_FIELDS, secretFields: [] },
    async *remote({ db, log, markIncomplete }: RemoteContext): AsyncIterable<RemoteEntry[]> {
      const models = await loadEdgeDeviceModelIds(db);
      const client = iothubClient(iothub, calls, log);
      // Module twins first, folded into a small summary per device; then the device twins stream
      // through the planner page by page.
      const summaries = new Map<string, ModuleSummary>();
      let modulesIncomplete: string | null = null;
      try {
        for await (const page of client.queryPages(EDGE_MODULES_QUERY)) for (const twin of page) addModuleTwin(summaries, twin);
      } catch (error) {
        modulesIncomplete = error instanceof Error ? error.message : String(error);
        markIncomplete(`module twins: ${modulesIncomplete}`);
      }
      for await (const page of client.queryPages(EDGE_QUERY)) {
        yield page.map((twin) => mapEdgeTwin(twin, models, summaries.get((twin as { deviceId?: string })?.deviceId ?? ''), modulesIncomplete));
      }
    },
    validate: edgeDeviceValidator(EDGE_FIELD_SOURCES),
    loadCurrent: loadCurrentEdgeDevices,
    apply: applyEdgeDevicesPlan,
  };
}
