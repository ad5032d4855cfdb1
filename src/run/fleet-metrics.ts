/**
 * The fleet gauges on their way to Prometheus: as text exposition, pushed to a Pushgateway group of
 * their own, or written for node_exporter's textfile collector.
 *
 * Only measured gauges are ever written. Pushed with POST, a withheld gauge keeps its last value in
 * the gateway; written to a textfile (which is replaced whole), its lines are carried over from the
 * previous file, for the same reason: a value that was not measured is never replaced by a guess.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Gauge, Registry } from 'prom-client';
import { FLEET_GAUGES, type FleetGauge } from './fleet-gauges.js';
import { pushExposition } from './pushgateway.js';

/** The gateway job of the fleet gauges (the portal's own name for them); the run's metrics stay under `portal_sync`. */
export const FLEET_JOB = 'iot_hub_portal';

export type GaugeValues = Partial<Record<FleetGauge, number>>;

/** The measured gauges as Prometheus text exposition, HELP and TYPE included; nothing for the others. */
export async function renderFleetGauges(values: GaugeValues): Promise<string> {
  const registry = new Registry();
  for (const { name, help } of FLEET_GAUGES) {
    const value = values[name];
    if (value === undefined) continue;
    new Gauge({ name, help, registers: [registry] }).set(value);
  }
  return registry.metrics();
}

/** POSTs the measured gauges to `job="iot_hub_portal", instance="<instance>"`; throws PushError. */
export async function pushFleetGauges(pushgatewayUrl: string, instance: string, values: GaugeValues, opts: { timeoutMs?: number } = {}): Promise<void> {
  await pushExposition(pushgatewayUrl, [['job', FLEET_JOB], ['instance', instance]], await renderFleetGauges(values), opts);
}

/**
 * Writes the measured gauges to `path` atomically (a temporary file beside it, then a rename), so
 * node_exporter never reads half a file; the lines of gauges not measured now are kept from the file
 * being replaced. Returns the gauges so carried over.
 */
export async function writeFleetTextfile(path: string, values: GaugeValues): Promise<FleetGauge[]> {
  const withheld = FLEET_GAUGES.map((g) => g.name).filter((name) => values[name] === undefined);
  const kept = withheld.length === 0 ? { text: '', gauges: [] } : previousLines(path, withheld);
  const text = (await renderFleetGauges(values)) + kept.text;
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    writeFileSync(temporary, text, { mode: 0o644 });
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
  return kept.gauges;
}

/** The HELP, TYPE and sample lines of `gauges` in the file at `path`; none when it does not exist yet. */
function previousLines(path: string, gauges: readonly FleetGauge[]): { text: string; gauges: FleetGauge[] } {
  let previous: string;
  try {
    previous = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { text: '', gauges: [] };
    throw error;
  }
  const found = new Set<FleetGauge>();
  const lines = previous.split('\n').filter((line) => {
    const name = gauges.find((g) => line === `# HELP ${g}` || line.startsWith(`# HELP ${g} `) || line.startsWith(`# TYPE ${g} `) || line.startsWith(`${g} `) || line.startsWith(`${g}{`));
    if (name && !line.startsWith('#')) found.add(name);
    return name !== undefined;
  });
  return { text: lines.length === 0 ? '' : lines.join('\n') + '\n', gauges: gauges.filter((g) => found.has(g)) };
}
