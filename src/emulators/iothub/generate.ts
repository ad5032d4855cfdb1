/**
 * Deterministic generator of large IoT Hub fleets for benchmarks and demos.
 *
 * Spec string: comma-separated `key=integer` pairs, every key optional:
 *   devices        plain devices `dev-000001`.. (default 0); `lora` of them are LoRaWAN devices
 *   lora           how many of `devices` are LoRaWAN devices (default 0, must be <= devices)
 *   edge           IoT Edge devices `edge-000001`.. (default 0), each with `$edgeAgent` and `$edgeHub`
 *   modules        custom modules declared in each edge device's `$edgeAgent` (default 3, <= 100)
 *   gateways       how many edge devices are LoRaWAN gateways with a `LoRaWanNetworkSrvModule`
 *                  module twin (default 0, must be <= edge)
 *   concentrators  LoRa concentrators `conc-000001`.. (default 0)
 * The same spec and seed always give the same fleet. Its configurations (generate-configurations.ts)
 * follow from the twins: three IoT Edge deployments when there are edge devices, one device
 * configuration when there are devices.
 */
import type { DeviceModel, DeviceTwin, EdgeDeviceModel, Fixture, ModuleTwin, TwinCollection } from './fixture.js';
import { DEFAULT_HOST_NAME, DEFAULT_KEY_NAME, DEFAULT_SHARED_ACCESS_KEY, deviceEtagFor, etagFor } from './fixture.js';
import { generateConfigurations } from './generate-configurations.js';
import { prng } from '../prng.js';

export interface GenerateSpec {
  devices: number;
  lora: number;
  edge: number;
  modules: number;
  concentrators: number;
  gateways: number;
}

const DEFAULT_SPEC: GenerateSpec = { devices: 0, lora: 0, edge: 0, modules: 3, concentrators: 0, gateways: 0 };
const KEYS = Object.keys(DEFAULT_SPEC) as (keyof GenerateSpec)[];
const MAX_COUNT = 10_000_000;
const MAX_MODULES = 100;

function validateSpec(spec: GenerateSpec): GenerateSpec {
  for (const key of KEYS) {
    const v = spec[key];
    if (!Number.isSafeInteger(v) || v < 0) throw new Error(`generate spec: ${key} must be a non-negative integer, got ${String(v)}`);
    if (v > MAX_COUNT) throw new Error(`generate spec: ${key}=${v} is more than ${MAX_COUNT}`);
  }
  if (spec.modules > MAX_MODULES) throw new Error(`generate spec: modules=${spec.modules} is more than ${MAX_MODULES}`);
  if (spec.lora > spec.devices) throw new Error(`generate spec: lora=${spec.lora} exceeds devices=${spec.devices} (LoRa devices are a subset of devices)`);
  if (spec.gateways > spec.edge) throw new Error(`generate spec: gateways=${spec.gateways} exceeds edge=${spec.edge} (gateways are a subset of edge devices)`);
  return spec;
}

/** Parses `devices=100000,lora=10000,edge=20000,modules=8,concentrators=5000,gateways=5000`. */
export function parseGenerateSpec(text: string): GenerateSpec {
  const spec: GenerateSpec = { ...DEFAULT_SPEC };
  const given = new Set<string>();
  for (const part of text.split(',')) {
    const item = part.trim();
    if (item === '') continue;
    const eq = item.indexOf('=');
    if (eq <= 0) throw new Error(`generate spec: "${item}" is not key=value (keys: ${KEYS.join(', ')})`);
    const key = item.slice(0, eq).trim();
    const value = item.slice(eq + 1).trim();
    if (!(KEYS as string[]).includes(key)) throw new Error(`generate spec: unknown key "${key}" (keys: ${KEYS.join(', ')})`);
    if (given.has(key)) throw new Error(`generate spec: "${key}" is given twice`);
    given.add(key);
    if (!/^\d+$/.test(value)) throw new Error(`generate spec: ${key} must be a non-negative integer, got "${value}"`);
    spec[key as keyof GenerateSpec] = Number(value);
  }
  return validateSpec(spec);
}

