/** Which events of the Event Hubs-compatible endpoint become telemetry rows, and why the others are skipped. */
import { describe, expect, it } from 'vitest';
import { mapHubEvent, type HubEvent } from '../../src/commands/telemetry-mapping.js';

const DEVICE_AUTH = JSON.stringify({ scope: 'device', type: 'sas', issuer: 'iothub', acceptingIpFilterRule: null });
const MODULE_AUTH = JSON.stringify({ scope: 'module', type: 'sas', issuer: 'iothub', acceptingIpFilterRule: null });
const UPLINK = {
  time: '2026-12-05T10:00:00.123Z',
  tmms: 1_418_378_400_123,
  freq: 868.1,
  chan: 0,
  rfch: 1,
  modu: 'LORA',
  datr: 'SF7BW125',
  rssi: -57,
  lsnr: 9.5,
  data: { temperature: 21.5 },
  port: 1,
  fcnt: 42,
  edgets: 1_764_928_800_123,
  rawdata: 'QAEAAAAAKgABNAw=',
  eui: '0004A30B001C0530',
  gatewayid: 'gw-1',
  stationeui: 'B827EBFFFE6B4F30',
  dupmsg: false,
};

function event(overrides: Partial<HubEvent> & { system?: Record<string, unknown> } = {}): HubEvent {
  const { system, ...rest } = overrides;
  return {
    sequenceNumber: 12,
    offset: '4096',
    enqueuedTimeUtc: new Date('2026-12-05T10:00:01.000Z'),
    body: UPLINK,
    systemProperties: { 'iothub-connection-device-id': 'lora-1', 'iothub-connection-auth-method': DEVICE_AUTH, 'iothub-message-source': 'Telemetry', ...system },
    ...rest,
  };
}

describe('mapHubEvent', () => {
  it('maps a device-authenticated LoRaWAN uplink to a row keyed by partition and sequence number', () => {
    const mapped = mapHubEvent(event(), '3');
    expect(mapped).toEqual({
      row: {
        partitionId: '3',
        sequenceNumber: 12,
        deviceId: 'lora-1',
        enqueuedAt: '2026-12-05T10:00:01.000Z',
        body: { ...UPLINK, data: '{"temperature":21.5}' },
      },
    });
  });

  it('reads the body from text or bytes, field names in any case, and leaves absent fields empty', () => {
    const text = JSON.stringify({ FCnt: 7, RSSI: -90, GatewayId: 'gw-2' });
    for (const body of [text, Buffer.from(text), new Uint8Array(Buffer.from(text))]) {
      const mapped = mapHubEvent(event({ body }), '0');
      expect('row' in mapped && mapped.row.body).toMatchObject({ fcnt: 7, rssi: -90, gatewayid: 'gw-2', freq: null, data: null });
    }
  });

  it('reads the IoT Hub values from the application properties when the annotations lack them', () => {
    const mapped = mapHubEvent(
      event({ systemProperties: {}, properties: { 'iothub-connection-device-id': 'lora-9', 'iothub-connection-auth-method': DEVICE_AUTH } }),
      '0',
    );
    expect('row' in mapped && mapped.row.deviceId).toBe('lora-9');
  });

  it.each([
    ['a body that is not JSON', { body: 'temperature=21' }, 'malformed body', 'not a JSON object'],
    ['a JSON array', { body: [UPLINK] }, 'malformed body', 'not a JSON object'],
    ['a field of the wrong type', { body: { ...UPLINK, freq: 'high' } }, 'malformed body', 'freq is not a finite number'],
    ['a whole-number field with a fraction', { body: { ...UPLINK, port: 1.5 } }, 'malformed body', 'port is not a whole number'],
    ['a body without any LoRaWAN field', { body: { hello: 'world' } }, 'malformed body', 'none of the LoRaWAN fields'],
    ['a module event', { system: { 'iothub-connection-module-id': 'LoRaWanNetworkSrvModule', 'iothub-connection-auth-method': MODULE_AUTH } }, 'module event', null],
    ['a module-authenticated event', { system: { 'iothub-connection-auth-method': MODULE_AUTH } }, 'module event', null],
    ['no device id', { system: { 'iothub-connection-device-id': undefined } }, 'not device telemetry', 'no iothub-connection-device-id'],
    ['no auth method', { system: { 'iothub-connection-auth-method': undefined } }, 'not device telemetry', 'no iothub-connection-auth-method scope'],
    ['a hub-level auth scope', { system: { 'iothub-connection-auth-method': JSON.stringify({ scope: 'hub' }) } }, 'not device telemetry', 'auth scope hub'],
    ['a twin change notification', { system: { 'iothub-message-source': 'twinChangeEvents' } }, 'not device telemetry', 'message source twinChangeEvents'],
  ] as const)('skips %s', (_, overrides, reason, detail) => {
    const mapped = mapHubEvent(event(overrides as Partial<HubEvent>), '1');
    expect(mapped).toMatchObject({ skip: reason, detail });
    expect('ref' in mapped && mapped.ref).toMatch(/@1\/12$/);
  });

  it('never quotes a body value in its reason (a payload may hold anything)', () => {
    const mapped = mapHubEvent(event({ body: { ...UPLINK, eui: 'x'.repeat(65) } }), '0');
    expect(mapped).toMatchObject({ skip: 'malformed body', detail: 'eui is 65 characters long; at most 64 fit' });
  });
});
