import type { RemoteEntry, Scalar } from '../reconcile/index.js';
import { twinInstant, type Twin } from '../providers/iothub/twin.js';
import type { DeviceModel } from '../store/models.js';
import { canonicalTags } from '../store/rows.js';

/** Tags the portal reads into columns; every other tag becomes a tag value. */
const COLUMN_TAGS = new Set(['deviceName', 'modelId', 'layerId']);

type Kind = 'string' | 'integer' | 'boolean';

/** Desired twin property -> `lorawan_devices` column. */
const DESIRED_LORA: ReadonlyArray<readonly [string, string, Kind]> = [
  ['AppEUI', 'app_eui', 'string'],
  ['AppKey', 'app_key', 'string'],
  ['AppSKey', 'app_s_key', 'string'],
  ['NwkSKey', 'nwk_s_key', 'string'],
  ['DevAddr', 'dev_addr', 'string'],
  ['SensorDecoder', 'sensor_decoder', 'string'],
  ['ClassType', 'class_type', 'string'],
  ['PreferredWindow', 'preferred_window', 'integer'],
  ['Deduplication', 'deduplication', 'string'],
  ['RX1DROffset', 'rx1_dr_offset', 'integer'],
  ['RX2DataRate', 'rx2_data_rate', 'integer'],
  ['RXDelay', 'rx_delay', 'integer'],
  ['ABPRelaxMode', 'abp_relax_mode', 'boolean'],
  ['FCntUpStart', 'fcnt_up_start', 'integer'],
  ['FCntDownStart', 'fcnt_down_start', 'integer'],
  ['FCntResetCounter', 'fcnt_reset_counter', 'integer'],
  ['Supports32BitFCnt', 'supports_32bit_fcnt', 'boolean'],
  ['KeepAliveTimeout', 'keep_alive_timeout', 'integer'],
  ['Downlink', 'downlink', 'boolean'],
];

/** Reported twin property -> `lorawan_devices` column. */
const REPORTED_LORA: ReadonlyArray<readonly [string, string, Kind]> = [
  ['GatewayID', 'gateway_id', 'string'],
  ['DataRate', 'data_rate', 'string'],
  ['TxPower', 'tx_power', 'string'],
  ['NbRep', 'nb_rep', 'integer'],
  ['RX2DataRate', 'reported_rx2_data_rate', 'integer'],
  ['RX1DROffset', 'reported_rx1_dr_offset', 'integer'],
  ['RXDelay', 'reported_rx_delay', 'integer'],
];

class MalformedTwin extends Error {}

/**
 * Maps one device twin to a portal row, or to a skip with its reason. Pure: the models come in as data.
 * A malformed twin is skipped with the reason; it never stops the pass.
 */
export function mapDeviceTwin(raw: unknown, models: ReadonlyMap<string, DeviceModel>): RemoteEntry {
  const twin = raw as Partial<Twin> | null;
  const key = twin && typeof twin.deviceId === 'string' && twin.deviceId !== '' ? twin.deviceId : null;
  if (key === null) return { kind: 'skipped', key: '(no deviceId)', reason: 'malformed twin: no deviceId' };
  try {
    return mapValidTwin(key, twin as Twin, models);
  } catch (error) {
    if (error instanceof MalformedTwin) return { kind: 'skipped', key, reason: `malformed twin: ${error.message}` };
    throw error;
  }
}

function mapValidTwin(key: string, twin: Twin, models: ReadonlyMap<string, DeviceModel>): RemoteEntry {
  if (typeof twin.version !== 'number' || !Number.isInteger(twin.version)) throw new MalformedTwin('version is not an integer');
  const tags = objectOrEmpty(twin.tags, 'tags');
  const modelId = tags.modelId;
  if (modelId === undefined || modelId === null || modelId === '') return { kind: 'skipped', key, reason: 'no modelId tag' };
  if (typeof modelId !== 'string') throw new MalformedTwin('tags.modelId is not a string');
  const model = models.get(modelId);
  if (!model) return { kind: 'skipped', key, reason: `unknown model "${modelId}"` };
  const name = tags.deviceName;
  if (name === undefined || name === null || name === '') return { kind: 'skipped', key, reason: 'no deviceName tag' };
  if (typeof name !== 'string') throw new MalformedTwin('tags.deviceName is not a string');
  const layer = tags.layerId;
  if (layer !== undefined && layer !== null && typeof layer !== 'string') throw new MalformedTwin('tags.layerId is not a string');

  const tagValues: Record<string, string> = {};
  for (const [tag, value] of Object.entries(tags)) {
    if (COLUMN_TAGS.has(tag) || value === undefined) continue;
    tagValues[tag] = typeof value === 'string' ? value : JSON.stringify(value);
  }

  const fields: Record<string, Scalar | undefined> = {
    name,
    device_model_id: modelId,
    layer_id: layer ?? null,
    is_enabled: twin.status === 'enabled',
    is_connected: twin.connectionState === 'Connected',
    status_updated_at: twinInstant(twin.statusUpdateTime),
    last_activity_at: twinInstant(twin.lastActivityTime),
    kind: model.supportLoRaFeatures ? 'lora' : 'standard',
    tags: canonicalTags(tagValues),
  };
  if (model.supportLoRaFeatures) Object.assign(fields, loraFields(twin));
  return { kind: 'desired', key, version: twin.version, fields };
}

/** Only the keys present in the twin: values imported by other means survive an update. */
function loraFields(twin: Twin): Record<string, Scalar | undefined> {
  const properties = objectOrEmpty(twin.properties, 'properties');
  const desired = objectOrEmpty(properties.desired, 'properties.desired');
  const reported = objectOrEmpty(properties.reported, 'properties.reported');
  const out: Record<string, Scalar | undefined> = {};
  for (const [property, column, kind] of DESIRED_LORA) out[column] = coerce(desired[property], kind, `desired.${property}`);
  for (const [property, column, kind] of REPORTED_LORA) out[column] = coerce(reported[property], kind, `reported.${property}`);
  out.use_otaa = typeof desired.AppEUI === 'string' && desired.AppEUI.trim() !== '';
  out.already_logged_in_once = reported.DevAddr !== undefined && reported.DevAddr !== null && reported.DevAddr !== '';
  return out;
}

function objectOrEmpty(value: unknown, where: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new MalformedTwin(`${where} is not an object`);
  return value as Record<string, unknown>;
}

function coerce(value: unknown, kind: Kind, where: string): Scalar | undefined {
  if (value === undefined || value === null) return undefined;
  switch (kind) {
    case 'string':
      if (typeof value === 'string') return value;
      if (typeof value === 'number' || typeof value === 'boolean') return String(value);
      throw new MalformedTwin(`${where} is not a string`);
    case 'integer': {
      const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
      if (typeof n === 'number' && Number.isInteger(n)) return n;
      throw new MalformedTwin(`${where} is not an integer`);
    }
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (value === 'true' || value === 'false') return value === 'true';
      throw new MalformedTwin(`${where} is not a boolean`);
  }
}
