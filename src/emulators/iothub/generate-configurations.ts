/**
 * The configurations of a generated fleet (generate.ts): a few IoT Edge deployments whose system
 * metrics agree with the generated edge devices, and one automatic device configuration.
 *
 * The emulator does not evaluate metric queries, so the counts are computed here, once, from the
 * twins the deployments target: a deployment targets the edge devices its condition names, all of
 * them applied, and an edge device whose `$edgeAgent` reports a module `failed` counts as failed in
 * every deployment that targets it (a layered deployment counts it again, as the hub's per-deployment
 * metrics do). Nothing here draws from the generator's random sequence, so the twins of a spec stay
 * what they were before configurations were generated.
 */
import type { DeviceTwin, HubConfiguration, ModuleTwin } from './fixture.js';

/** When the generated configurations say they were made: the start of the generated year. */
const CREATED = '2024-01-01T00:00:00Z';

interface DeploymentSpec {
  id: string;
  targetCondition: string;
  priority: number;
  /** Which edge twins the condition matches (the emulator's reading of `targetCondition`). */
  targets(twin: DeviceTwin): boolean;
  /** A layered deployment adds modules to the ones a base deployment set. */
  layered: boolean;
}

const DEPLOYMENTS: readonly DeploymentSpec[] = [
  { id: 'edge-gateway-base', targetCondition: "tags.modelId = 'em-gateway'", priority: 10, layered: false, targets: (t) => t.tags['modelId'] === 'em-gateway' },
  { id: 'vision-box-base', targetCondition: "tags.modelId = 'em-vision'", priority: 10, layered: false, targets: (t) => t.tags['modelId'] === 'em-vision' },
  { id: 'monitoring-layer', targetCondition: 'capabilities.iotEdge = true', priority: 20, layered: true, targets: () => true },
];

/** The hub's system metric queries of a deployment, as it shows them. */
function deploymentQueries(spec: DeploymentSpec): Record<string, string> {
  const applied = `SELECT deviceId FROM devices.modules WHERE moduleId = '$edgeAgent' AND configurations.[[${spec.id}]].status = 'Applied'`;
  return {
    targetedCount: `SELECT deviceId FROM devices WHERE capabilities.iotEdge = true AND ${spec.targetCondition}`,
    appliedCount: applied,
    reportedSuccessfulCount: `${applied} AND properties.desired.$version = properties.reported.lastDesiredVersion AND properties.reported.lastDesiredStatus.code = 200`,
    reportedFailedCount: `${applied} AND properties.desired.$version = properties.reported.lastDesiredVersion AND properties.reported.lastDesiredStatus.code != 200`,
  };
}

function modulesContent(spec: DeploymentSpec, moduleNames: readonly string[]): Record<string, unknown> {
  const modules = Object.fromEntries(
    (spec.layered ? ['monitoring'] : moduleNames).map((name) => [
      name,
      { type: 'docker', status: 'running', restartPolicy: 'always', version: '1.0', settings: { image: `registry.example.com/${name.toLowerCase()}:1.0` } },
    ]),
  );
  if (spec.layered) return { $edgeAgent: { 'properties.desired.modules.monitoring': modules['monitoring'] } };
  return {
    $edgeAgent: {
      'properties.desired': {
        schemaVersion: '1.1',
        runtime: { type: 'docker', settings: { minDockerVersion: 'v1.25' } },
        systemModules: {
          edgeAgent: { type: 'docker', settings: { image: 'mcr.microsoft.com/azureiotedge-agent:1.4' } },
          edgeHub: { type: 'docker', status: 'running', restartPolicy: 'always', settings: { image: 'mcr.microsoft.com/azureiotedge-hub:1.4' } },
        },
        modules,
      },
    },
    $edgeHub: { 'properties.desired': { schemaVersion: '1.1', routes: { upstream: 'FROM /messages/* INTO $upstream' }, storeAndForwardConfiguration: { timeToLiveSecs: 7200 } } },
  };
}

function configuration(id: string, fields: Partial<HubConfiguration>): HubConfiguration {
  return {
    id,
    schemaVersion: '1.0',
    labels: {},
    content: {},
    contentType: 'assignment',
    targetCondition: '',
    createdTimeUtc: CREATED,
    lastUpdatedTimeUtc: CREATED,
    priority: 0,
    systemMetrics: { results: {}, queries: {} },
    metrics: { results: {}, queries: {} },
    etag: 'MQ==',
    ...fields,
  };
}

/** Devices whose `$edgeAgent` reports at least one module `failed`. */
function failingEdgeDevices(moduleTwins: readonly ModuleTwin[]): Set<string> {
  const failing = new Set<string>();
  for (const m of moduleTwins) {
    if (m.moduleId !== '$edgeAgent') continue;
    const reported = m.properties.reported['modules'];
    if (reported === null || typeof reported !== 'object') continue;
    if (Object.values(reported).some((r) => (r as { runtimeStatus?: unknown })?.runtimeStatus === 'failed')) failing.add(m.deviceId);
  }
  return failing;
}

/**
 * The configurations of a generated fleet: the deployments when it has edge devices, the device
 * configuration (firmware of the smart plugs) when it has devices. `moduleNames` are the custom
 * modules the generator declared in every `$edgeAgent`.
 */
export function generateConfigurations(twins: readonly DeviceTwin[], moduleTwins: readonly ModuleTwin[], moduleNames: readonly string[]): HubConfiguration[] {
  const edge = twins.filter((t) => t.capabilities.iotEdge);
  const devices = twins.filter((t) => !t.capabilities.iotEdge && t.tags['deviceType'] !== 'LoRa Concentrator');
  const out: HubConfiguration[] = [];
  if (edge.length > 0) {
    const failing = failingEdgeDevices(moduleTwins);
    for (const spec of DEPLOYMENTS) {
      const targeted = edge.filter(spec.targets);
      const failed = targeted.filter((t) => failing.has(t.deviceId)).length;
      out.push(
        configuration(spec.id, {
          labels: { generatedBy: 'portal-sync emulate', layer: spec.layered ? 'layered' : 'base' },
          content: { modulesContent: modulesContent(spec, moduleNames) },
          targetCondition: spec.targetCondition,
          priority: spec.priority,
          systemMetrics: {
            results: { targetedCount: targeted.length, appliedCount: targeted.length, reportedSuccessfulCount: targeted.length - failed, reportedFailedCount: failed },
            queries: deploymentQueries(spec),
          },
        }),
      );
    }
  }
  if (devices.length > 0) {
    const targeted = devices.filter((t) => t.tags['modelId'] === 'm-smart-plug').length;
    out.push(
      configuration('smart-plug-firmware', {
        labels: { generatedBy: 'portal-sync emulate' },
        content: { deviceContent: { 'properties.desired.firmware': { version: '1.5.0', packageUri: 'https://firmware.example.com/smart-plug-1.5.0.bin' } } },
        targetCondition: "tags.modelId = 'm-smart-plug'",
        priority: 5,
        systemMetrics: {
          results: { targetedCount: targeted, appliedCount: targeted },
          queries: {
            targetedCount: "SELECT deviceId FROM devices WHERE tags.modelId = 'm-smart-plug'",
            appliedCount: "SELECT deviceId FROM devices WHERE configurations.[[smart-plug-firmware]].status = 'Applied'",
          },
        },
        metrics: {
          results: { current: 0 },
          queries: { current: "SELECT deviceId FROM devices WHERE properties.reported.firmware.version = '1.5.0'" },
        },
      }),
    );
  }
  return out;
}
