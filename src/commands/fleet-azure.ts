/**
 * The Azure IoT Hub source of `metrics push`: the fleet gauges the hub can tell (INVENTORIES.md,
 * Portal metrics), each measured on its own, so that a request that fails withholds its gauge alone.
 *
 * Five requests per run, whatever the size of the fleet (retries aside): four `SELECT COUNT()`
 * queries, one page each, and one `GET /configurations`, which is not paged. A query is what an S1
 * hub meters hardest (20 a minute per unit, shared with the portal's own UI), so nothing here lists
 * twins to count them. The counts use the very filters of the `devices` and `edge` passes, so a
 * gauge and the table that pass fills never disagree on what a device is. Concentrators are not
 * measured here: they come from the portal database.
 */
import type { IotHubClient } from '../providers/iothub/client.js';
import { isEdgeDeployment, type IotHubConfiguration } from '../providers/iothub/configurations.js';
import { measureEach, type FleetGauge, type FleetReadings, type Measurement } from '../run/fleet-gauges.js';
import { DEVICES_FILTER } from './devices.js';
import { EDGE_FILTER } from './edge.js';

/** A sync filter narrowed to the twins connected now. */
export function connectedOnly(filter: string): string {
  return `(${filter}) AND connectionState = 'Connected'`;
}

/**
 * Failed deployments as the portal counted them: the devices reporting a failed deployment
 * (`systemMetrics.results.reportedFailedCount`), summed over the configurations that carry module
 * content (IoT Edge deployments, layered ones included). Device and module configurations have no
 * such metric and are left out. A deployment whose metrics the hub has not computed yet (no
 * `reportedFailedCount`: it evaluates them at creation and then every five minutes) has no device
 * reporting a failure yet, and adds nothing; a value that is not a count fails the measurement.
 */
export function failedDeploymentCount(configurations: readonly IotHubConfiguration[]): number {
  let sum = 0;
  for (const c of configurations) {
    if (!isEdgeDeployment(c)) continue;
    const failed = c.systemMetrics.results['reportedFailedCount'] ?? 0;
    if (!Number.isSafeInteger(failed) || failed < 0) throw new Error(`deployment ${c.id} reports reportedFailedCount ${failed}, which is not a count of devices`);
    sum += failed;
  }
  return sum;
}

function counted(client: IotHubClient, gauge: FleetGauge, filter: string): Measurement {
  return { gauges: [gauge], read: async () => ({ [gauge]: await client.count(filter) }) };
}

/** The five measurements, in the order they are made; each one request (see the file comment). */
export function azureMeasurements(client: IotHubClient): Measurement[] {
  return [
    counted(client, 'iot_hub_portal_device_count', DEVICES_FILTER),
    counted(client, 'iot_hub_portal_connected_device_count', connectedOnly(DEVICES_FILTER)),
    counted(client, 'iot_hub_portal_edge_device_count', EDGE_FILTER),
    counted(client, 'iot_hub_portal_connected_edge_device_count', connectedOnly(EDGE_FILTER)),
    {
      gauges: ['iot_hub_portal_failed_deployment_count'],
      read: async () => ({ iot_hub_portal_failed_deployment_count: failedDeploymentCount(await client.listConfigurations()) }),
    },
  ];
}

/** What the hub tells of the fleet: five gauges, or the reason each one is withheld. */
export function azureFleetSource(client: IotHubClient): Promise<FleetReadings> {
  return measureEach(azureMeasurements(client));
}
