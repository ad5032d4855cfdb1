import { describe, expect, it } from 'vitest';
import { mapDeviceTwin } from '../../src/commands/devices-mapping.js';
import type { DeviceModel } from '../../src/store/models.js';

const models = new Map<string, DeviceModel>([
  ['m-std', { id: 'm-std', name: 'Standard', description: null, supportLoRaFeatures: false }],
  ['m-lora', { id: 'm-lora', name: 'LoRa', description: null, supportLoRaFeatures: true }],
]);

const twin = (overrides: Record<string, unknown> = {}) => ({
  deviceId: 'd1',
  version: 3,
  status: 'enabled',
  connectionState: 'Connected',
  statusUpdateTime: '2026-11-01T08:00:00Z',
  lastActivityTime: '0001-01-01T00:00:00Z',
  tags: { deviceName: 'Boiler', modelId: 'm-std', layerId: 'l1', site: 'Lyon', floor: -1 },
  properties: { desired: {}, reported: {} },
  ...overrides,
});

describe('mapDeviceTwin', () => {
  it('maps a standard device, with other tags as tag values and JSON text for non-strings', () => {
    const entry = mapDeviceTwin(twin(), models);
    expect(entry).toEqual({
      kind: 'desired',
      key: 'd1',
      version: 3,
      fields: {
        name: 'Boiler',
        device_model_id: 'm-std',
        layer_id: 'l1',
        is_enabled: true,
        is_connected: true,
        status_updated_at: '2026-11-01T08:00:00.000Z',
        last_activity_at: null,
        kind: 'standard',
        tags: '{"floor":"-1","site":"Lyon"}',
      },
    });
  });

  it.each([
    [{ tags: { deviceName: 'x' } }, 'no modelId tag'],
    [{ tags: { deviceName: 'x', modelId: 'nope' } }, 'unknown model "nope"'],
    [{ tags: { modelId: 'm-std' } }, 'no deviceName tag'],
    [{ version: 'three' }, 'malformed twin: version is not an integer'],
    [{ tags: 'oops' }, 'malformed twin: tags is not an object'],
  ])('skips %j with reason %s', (overrides, reason) => {
    expect(mapDeviceTwin(twin(overrides), models)).toEqual({ kind: 'skipped', key: 'd1', reason });
  });

  it('skips a twin without deviceId as malformed', () => {
    expect(mapDeviceTwin({ version: 1 }, models)).toMatchObject({ kind: 'skipped', reason: 'malformed twin: no deviceId' });
    expect(mapDeviceTwin(null, models)).toMatchObject({ kind: 'skipped' });
  });

  it('maps LoRaWAN desired and reported properties, only the keys present', () => {
    const entry = mapDeviceTwin(
      twin({
        tags: { deviceName: 'Sensor', modelId: 'm-lora' },
        properties: {
          desired: { AppEUI: '70B3D57ED0000001', AppKey: 'K', RX2DataRate: '3', ABPRelaxMode: 'true', Downlink: false },
          reported: { DevAddr: '0228B1B1', GatewayID: 'gw', DataRate: 5, RXDelay: 1 },
        },
      }),
      models,
    );
    expect(entry.kind).toBe('desired');
    const fields = (entry as { fields: Record<string, unknown> }).fields;
    expect(fields).toMatchObject({
      kind: 'lora',
      app_eui: '70B3D57ED0000001',
      app_key: 'K',
      rx2_data_rate: 3,
      abp_relax_mode: true,
      downlink: false,
      use_otaa: true,
      gateway_id: 'gw',
      data_rate: '5',
      reported_rx_delay: 1,
      already_logged_in_once: true,
    });
    expect(fields.app_s_key).toBeUndefined();
    expect(fields.rx_delay).toBeUndefined();
  });

  it('derives ABP (no AppEUI) and never-logged-in (no reported DevAddr)', () => {
    const entry = mapDeviceTwin(twin({ tags: { deviceName: 'S', modelId: 'm-lora' }, properties: { desired: { DevAddr: 'A' } } }), models);
    expect((entry as { fields: Record<string, unknown> }).fields).toMatchObject({ use_otaa: false, already_logged_in_once: false, dev_addr: 'A' });
  });

  it('skips a LoRa twin whose property has the wrong type, naming the property', () => {
    const entry = mapDeviceTwin(twin({ tags: { deviceName: 'S', modelId: 'm-lora' }, properties: { desired: { RXDelay: 'soon' } } }), models);
    expect(entry).toEqual({ kind: 'skipped', key: 'd1', reason: 'malformed twin: desired.RXDelay is not an integer' });
  });

  it('reads connection and enablement', () => {
    const entry = mapDeviceTwin(twin({ status: 'disabled', connectionState: 'Disconnected' }), models);
    expect((entry as { fields: Record<string, unknown> }).fields).toMatchObject({ is_enabled: false, is_connected: false });
  });
});
