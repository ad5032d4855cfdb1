/**
 * The Azure source of `metrics push` over a generated hub of 100,000 devices (10% LoRaWAN), 10,000
 * edge devices, 5,000 concentrators and 1,000 gateways: azureFleetSource once, with the real client
 * against the emulator in this process. Prints the wall time, the API calls per operation (five
 * whatever the fleet: four COUNT() queries and the configurations list) and each gauge beside the
 * value counted from the fixture. BENCH_GAUGE_DEVICES and BENCH_GAUGE_EDGE size the fleet.
 */
import { azureFleetSource } from '../src/commands/fleet-azure.js';
import { generateFleet, isDeployment, startIotHubEmulator, type Fixture } from '../src/emulators/iothub/index.js';
import { IotHubClient } from '../src/providers/iothub/client.js';
import { FLEET_GAUGES } from '../src/run/fleet-gauges.js';
import type { Check } from './support.js';

const DEVICES = Number(process.env.BENCH_GAUGE_DEVICES ?? 100_000);
const EDGE = Number(process.env.BENCH_GAUGE_EDGE ?? 10_000);
const EXPECTED_CALLS = 5;

/** The gauges counted by hand from the fixture, to set beside what the hub answered. */
function fromFixture(f: Fixture): Record<string, number> {
  const edge = f.twins.filter((t) => t.capabilities.iotEdge);
  const devices = f.twins.filter((t) => !t.capabilities.iotEdge && t.tags['deviceType'] !== 'LoRa Concentrator');
  const connected = (list: typeof f.twins) => list.filter((t) => t.connectionState === 'Connected').length;
  return {
    iot_hub_portal_device_count: devices.length,
    iot_hub_portal_connected_device_count: connected(devices),
    iot_hub_portal_edge_device_count: edge.length,
    iot_hub_portal_connected_edge_device_count: connected(edge),
    iot_hub_portal_failed_deployment_count: f.configurations.filter(isDeployment).reduce((sum, c) => sum + (c.systemMetrics.results['reportedFailedCount'] ?? 0), 0),
  };
}

const n = (v: number) => v.toLocaleString('en-US');

export async function benchAzureGauges(): Promise<Check[]> {
  const checks: Check[] = [];
  let started = process.hrtime.bigint();
  const fleet = generateFleet({ devices: DEVICES, lora: Math.round(DEVICES / 10), edge: EDGE, concentrators: Math.round(DEVICES / 20), gateways: Math.round(EDGE / 10) });
  const generatedS = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(
    `\nmetrics push, Azure source: ${n(DEVICES)} devices, ${n(EDGE)} edge devices, ${n(fleet.twins.length)} twins, ` +
      `${fleet.configurations.length} configurations (generated in ${generatedS.toFixed(2)} s)`,
  );
  const emulator = await startIotHubEmulator({ fixture: fleet });
  try {
    const client = new IotHubClient({ credentials: emulator.credentials, endpoint: emulator.url });
    started = process.hrtime.bigint();
    const readings = await azureFleetSource(client);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const calls = client.calls.toJSON();
    const perOperation = Object.entries(calls)
      .map(([op, count]) => `${op} ${count}`)
      .join(', ');
    console.log(`  azureFleetSource ${seconds.toFixed(3)} s wall  API calls ${client.calls.total} (expected ${EXPECTED_CALLS}): ${perOperation}  throttled ${client.calls.quota.throttled}`);
    const expected = fromFixture(emulator.fixture());
    const wrong = FLEET_GAUGES.filter(({ name }) => expected[name] !== undefined && readings.values[name] !== expected[name]).map(({ name }) => name);
    checks.push([`metrics azure: the 5 provider gauges of ${n(DEVICES)} devices equal the fleet${wrong.length ? ` (wrong: ${wrong.join(', ')})` : ''}`, wrong.length === 0]);
    checks.push([`metrics azure: ${client.calls.total} API calls for the gauges of ${n(DEVICES)} devices (expected ${EXPECTED_CALLS}), ${seconds.toFixed(2)} s`, client.calls.total === EXPECTED_CALLS]);
    for (const { name } of FLEET_GAUGES) {
      const value = readings.values[name];
      const withheld = readings.withheld.find((w) => w.gauges.includes(name));
      if (value !== undefined) console.log(`  ${name.padEnd(43)} ${n(value).padStart(8)}  (fixture ${n(expected[name]!)})`);
      else console.log(`  ${name.padEnd(43)} ${'-'.padStart(8)}  ${withheld ? `withheld: ${withheld.reason}` : '(not an Azure gauge: the portal database counts it)'}`);
    }
  } finally {
    await emulator.close();
  }
  return checks;
}
