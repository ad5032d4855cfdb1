/**
 * The portal's six fleet gauges (INVENTORIES.md, Portal metrics) and what a source reports of them.
 *
 * Gauges, not counters: the portal exported them as counters that could never go down. A source
 * measures each gauge or withholds it with the reason; a withheld gauge is never pushed as zero, so
 * its last pushed value stays in the Pushgateway.
 */

export const FLEET_GAUGES = [
  { name: 'iot_hub_portal_device_count', help: 'Devices in the fleet (not edge devices, not LoRaWAN concentrators).' },
  { name: 'iot_hub_portal_connected_device_count', help: 'Devices of the fleet connected now.' },
  { name: 'iot_hub_portal_edge_device_count', help: 'Edge devices in the fleet (IoT Edge devices, Greengrass core devices).' },
  { name: 'iot_hub_portal_connected_edge_device_count', help: 'Edge devices of the fleet connected (AWS: HEALTHY) now.' },
  { name: 'iot_hub_portal_failed_deployment_count', help: 'Failed deployments: devices reporting a failed edge deployment (Azure), FAILED latest deployments (AWS).' },
  { name: 'iot_hub_portal_concentrator_count', help: 'LoRaWAN concentrators in the portal database.' },
] as const;

export type FleetGauge = (typeof FLEET_GAUGES)[number]['name'];

/** Why a source has no value for some gauges. */
export interface Withheld {
  readonly gauges: readonly FleetGauge[];
  readonly reason: string;
  /**
   * `failed`: the source could not measure them this time (the run is partial, exit 3).
   * `unavailable`: this source cannot measure them at all (e.g. connectivity without AWS fleet
   * indexing); said once, not a failure of the run.
   */
  readonly kind: 'failed' | 'unavailable';
}

/** What one source measured: a value for each gauge it could measure, and why the others are missing. */
export interface FleetReadings {
  readonly values: Partial<Record<FleetGauge, number>>;
  readonly withheld: readonly Withheld[];
}

/** One independent measurement of a source: some gauges read together, failing together. */
export interface Measurement {
  readonly gauges: readonly FleetGauge[];
  /** The values of `gauges` (all of them), or a throw whose message says why, free of secrets. */
  readonly read: () => Promise<Partial<Record<FleetGauge, number>>>;
}

/**
 * Runs the measurements one after the other (each costs quota: no burst) and gathers their values.
 * One that throws withholds its own gauges with the error's message; the others still count.
 */
export async function measureEach(measurements: readonly Measurement[]): Promise<FleetReadings> {
  const values: Partial<Record<FleetGauge, number>> = {};
  const withheld: Withheld[] = [];
  for (const m of measurements) {
    try {
      const read = await m.read();
      const missing = m.gauges.filter((g) => !Number.isFinite(read[g]));
      if (missing.length > 0) throw new Error(`no value measured for ${missing.join(', ')}`);
      for (const g of m.gauges) values[g] = read[g]!;
    } catch (error) {
      withheld.push({ gauges: m.gauges, reason: error instanceof Error ? error.message : String(error), kind: 'failed' });
    }
  }
  return { values, withheld };
}

/** Two sources' readings as one (the provider's gauges and the database's concentrators). */
export function mergeReadings(...parts: readonly FleetReadings[]): FleetReadings {
  return {
    values: Object.assign({}, ...parts.map((p) => p.values)) as Partial<Record<FleetGauge, number>>,
    withheld: parts.flatMap((p) => p.withheld),
  };
}
