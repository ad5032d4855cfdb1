/**
 * IoT Hub configurations as `GET /configurations` returns them (REST API 2021-04-12, "Configuration -
 * Get Configurations"): automatic device management configurations (`content.deviceContent` or
 * `content.moduleContent`) and IoT Edge deployments (`content.modulesContent`) in one unpaged list.
 *
 * Only what a reader of the list relies on is checked: every item is an object with a string `id`,
 * and the parts present have their documented types. Missing parts read as empty (the hub leaves
 * `labels` or a metrics section out, or sends null, depending on how the configuration was made).
 */

/** `{"results": {"targetedCount": 12, ...}, "queries": {"targetedCount": "SELECT deviceId FROM ...", ...}}` */
export interface ConfigurationMetrics {
  readonly results: Readonly<Record<string, number>>;
  readonly queries: Readonly<Record<string, string>>;
}

/** What the configuration sets: desired properties of devices, of modules, or of edge modules (a deployment). */
export interface ConfigurationContent {
  readonly deviceContent?: Readonly<Record<string, unknown>>;
  readonly moduleContent?: Readonly<Record<string, unknown>>;
  readonly modulesContent?: Readonly<Record<string, unknown>>;
}

export interface IotHubConfiguration {
  readonly id: string;
  readonly schemaVersion?: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly content: ConfigurationContent;
  readonly contentType?: string;
  readonly targetCondition: string;
  readonly createdTimeUtc?: string;
  readonly lastUpdatedTimeUtc?: string;
  readonly priority: number;
  /** The hub's own metrics: targetedCount, appliedCount, and for deployments reportedSuccessfulCount, reportedFailedCount. */
  readonly systemMetrics: ConfigurationMetrics;
  /** The metrics the configuration's author defined. */
  readonly metrics: ConfigurationMetrics;
  readonly etag?: string;
}

/** A list the hub sent that is not a list of configurations; the message names the item and the field. */
export class ConfigurationShapeError extends Error {
  override name = 'ConfigurationShapeError';
}

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function fail(where: string, what: string): never {
  throw new ConfigurationShapeError(`${where} ${what}`);
}

/** An object section, or empty when absent or null. */
function section(o: Obj, key: string, where: string): Obj {
  const v = o[key];
  if (v === undefined || v === null) return {};
  if (!isObject(v)) fail(`${where}.${key}`, 'is not an object');
  return v;
}

function optString(o: Obj, key: string, where: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') fail(`${where}.${key}`, 'is not a string');
  return v;
}

function stringMap(o: Obj, where: string): Record<string, string> {
  for (const [k, v] of Object.entries(o)) if (typeof v !== 'string') fail(`${where}.${k}`, 'is not a string');
  return o as Record<string, string>;
}

function metrics(o: Obj, key: string, where: string): ConfigurationMetrics {
  const m = section(o, key, where);
  const results = section(m, 'results', `${where}.${key}`);
  for (const [k, v] of Object.entries(results)) {
    if (typeof v !== 'number' || !Number.isFinite(v)) fail(`${where}.${key}.results.${k}`, 'is not a number');
  }
  return { results: results as Record<string, number>, queries: stringMap(section(m, 'queries', `${where}.${key}`), `${where}.${key}.queries`) };
}

function content(o: Obj, where: string): ConfigurationContent {
  const c = section(o, 'content', where);
  const out: { -readonly [K in keyof ConfigurationContent]: ConfigurationContent[K] } = {};
  for (const key of ['deviceContent', 'moduleContent', 'modulesContent'] as const) {
    if (c[key] !== undefined && c[key] !== null) out[key] = section(c, key, `${where}.content`);
  }
  return out;
}

export function parseConfiguration(raw: unknown, where: string): IotHubConfiguration {
  if (!isObject(raw)) fail(where, 'is not an object');
  const id = raw['id'];
  if (typeof id !== 'string' || id === '') fail(`${where}.id`, 'is not a non-empty string');
  const priority = raw['priority'] ?? 0;
  if (typeof priority !== 'number' || !Number.isInteger(priority)) fail(`${where}.priority`, 'is not an integer');
  return {
    id,
    schemaVersion: optString(raw, 'schemaVersion', where),
    labels: stringMap(section(raw, 'labels', where), `${where}.labels`),
    content: content(raw, where),
    contentType: optString(raw, 'contentType', where),
    targetCondition: optString(raw, 'targetCondition', where) ?? '',
    createdTimeUtc: optString(raw, 'createdTimeUtc', where),
    lastUpdatedTimeUtc: optString(raw, 'lastUpdatedTimeUtc', where),
    priority,
    systemMetrics: metrics(raw, 'systemMetrics', where),
    metrics: metrics(raw, 'metrics', where),
    etag: optString(raw, 'etag', where),
  };
}

/** The hub's answer as typed configurations; throws {@link ConfigurationShapeError} naming the first bad item. */
export function parseConfigurations(body: readonly unknown[]): IotHubConfiguration[] {
  return body.map((raw, i) => parseConfiguration(raw, `configuration ${i}${isObject(raw) && typeof raw['id'] === 'string' ? ` (${raw['id']})` : ''}`));
}

/** An IoT Edge deployment (plain or layered): a configuration whose content sets edge modules. */
export function isEdgeDeployment(c: IotHubConfiguration): boolean {
  return c.content.modulesContent !== undefined && Object.keys(c.content.modulesContent).length > 0;
}
