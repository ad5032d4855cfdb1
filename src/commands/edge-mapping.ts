import type { RemoteEntry, Scalar } from '../reconcile/index.js';
import type { Twin } from '../providers/iothub/twin.js';
import { canonicalTags } from '../store/entity.js';
import { canonicalModules, type EdgeModule } from '../store/edge.js';

/** Tags the portal reads into columns; every other tag of an edge device becomes a tag value. */
const COLUMN_TAGS = new Set(['deviceName', 'modelId']);

export const EDGE_AGENT = '$edgeAgent';

/** Where each field of an edge device row comes from, for validation messages. */
export const EDGE_FIELD_SOURCES = {
  id: 'deviceId',
  version: 'version',
  name: 'tags.deviceName',
  device_model_id: 'tags.modelId',
} as const;

export const EDGE_HUB = '$edgeHub';

/** What the pass keeps of an edge device's `$edgeAgent` and `$edgeHub` module twins. */
export interface ModuleSummary {
  agent: { nbModules: number; modules: EdgeModule[] } | { malformed: string } | null;
  hub: { nbDevices: number } | { malformed: string } | null;
}

/** Folds one module twin (from a `devices.modules` page) into the per-device summaries. */
export function addModuleTwin(summaries: Map<string, ModuleSummary>, raw: unknown): void {
  const twin = raw as { deviceId?: unknown; moduleId?: unknown; properties?: { desired?: unknown; reported?: unknown } } | null;
  if (!twin || typeof twin.deviceId !== 'string' || (twin.moduleId !== EDGE_AGENT && twin.moduleId !== EDGE_HUB)) return;
  let summary = summaries.get(twin.deviceId);
  if (!summary) summaries.set(twin.deviceId, (summary = { agent: null, hub: null }));
  if (twin.moduleId === EDGE_AGENT) summary.agent = summarizeAgent(twin.properties);
  else summary.hub = summarizeHub(twin.properties);
}

function summarizeAgent(properties: { desired?: unknown; reported?: unknown } | undefined): ModuleSummary['agent'] {
  const desired = asObject(properties?.desired);
  const modules = asObject(desired?.modules);
  if (!modules) return { malformed: `${EDGE_AGENT} desired.modules is not an object` };
  const reported = asObject(asObject(properties?.reported)?.modules);
  const list: EdgeModule[] = Object.keys(modules).map((name) => {
    const spec = asObject(modules[name]);
    const runtime = asObject(reported?.[name]);
    return {
      name,
      // The running state when the agent reports it, else what was asked for.
      status: text(runtime?.runtimeStatus) ?? text(spec?.status),
      version: text(spec?.version),
      image: text(asObject(spec?.settings)?.image),
    };
  });
  return { nbModules: list.length, modules: list };
}

function summarizeHub(properties: { desired?: unknown; reported?: unknown } | undefined): ModuleSummary['hub'] {
  const reported = asObject(properties?.reported);
  if (!reported) return { malformed: `${EDGE_HUB} reported properties are not an object` };
  if (reported.clients === undefined || reported.clients === null) return { nbDevices: 0 };
  const clients = asObject(reported.clients);
  if (!clients) return { malformed: `${EDGE_HUB} reported.clients is not an object` };
  return { nbDevices: Object.keys(clients).length };
}

/**
 * Maps an edge device twin and its module summary to a portal row, or to a skip or a failure.
 * `modulesIncomplete` is the reason the module listing stopped early, if it did: a device whose
 * module twins were not all read is then a failure (kept, not guessed), not a device with 0 modules.
 */
export function mapEdgeTwin(
  raw: unknown,
  models: ReadonlySet<string>,
  modules: ModuleSummary | undefined,
  modulesIncomplete: string | null,
): RemoteEntry {
  const twin = raw as Partial<Twin> | null;
  const key = twin && typeof twin.deviceId === 'string' && twin.deviceId !== '' ? twin.deviceId : null;
  if (key === null) return { kind: 'skipped', key: '(no deviceId)', reason: 'malformed twin: no deviceId', keyless: true };
  if (typeof twin!.version !== 'number' || !Number.isInteger(twin!.version)) {
    return { kind: 'skipped', key, reason: 'malformed twin: version is not an integer' };
  }
  const tags = asObject(twin!.tags) ?? {};
  const modelId = tags.modelId;
  if (modelId === undefined || modelId === null || modelId === '') return { kind: 'skipped', key, reason: 'no modelId tag' };
  if (typeof modelId !== 'string' || !models.has(modelId)) return { kind: 'skipped', key, reason: `unknown edge device model "${String(modelId)}"` };
  if (modulesIncomplete !== null && (!modules?.agent || !modules.hub)) {
    return { kind: 'failed', key, error: `module twins not read: ${modulesIncomplete}` };
  }

  const warnings: string[] = [];
  let nbModules = 0;
  let moduleList: EdgeModule[] = [];
  const agent = modules?.agent ?? null;
  if (agent === null) warnings.push(`no ${EDGE_AGENT} module twin: 0 modules`);
  else if ('malformed' in agent) warnings.push(`malformed module twin: ${agent.malformed}; 0 modules`);
  else {
    nbModules = agent.nbModules;
    moduleList = agent.modules;
  }
  let nbDevices = 0;
  const hub = modules?.hub ?? null;
  if (hub === null) warnings.push(`no ${EDGE_HUB} module twin: 0 connected devices`);
  else if ('malformed' in hub) warnings.push(`malformed module twin: ${hub.malformed}; 0 connected devices`);
  else nbDevices = hub.nbDevices;

  const tagValues: Record<string, string> = {};
  for (const tag in tags) {
    const value = tags[tag];
    if (COLUMN_TAGS.has(tag) || value === undefined) continue;
    tagValues[tag] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  const name = typeof tags.deviceName === 'string' && tags.deviceName !== '' ? tags.deviceName : key;
  const fields: Record<string, Scalar> = {
    name,
    device_model_id: modelId,
    connection_state: twin!.connectionState === 'Connected' ? 'Connected' : 'Disconnected',
    is_enabled: twin!.status === 'enabled',
    nb_modules: nbModules,
    nb_devices: nbDevices,
    modules: canonicalModules(moduleList),
    tags: canonicalTags(tagValues),
  };
  return warnings.length > 0
    ? { kind: 'desired', key, version: twin!.version, fields, warnings }
    : { kind: 'desired', key, version: twin!.version, fields };
}

function asObject(value: unknown): Record<string, unknown> | null {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}

function text(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

