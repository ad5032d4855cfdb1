/**
 * The AWS fleet gauges of `metrics push` over a generated account: 50,000 things (10% Greengrass
 * core devices) across 20 thing types, 75% of the standard things connected in the fleet index,
 * 90% of the core devices HEALTHY, every second group's latest deployment FAILED (generate.ts).
 * awsFleetSource runs once through AwsIot against the emulator in a CHILD process (`portal-sync
 * emulate --generate`), so the wall time is the client's side of the wire; prints it, the API calls
 * per operation (every page of each listing, and two calls per thing type for its edge verdict),
 * each gauge beside the same fleet counted from the generator's output, and the floor AWS's published
 * ListThings rate (10 a second) puts on a real account. BENCH_THINGS sets the fleet size.
 */
import { awsFleetSource } from '../src/commands/fleet-aws.js';
import { resolveAwsConfig } from '../src/config.js';
import { generateAwsFleet, normalizeAwsFixture } from '../src/emulators/aws/index.js';
import { AwsIot } from '../src/providers/aws/client.js';
import { ApiCallCounter } from '../src/providers/errors.js';
import type { FleetGauge } from '../src/run/fleet-gauges.js';
import { emulatorChild, type Check } from './support.js';

const THINGS = Number(process.env.BENCH_THINGS ?? 50_000);
const EDGE = Math.round(THINGS / 10);
const TYPES = 20;
/** AWS IoT's published ListThings rate (emulators/aws/quota.ts): what bounds a real reading. */
const LIST_THINGS_PER_S = 10;

/** The gauges of the generated fleet, counted from the fixture (what the source must find). */
function fixtureGauges(): Record<string, number> {
  const f = normalizeAwsFixture(generateAwsFleet({ things: THINGS, thingTypes: TYPES, edge: EDGE }));
  const edgeTypes = new Set(f.thingTypes.filter((t) => t.tags['iotEdge'] === 'true').map((t) => t.name));
  const standard = f.things.filter((t) => t.type !== undefined && !edgeTypes.has(t.type));
  return {
    iot_hub_portal_device_count: standard.length,
    iot_hub_portal_edge_device_count: f.things.length - standard.length,
    iot_hub_portal_connected_device_count: standard.filter((t) => t.connected).length,
    iot_hub_portal_connected_edge_device_count: f.coreDevices.filter((c) => c.status === 'HEALTHY').length,
    iot_hub_portal_failed_deployment_count: f.deployments.filter((d) => d.isLatestForTarget && d.status === 'FAILED').length,
  };
}

export async function benchAwsGauges(): Promise<Check[]> {
  const checks: Check[] = [];
  const spec = `things=${THINGS},thingTypes=${TYPES},edge=${EDGE}`;
  console.log(`\nmetrics push (AWS gauges): ${THINGS.toLocaleString('en-US')} AWS things (${EDGE.toLocaleString('en-US')} Greengrass core devices) across ${TYPES} thing types`);
  const emulator = await emulatorChild(spec);
  try {
    const calls = new ApiCallCounter();
    const warnings: string[] = [];
    const client = new AwsIot(resolveAwsConfig({}, process.env), calls, { warn: (m) => warnings.push(m), debug: () => undefined });
    const started = process.hrtime.bigint();
    const readings = await awsFleetSource(client);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;

    const expected = fixtureGauges();
    console.log(`  wall ${seconds.toFixed(2)} s, ${calls.total} API calls, ${warnings.length} retried`);
    console.log(`  calls per operation: ${JSON.stringify(calls.toJSON())}`);
    for (const [gauge, want] of Object.entries(expected)) {
      const got = readings.values[gauge as FleetGauge];
      const mark = got === want ? 'ok  ' : 'MISS';
      console.log(`  ${mark} ${gauge.padEnd(44)} ${String(got ?? 'withheld').padStart(8)}  (fleet: ${want})`);
    }
    const wrong = Object.entries(expected).filter(([gauge, want]) => readings.values[gauge as FleetGauge] !== want).map(([gauge]) => gauge);
    checks.push([`metrics aws: the 5 provider gauges of ${THINGS.toLocaleString('en-US')} things equal the fleet${wrong.length ? ` (wrong: ${wrong.join(', ')})` : ''}; ${calls.total} API calls, ${seconds.toFixed(2)} s`, wrong.length === 0]);
    for (const w of readings.withheld) console.log(`  withheld (${w.kind}) ${w.gauges.join(', ')}: ${w.reason}`);
    const listPages = calls.toJSON()['ListThings'] ?? 0;
    console.log(`  at AWS's published ListThings rate (${LIST_THINGS_PER_S}/s) its ${listPages} pages alone take ${(listPages / LIST_THINGS_PER_S).toFixed(1)} s`);
  } finally {
    await emulator.stop();
  }
  return checks;
}
