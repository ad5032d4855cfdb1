/** A small fleet for end-to-end tests: every kind of device and every skip reason. */
import type { FixtureInput } from '../../src/emulators/iothub/index.js';

export const SECRET_APP_KEY = '8AFE71A145B253E49C3031AD068277A1';
export const SECRET_APP_S_KEY = '2B7E151628AED2A6ABF7158809CF4F3C';
export const SECRET_NWK_S_KEY = '3B7E151628AED2A6ABF7158809CF4F3C';
export const HUB_KEY = 'dGVzdC1odWIta2V5LXRoYXQtbXVzdC1uZXZlci1sZWFr';

export type Twin = NonNullable<FixtureInput['twins']>[number] & Record<string, any>;

export const MODELS = [
  { id: 'm-thermo', name: 'Thermometer', description: 'Indoor', supportLoRaFeatures: false },
  { id: 'm-lora', name: 'LoRa sensor', description: 'Class A', supportLoRaFeatures: true },
];

export function standard(id: string, version = 1, extra: Partial<Twin> = {}): Twin {
  return {
    deviceId: id,
    version,
    status: 'enabled',
    connectionState: 'Disconnected',
    lastActivityTime: '2026-11-20T10:00:00Z',
    tags: { deviceName: `Device ${id}`, modelId: 'm-thermo', layerId: 'layer-1', site: 'Lyon', floor: 2 },
    ...extra,
  };
}

export function lora(id: string, version = 1, extra: Partial<Twin> = {}): Twin {
  return {
    deviceId: id,
    version,
    status: 'enabled',
    connectionState: 'Connected',
    tags: { deviceName: `LoRa ${id}`, modelId: 'm-lora' },
    properties: {
      desired: { AppEUI: '70B3D57ED0000001', AppKey: SECRET_APP_KEY, SensorDecoder: 'DecoderValueSensor', RX2DataRate: 3 },
      reported: { DevAddr: '0228B1B1', GatewayID: 'gw-1', NbRep: 1 },
    },
    ...extra,
  };
}

export function fleet(twins: Twin[], faults: FixtureInput['faults'] = []): FixtureInput {
  return {
    hub: { hostName: 'test-hub.azure-devices.net', sharedAccessKeyName: 'iothubowner', sharedAccessKey: HUB_KEY },
    deviceModels: MODELS,
    twins,
    faults,
  };
}

export const BASE_TWINS: Twin[] = [
  standard('std-1', 3),
  standard('std-2', 1, { connectionState: 'Connected' }),
  lora('lora-1', 5),
  { deviceId: 'skip-no-model', version: 1, tags: { deviceName: 'No model' } },
  { deviceId: 'skip-unknown-model', version: 1, tags: { deviceName: 'Unknown', modelId: 'm-gone' } },
  { deviceId: 'skip-no-name', version: 1, tags: { modelId: 'm-thermo' } },
  { deviceId: 'skip-malformed', version: 1, tags: { deviceName: 'Bad', modelId: 'm-lora' }, properties: { desired: { RXDelay: 'soon' }, reported: {} } },
  { deviceId: 'edge-1', version: 1, capabilities: { iotEdge: true }, tags: { deviceName: 'Edge', modelId: 'm-thermo' } },
  { deviceId: 'conc-1', version: 1, tags: { deviceName: 'Conc', modelId: 'm-thermo', deviceType: 'LoRa Concentrator', loraRegion: 'EU863' } },
];