/**
 * The LoRaWAN device ids generateFleet gives a spec, in order, without building the fleet: the
 * Event Hubs generator (../eventhub/generate.ts) sends their telemetry.
 */
export function loraDeviceIds(spec: Partial<GenerateSpec>): string[] {
  const s = validateSpec({ ...DEFAULT_SPEC, ...spec });
  const ids: string[] = [];
  for (let i = 0; i < s.devices; i++) if (picked(i, s.lora, s.devices)) ids.push(`dev-${pad(i + 1)}`);
  return ids;
}

const STANDARD_MODELS: DeviceModel[] = [
  { id: 'm-thermometer', name: 'Thermometer', description: 'Indoor temperature sensor', supportLoRaFeatures: false },
  { id: 'm-humidity', name: 'Humidity sensor', description: 'Relative humidity sensor', supportLoRaFeatures: false },
  { id: 'm-smart-plug', name: 'Smart plug', description: 'Switchable power outlet with metering', supportLoRaFeatures: false },
  { id: 'm-door-sensor', name: 'Door sensor', description: 'Open/close contact sensor', supportLoRaFeatures: false },
];
const LORA_MODELS: DeviceModel[] = [
  { id: 'm-lora-temp', name: 'LoRaWAN temperature sensor', description: 'Class A LoRaWAN temperature sensor', supportLoRaFeatures: true },
  { id: 'm-lora-tracker', name: 'LoRaWAN tracker', description: 'Class A LoRaWAN GPS tracker', supportLoRaFeatures: true },
];
const EDGE_MODELS: EdgeDeviceModel[] = [
  { id: 'em-gateway', name: 'Edge gateway', description: 'Industrial IoT Edge gateway', externalIdentifier: 'edge-gateway-v1' },
  { id: 'em-vision', name: 'Vision box', description: 'IoT Edge box running video analytics', externalIdentifier: 'vision-box-v2' },
];
const MODULE_NAMES = ['SimulatedTemperatureSensor', 'opcpublisher', 'mqttbroker', 'asaedge', 'blobstorage', 'modbus', 'influxdb', 'grafana'];
const DECODERS = ['http://decoder/api/DecoderValueSensor', 'http://decoder/api/DecoderTracker'];
const REGIONS = ['EU863', 'US902'];
const DATA_RATES = ['SF7BW125', 'SF9BW125', 'SF12BW125'];
// Small value sets, built once (fewer string allocations per twin).
const LAYERS = Array.from({ length: 12 }, (_, i) => `layer-${String(i + 1).padStart(2, '0')}`);
const SITES = Array.from({ length: 20 }, (_, i) => `site-${String(i + 1).padStart(2, '0')}`);
const BUILDINGS = Array.from({ length: 8 }, (_, i) => `B${i + 1}`);
const FLOORS = Array.from({ length: 10 }, (_, i) => String(i));
const FIRMWARE = Array.from({ length: 50 }, (_, i) => `1.${Math.floor(i / 10)}.${i % 10}`);
const BASE_TIME = Date.UTC(2024, 0, 1);
const YEAR_MS = 365 * 24 * 3600 * 1000;

function pad(n: number): string {
  return String(n).padStart(6, '0');
}

function moduleName(k: number): string {
  return k < MODULE_NAMES.length ? MODULE_NAMES[k]! : `module${k + 1}`;
}

/** Every k-th element so that exactly `count` of `total` are picked, spread evenly. */
function picked(i: number, count: number, total: number): boolean {
  return Math.floor(((i + 1) * count) / total) > Math.floor((i * count) / total);
}

function coll(v: Record<string, unknown>, version = 1): TwinCollection {
  v['$version'] = version;
  return v as TwinCollection;
}

const DAY_MS = 86_400_000;
const dayPrefixes = new Map<number, string>();
function p2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}
/** `Date#toISOString` for whole-millisecond times, with the date part cached per day (much cheaper). */
function iso(ms: number): string {
  const day = Math.floor(ms / DAY_MS);
  let prefix = dayPrefixes.get(day);
  if (prefix === undefined) {
    prefix = new Date(day * DAY_MS).toISOString().slice(0, 11);
    dayPrefixes.set(day, prefix);
  }
  let rest = ms - day * DAY_MS;
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const sec = Math.floor(rest / 1000);
  const milli = rest - sec * 1000;
  return `${prefix}${p2(h)}:${p2(m)}:${p2(sec)}.${milli < 10 ? `00${milli}` : milli < 100 ? `0${milli}` : milli}Z`;
}

