import type { Knex } from 'knex';
import { measureEach, type FleetReadings, type Measurement } from '../run/fleet-gauges.js';
import { storedConcentrators, storedFleet, type FleetProvider } from '../store/fleet-counts.js';

/** The concentrator gauge, from the portal database whatever the source of the others (INVENTORIES.md). */
export const concentratorMeasurement = (db: Knex): Measurement => ({
  gauges: ['iot_hub_portal_concentrator_count'],
  read: async () => ({ iot_hub_portal_concentrator_count: await storedConcentrators(db) }),
});

/**
 * `--source db`: every gauge the portal database can answer, with no API call (for hubs whose
 * query quota is precious). Connection states are as fresh as the last `devices`/`edge`/`things`
 * pass. Failed deployments are not held in the database: that gauge is withheld as unavailable.
 */
export async function dbFleetReadings(db: Knex, provider: FleetProvider): Promise<FleetReadings> {
  const readings = await measureEach([
    {
      gauges: ['iot_hub_portal_device_count', 'iot_hub_portal_connected_device_count', 'iot_hub_portal_edge_device_count', 'iot_hub_portal_connected_edge_device_count'],
      read: async () => {
        const fleet = await storedFleet(db, provider);
        return {
          iot_hub_portal_device_count: fleet.devices,
          iot_hub_portal_connected_device_count: fleet.connectedDevices,
          iot_hub_portal_edge_device_count: fleet.edgeDevices,
          iot_hub_portal_connected_edge_device_count: fleet.connectedEdgeDevices,
        };
      },
    },
    concentratorMeasurement(db),
  ]);
  return {
    values: readings.values,
    withheld: [
      ...readings.withheld,
      {
        gauges: ['iot_hub_portal_failed_deployment_count'],
        reason: 'the portal database holds no deployment results: measure it with --source provider',
        kind: 'unavailable',
      },
    ],
  };
}