/** Builds a complete, normalized fixture. Deterministic for the same spec and seed. */
export function generateFleet(spec: Partial<GenerateSpec> | GenerateSpec, seed = 1): Fixture {
  const s = validateSpec({ ...DEFAULT_SPEC, ...spec });
  const rnd = prng(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const hex = (chars: number) => {
    let out = '';
    while (out.length < chars) out += ((rnd() * 4294967296) >>> 0).toString(16).padStart(8, '0');
    return out.slice(0, chars).toUpperCase();
  };
  const time = (offsetMs: number) => iso(BASE_TIME + offsetMs);

  const twins: DeviceTwin[] = [];
  const moduleTwins: ModuleTwin[] = [];

  const twin = (deviceId: string, iotEdge: boolean, tags: Record<string, unknown>, desired: Record<string, unknown>, reported: Record<string, unknown>): DeviceTwin => {
    const version = 1 + int(5);
    const connected = rnd() < 0.6;
    const statusUpdate = int(YEAR_MS);
    return {
      deviceId,
      etag: etag(version),
      deviceEtag: deviceEtagFor(deviceId),
      status: 'enabled',
      statusUpdateTime: time(statusUpdate),
      connectionState: connected ? 'Connected' : 'Disconnected',
      lastActivityTime: time(statusUpdate + int(YEAR_MS / 12)),
      cloudToDeviceMessageCount: 0,
      authenticationType: 'sas',
      version,
      tags,
      properties: { desired: coll(desired, 1 + int(3)), reported: coll(reported, 1 + int(20)) },
      capabilities: { iotEdge },
    };
  };

  // Gateways, decided first so LoRa devices can report a real gateway id.
  const gatewayIds: string[] = [];
  for (let i = 0; i < s.edge; i++) if (picked(i, s.gateways, s.edge)) gatewayIds.push(`edge-${pad(i + 1)}`);

  for (let i = 0; i < s.devices; i++) {
    const n = pad(i + 1);
    const lora = picked(i, s.lora, s.devices);
    const model = lora ? LORA_MODELS[int(LORA_MODELS.length)]! : STANDARD_MODELS[int(STANDARD_MODELS.length)]!;
    const tags = {
      deviceName: `${model.name} ${n}`,
      modelId: model.id,
      layerId: LAYERS[int(LAYERS.length)]!,
      site: SITES[int(SITES.length)]!,
      building: BUILDINGS[int(BUILDINGS.length)]!,
      floor: FLOORS[int(FLOORS.length)]!,
    };
    if (lora) {
      const desired = {
        AppEUI: hex(16),
        AppKey: hex(32),
        SensorDecoder: DECODERS[model.id === 'm-lora-temp' ? 0 : 1]!,
        ClassType: 'A',
        Deduplication: 'Drop',
        RX2DataRate: int(6),
        KeepAliveTimeout: 60 * int(3),
      };
      const reported = {
        DevAddr: hex(8),
        GatewayID: gatewayIds.length > 0 ? gatewayIds[int(gatewayIds.length)]! : '',
        DataRate: DATA_RATES[int(DATA_RATES.length)]!,
        TxPower: int(8),
      };
      twins.push(twin(`dev-${n}`, false, tags, desired, reported));
    } else {
      twins.push(twin(`dev-${n}`, false, tags, {}, { firmwareVersion: FIRMWARE[int(FIRMWARE.length)]! }));
    }
  }

  for (let i = 0; i < s.edge; i++) {
    const n = pad(i + 1);
    const deviceId = `edge-${n}`;
    const model = EDGE_MODELS[int(EDGE_MODELS.length)]!;
    const gateway = picked(i, s.gateways, s.edge);
    const t = twin(deviceId, true, { deviceName: `${model.name} ${n}`, modelId: model.id }, {}, {});
    twins.push(t);

    const desiredModules: Record<string, unknown> = {};
    const reportedModules: Record<string, unknown> = {};
    const names: string[] = [];
    for (let k = 0; k < s.modules; k++) names.push(moduleName(k));
    if (gateway) names.push('LoRaWanNetworkSrvModule');
    for (const name of names) {
      desiredModules[name] = { status: 'running', version: '1.0', settings: { image: `registry.example.com/${name.toLowerCase()}:1.${int(4)}` } };
      reportedModules[name] = { runtimeStatus: rnd() < 0.95 ? 'running' : 'failed', status: 'running', version: '1.0' };
    }
    const moduleBase = {
      deviceId,
      etag: etag(1),
      deviceEtag: t.deviceEtag,
      status: 'enabled' as const,
      statusUpdateTime: t.statusUpdateTime,
      connectionState: t.connectionState,
      lastActivityTime: t.lastActivityTime,
      cloudToDeviceMessageCount: 0,
      authenticationType: 'sas',
    };
    const agentVersion = 1 + int(5);
    moduleTwins.push({
      ...moduleBase,
      moduleId: '$edgeAgent',
      etag: etag(agentVersion),
      version: agentVersion,
      properties: {
        desired: coll({
          schemaVersion: '1.1',
          runtime: { type: 'docker', settings: { minDockerVersion: 'v1.25' } },
          systemModules: {
            edgeAgent: { type: 'docker', settings: { image: 'mcr.microsoft.com/azureiotedge-agent:1.4' } },
            edgeHub: { type: 'docker', status: 'running', restartPolicy: 'always', settings: { image: 'mcr.microsoft.com/azureiotedge-hub:1.4' } },
          },
          modules: desiredModules,
        }),
        reported: coll({ schemaVersion: '1.1', lastDesiredStatus: { code: 200, description: '' }, modules: reportedModules }),
      },
    });
    const clients: Record<string, unknown> = {};
    const clientCount = 1 + int(3);
    for (let c = 0; c < clientCount; c++) {
      clients[`${deviceId}/${names[c % Math.max(names.length, 1)] ?? `leaf${c}`}`] = { status: 'Connected', lastConnectedTimeUtc: t.lastActivityTime };
    }
    moduleTwins.push({
      ...moduleBase,
      moduleId: '$edgeHub',
      version: 1,
      properties: { desired: coll({ schemaVersion: '1.1', routes: { upstream: 'FROM /messages/* INTO $upstream' } }), reported: coll({ schemaVersion: '1.1', clients }) },
    });
    if (gateway) {
      moduleTwins.push({
        ...moduleBase,
        moduleId: 'LoRaWanNetworkSrvModule',
        version: 1,
        properties: {
          desired: coll({ FacadeServerUrl: 'https://lora-facade.example.com/api/', LogLevel: '2' }),
          reported: coll({ NetworkServerVersion: '2.2.0' }),
        },
      });
    }
  }

  for (let i = 0; i < s.concentrators; i++) {
    const n = pad(i + 1);
    const region = REGIONS[int(REGIONS.length)]!;
    twins.push(
      twin(
        `conc-${n}`,
        false,
        { deviceName: `Concentrator ${n}`, deviceType: 'LoRa Concentrator', loraRegion: region },
        { clientThumbprint: [hex(40)] },
        {},
      ),
    );
  }

  return {
    hub: { hostName: DEFAULT_HOST_NAME, sharedAccessKeyName: DEFAULT_KEY_NAME, sharedAccessKey: DEFAULT_SHARED_ACCESS_KEY },
    deviceModels: [...STANDARD_MODELS, ...LORA_MODELS].map((m) => ({ ...m })),
    edgeDeviceModels: EDGE_MODELS.map((m) => ({ ...m })),
    twins,
    moduleTwins,
    configurations: generateConfigurations(twins, moduleTwins, Array.from({ length: s.modules }, (_, k) => moduleName(k))),
    faults: [],
    quota: {},
  };
}

const ETAGS: string[] = [];
function etag(version: number): string {
  return (ETAGS[version] ??= etagFor(version));
}
