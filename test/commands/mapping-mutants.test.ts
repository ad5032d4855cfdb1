/**
 * The twin-to-row mappings' edges, one behaviour per test: what `npm run mutate` showed the other
 * mapping suites leave unchecked (every LoRaWAN property and the twin field its message names,
 * malformed parts, module twins, the validation labels operators read).
 */
import { describe, expect, it } from 'vitest';
import { CONCENTRATOR_FIELD_SOURCES, firstThumbprint, mapConcentratorTwin } from '../../src/commands/concentrators-mapping.js';
import { DEVICE_FIELD_SOURCES, mapDeviceTwin } from '../../src/commands/devices-mapping.js';
import { addModuleTwin, EDGE_AGENT, EDGE_FIELD_SOURCES, EDGE_HUB, mapEdgeTwin, type ModuleSummary } from '../../src/commands/edge-mapping.js';
import { mapGatewayRow } from '../../src/commands/gateway-ids.js';
import type { DesiredRecord } from '../../src/reconcile/index.js';
import { concentratorValidator } from '../../src/store/concentrators.js';
import { deviceValidator } from '../../src/store/devices.js';
import { edgeDeviceValidator } from '../../src/store/edge.js';
import type { DeviceModel } from '../../src/store/models.js';

const KEYLESS = { kind: 'skipped', key: '(no deviceId)', reason: 'malformed twin: no deviceId', keyless: true };
const GATEWAY_KEYLESS = { kind: 'skipped', key: '(no deviceId)', reason: 'malformed row: no deviceId', keyless: true };

const models = new Map<string, DeviceModel>([
  ['std', { id: 'std', name: 'Standard', description: null, supportLoRaFeatures: false }],
  ['lora', { id: 'lora', name: 'LoRa', description: null, supportLoRaFeatures: true }],
]);

const deviceTwin = (overrides: Record<string, unknown> = {}) => ({
  deviceId: 'd1',
  version: 7,
  status: 'enabled',
  connectionState: 'Connected',
  tags: { deviceName: 'Meter', modelId: 'std' },
  ...overrides,
});
const loraTwin = (desired: Record<string, unknown> = {}, reported: Record<string, unknown> = {}) =>
  deviceTwin({ tags: { deviceName: 'Meter', modelId: 'lora' }, properties: { desired, reported } });
const fieldsOf = (entry: ReturnType<typeof mapDeviceTwin>) => {
  if (entry.kind !== 'desired') throw new Error(`expected a desired record, got ${JSON.stringify(entry)}`);
  return entry.fields;
};

describe('mapDeviceTwin: the key and the version', () => {
  it.each([[null], [undefined], [42], [{}], [{ deviceId: '' }], [{ deviceId: 7 }]])('counts %j as a record without a key', (raw) => {
    expect(mapDeviceTwin(raw, models)).toEqual(KEYLESS);
  });

  it.each([[1.5], ['7'], [null], [undefined]])('skips version %j as malformed', (version) => {
    expect(mapDeviceTwin(deviceTwin({ version }), models)).toEqual({ kind: 'skipped', key: 'd1', reason: 'malformed twin: version is not an integer' });
  });

  it('lets an error that is not about the twin stop the pass', () => {
    const broken = { get: () => { throw new TypeError('models unreadable'); } } as unknown as ReadonlyMap<string, DeviceModel>;
    expect(() => mapDeviceTwin(deviceTwin(), broken)).toThrow('models unreadable');
  });
});

describe('mapDeviceTwin: tags', () => {
  it.each([
    [null, 'no modelId tag'],
    [{ deviceName: 'x', modelId: null }, 'no modelId tag'],
    [{ deviceName: 'x', modelId: '' }, 'no modelId tag'],
    [{ deviceName: 'x', modelId: 5 }, 'malformed twin: tags.modelId is not a string'],
    [{ modelId: 'std', deviceName: null }, 'no deviceName tag'],
    [{ modelId: 'std', deviceName: '' }, 'no deviceName tag'],
    [{ modelId: 'std', deviceName: ['x'] }, 'malformed twin: tags.deviceName is not a string'],
    [{ modelId: 'std', deviceName: 'x', layerId: 3 }, 'malformed twin: tags.layerId is not a string'],
    [['std'], 'malformed twin: tags is not an object'],
    [7, 'malformed twin: tags is not an object'],
  ])('tags %j: skipped, %s', (tags, reason) => {
    expect(mapDeviceTwin(deviceTwin({ tags }), models)).toEqual({ kind: 'skipped', key: 'd1', reason });
  });

  it('stores a missing or null layer as null, and every other tag as text', () => {
    expect(fieldsOf(mapDeviceTwin(deviceTwin(), models)).layer_id).toBeNull();
    const fields = fieldsOf(
      mapDeviceTwin(deviceTwin({ tags: { deviceName: 'M', modelId: 'std', layerId: null, on: true, at: { floor: 2 }, gone: undefined, blank: '' } }), models),
    );
    expect(fields.layer_id).toBeNull();
    expect(fields.tags).toBe('{"at":"{\\"floor\\":2}","blank":"","on":"true"}');
  });

  it('reads only an enabled status and a Connected state as true', () => {
    for (const [status, connectionState] of [['disabled', 'Disconnected'], ['Enabled', 'connected'], [undefined, undefined]]) {
      expect(fieldsOf(mapDeviceTwin(deviceTwin({ status, connectionState }), models))).toMatchObject({ is_enabled: false, is_connected: false });
    }
    expect(fieldsOf(mapDeviceTwin(deviceTwin(), models))).toMatchObject({ is_enabled: true, is_connected: true, kind: 'standard' });
  });

  it('gives a standard device none of the LoRaWAN fields, even when its twin has them', () => {
    const fields = fieldsOf(mapDeviceTwin(deviceTwin({ properties: { desired: { AppEUI: 'E', AppKey: 'K' }, reported: { DevAddr: 'A' } } }), models));
    expect(Object.keys(fields).sort()).toEqual(
      ['device_model_id', 'is_connected', 'is_enabled', 'kind', 'last_activity_at', 'layer_id', 'name', 'status_updated_at', 'tags'].sort(),
    );
  });
});

describe('mapDeviceTwin: LoRaWAN properties', () => {
  it('maps every desired and reported property to its column', () => {
    const fields = fieldsOf(
      mapDeviceTwin(
        loraTwin(
          {
            AppEUI: 'E',
            AppKey: 'K',
            AppSKey: 'SK',
            NwkSKey: 'NK',
            DevAddr: 'DA',
            SensorDecoder: 'http://decoder',
            ClassType: 'C',
            PreferredWindow: 2,
            Deduplication: 'Drop',
            RX1DROffset: 1,
            RX2DataRate: 3,
            RXDelay: 4,
            ABPRelaxMode: true,
            FCntUpStart: 10,
            FCntDownStart: 11,
            FCntResetCounter: 12,
            Supports32BitFCnt: false,
            KeepAliveTimeout: 60,
            Downlink: true,
          },
          { GatewayID: 'gw', DataRate: 'SF7', TxPower: '14', NbRep: 1, RX2DataRate: 5, RX1DROffset: 6, RXDelay: 7, DevAddr: 'R' },
        ),
        models,
      ),
    );
    expect(fields).toEqual({
      name: 'Meter',
      device_model_id: 'lora',
      layer_id: null,
      is_enabled: true,
      is_connected: true,
      status_updated_at: null,
      last_activity_at: null,
      kind: 'lora',
      tags: '{}',
      app_eui: 'E',
      app_key: 'K',
      app_s_key: 'SK',
      nwk_s_key: 'NK',
      dev_addr: 'DA',
      sensor_decoder: 'http://decoder',
      class_type: 'C',
      preferred_window: 2,
      deduplication: 'Drop',
      rx1_dr_offset: 1,
      rx2_data_rate: 3,
      rx_delay: 4,
      abp_relax_mode: true,
      fcnt_up_start: 10,
      fcnt_down_start: 11,
      fcnt_reset_counter: 12,
      supports_32bit_fcnt: false,
      keep_alive_timeout: 60,
      downlink: true,
      use_otaa: true,
      gateway_id: 'gw',
      data_rate: 'SF7',
      tx_power: '14',
      nb_rep: 1,
      reported_rx2_data_rate: 5,
      reported_rx1_dr_offset: 6,
      reported_rx_delay: 7,
      already_logged_in_once: true,
    });
  });

  it('leaves absent and null properties undefined, so stored values are kept', () => {
    const fields = fieldsOf(mapDeviceTwin(loraTwin({ AppKey: null, RXDelay: null, Downlink: null }, { NbRep: null }), models));
    for (const column of ['app_key', 'rx_delay', 'downlink', 'nb_rep', 'app_eui', 'gateway_id', 'fcnt_up_start']) expect(fields[column], column).toBeUndefined();
    expect(fields).toMatchObject({ use_otaa: false, already_logged_in_once: false });
    expect(fieldsOf(mapDeviceTwin(deviceTwin({ tags: { deviceName: 'M', modelId: 'lora' } }), models))).toMatchObject({ kind: 'lora', use_otaa: false });
  });

  it('reads numbers and booleans given as text, and text given as numbers or booleans', () => {
    const fields = fieldsOf(mapDeviceTwin(loraTwin({ RXDelay: ' 5 ', FCntUpStart: '-3', Downlink: 'false', ABPRelaxMode: 'true', ClassType: 3, AppKey: true }), models));
    expect(fields).toMatchObject({ rx_delay: 5, fcnt_up_start: -3, downlink: false, abp_relax_mode: true, class_type: '3', app_key: 'true' });
  });

  it('is OTAA only with a non-blank text AppEUI, and logged in once only with a reported DevAddr', () => {
    expect(fieldsOf(mapDeviceTwin(loraTwin({ AppEUI: '   ' }), models)).use_otaa).toBe(false);
    expect(fieldsOf(mapDeviceTwin(loraTwin({ AppEUI: 42 }), models))).toMatchObject({ use_otaa: false, app_eui: '42' });
    expect(fieldsOf(mapDeviceTwin(loraTwin({ AppEUI: 'E' }), models)).use_otaa).toBe(true);
    expect(fieldsOf(mapDeviceTwin(loraTwin({}, { DevAddr: '' }), models)).already_logged_in_once).toBe(false);
    expect(fieldsOf(mapDeviceTwin(loraTwin({}, { DevAddr: null }), models)).already_logged_in_once).toBe(false);
    expect(fieldsOf(mapDeviceTwin(loraTwin({ DevAddr: 'A' }, {}), models)).already_logged_in_once).toBe(false);
    expect(fieldsOf(mapDeviceTwin(loraTwin({}, { DevAddr: 'A' }), models)).already_logged_in_once).toBe(true);
  });

  // The twin field each message names, spelled out here: what an operator looks for in the portal.
  const TEXT = ['AppEUI', 'AppKey', 'AppSKey', 'NwkSKey', 'DevAddr', 'SensorDecoder', 'ClassType', 'Deduplication'];
  const INTEGER = ['PreferredWindow', 'RX1DROffset', 'RX2DataRate', 'RXDelay', 'FCntUpStart', 'FCntDownStart', 'FCntResetCounter', 'KeepAliveTimeout'];
  const BOOLEAN = ['ABPRelaxMode', 'Supports32BitFCnt', 'Downlink'];
  const REPORTED_TEXT = ['GatewayID', 'DataRate', 'TxPower'];
  const REPORTED_INTEGER = ['NbRep', 'RX2DataRate', 'RX1DROffset', 'RXDelay'];
  const skipped = (reason: string) => ({ kind: 'skipped', key: 'd1', reason: `malformed twin: ${reason}` });

  it.each(TEXT)('names desired.%s when it is not text', (name) => {
    expect(mapDeviceTwin(loraTwin({ [name]: { value: 1 } }), models)).toEqual(skipped(`desired.${name} is not a string`));
  });
  it.each(INTEGER)('names desired.%s when it is not a whole number', (name) => {
    for (const bad of ['', '  ', '1.5', 'x', 2.5, true, [1]]) {
      expect(mapDeviceTwin(loraTwin({ [name]: bad }), models), JSON.stringify(bad)).toEqual(skipped(`desired.${name} is not an integer`));
    }
  });
  it.each(BOOLEAN)('names desired.%s when it is not a boolean', (name) => {
    for (const bad of ['yes', 'TRUE', 1, 0, '']) {
      expect(mapDeviceTwin(loraTwin({ [name]: bad }), models), JSON.stringify(bad)).toEqual(skipped(`desired.${name} is not a boolean`));
    }
  });
  it.each(REPORTED_TEXT)('names reported.%s when it is not text', (name) => {
    expect(mapDeviceTwin(loraTwin({}, { [name]: ['x'] }), models)).toEqual(skipped(`reported.${name} is not a string`));
  });
  it.each(REPORTED_INTEGER)('names reported.%s when it is not a whole number', (name) => {
    expect(mapDeviceTwin(loraTwin({}, { [name]: 'fast' }), models)).toEqual(skipped(`reported.${name} is not an integer`));
  });

  it.each([
    [{ properties: [] }, 'properties is not an object'],
    [{ properties: 'p' }, 'properties is not an object'],
    [{ properties: { desired: 'd' } }, 'properties.desired is not an object'],
    [{ properties: { desired: {}, reported: [1] } }, 'properties.reported is not an object'],
  ])('skips a LoRa twin with %j', (overrides, reason) => {
    expect(mapDeviceTwin(deviceTwin({ tags: { deviceName: 'M', modelId: 'lora' }, ...overrides }), models)).toEqual(skipped(reason));
  });

  it('takes null properties as none', () => {
    expect(fieldsOf(mapDeviceTwin(deviceTwin({ tags: { deviceName: 'M', modelId: 'lora' }, properties: null }), models)).kind).toBe('lora');
    expect(fieldsOf(mapDeviceTwin(deviceTwin({ tags: { deviceName: 'M', modelId: 'lora' }, properties: { desired: null, reported: null } }), models)).kind).toBe('lora');
  });
});

describe('validation messages name the twin field', () => {
  const device = (fields: Record<string, unknown>, key = 'd1', version = 1): DesiredRecord => ({
    key,
    version,
    fields: { name: 'D', device_model_id: 'm', layer_id: null, is_enabled: true, is_connected: false, status_updated_at: null, last_activity_at: null, kind: 'standard', tags: '{}', ...fields } as never,
  });
  const long = 'x'.repeat(256);

  it('for a device', () => {
    const validate = deviceValidator(DEVICE_FIELD_SOURCES);
    expect(validate(device({}, long))).toBe('deviceId is 256 characters long; at most 255 fit');
    expect(validate(device({}, 'd1', 0))).toMatch(/^version 0 is not a whole number/);
    expect(validate(device({ name: 5 }))).toBe('tags.deviceName is not text');
    expect(validate(device({ device_model_id: long }))).toBe('tags.modelId is 256 characters long; at most 255 fit');
    expect(validate(device({ status_updated_at: 'soon' }))).toBe('statusUpdateTime "soon" is not a real instant');
    expect(validate(device({ last_activity_at: 'later' }))).toBe('lastActivityTime "later" is not a real instant');
    const lora: Array<[string, unknown, string]> = [
      ['app_eui', 'e'.repeat(65), 'desired.AppEUI is 65 characters long; at most 64 fit'],
      ['app_s_key', 'k'.repeat(65), 'desired.AppSKey is 65 characters long; at most 64 fit'],
      ['nwk_s_key', 'k'.repeat(65), 'desired.NwkSKey is 65 characters long; at most 64 fit'],
      ['dev_addr', 'a'.repeat(65), 'desired.DevAddr is 65 characters long; at most 64 fit'],
      ['sensor_decoder', 'a\u0000', 'desired.SensorDecoder contains a NUL character'],
      ['class_type', 'c'.repeat(17), 'desired.ClassType is 17 characters long; at most 16 fit'],
      ['preferred_window', 2 ** 31, `desired.PreferredWindow ${2 ** 31} is outside the 32-bit integer range`],
      ['deduplication', 'd'.repeat(33), 'desired.Deduplication is 33 characters long; at most 32 fit'],
      ['rx1_dr_offset', 2 ** 31, `desired.RX1DROffset ${2 ** 31} is outside the 32-bit integer range`],
      ['rx2_data_rate', 2 ** 31, `desired.RX2DataRate ${2 ** 31} is outside the 32-bit integer range`],
      ['rx_delay', 2 ** 31, `desired.RXDelay ${2 ** 31} is outside the 32-bit integer range`],
      ['abp_relax_mode', 'yes', 'desired.ABPRelaxMode is not a boolean'],
      ['fcnt_up_start', 2 ** 31, `desired.FCntUpStart ${2 ** 31} is outside the 32-bit integer range`],
      ['fcnt_down_start', 2 ** 31, `desired.FCntDownStart ${2 ** 31} is outside the 32-bit integer range`],
      ['fcnt_reset_counter', 2 ** 31, `desired.FCntResetCounter ${2 ** 31} is outside the 32-bit integer range`],
      ['supports_32bit_fcnt', 'yes', 'desired.Supports32BitFCnt is not a boolean'],
      ['keep_alive_timeout', 2 ** 31, `desired.KeepAliveTimeout ${2 ** 31} is outside the 32-bit integer range`],
      ['downlink', 'yes', 'desired.Downlink is not a boolean'],
      ['gateway_id', long, 'reported.GatewayID is 256 characters long; at most 255 fit'],
      ['data_rate', 'r'.repeat(65), 'reported.DataRate is 65 characters long; at most 64 fit'],
      ['tx_power', 'p'.repeat(65), 'reported.TxPower is 65 characters long; at most 64 fit'],
      ['nb_rep', 2 ** 31, `reported.NbRep ${2 ** 31} is outside the 32-bit integer range`],
      ['reported_rx2_data_rate', 2 ** 31, `reported.RX2DataRate ${2 ** 31} is outside the 32-bit integer range`],
      ['reported_rx1_dr_offset', 2 ** 31, `reported.RX1DROffset ${2 ** 31} is outside the 32-bit integer range`],
      ['reported_rx_delay', 2 ** 31, `reported.RXDelay ${2 ** 31} is outside the 32-bit integer range`],
    ];
    for (const [column, value, message] of lora) expect(validate(device({ kind: 'lora', [column]: value })), column).toBe(message);
  });

  it('for an edge device', () => {
    const validate = edgeDeviceValidator(EDGE_FIELD_SOURCES);
    const edge = (fields: Record<string, unknown>, key = 'e1', version = 1): DesiredRecord => ({
      key,
      version,
      fields: { name: 'E', device_model_id: 'em', connection_state: 'Connected', is_enabled: true, nb_modules: 0, nb_devices: 0, modules: '[]', tags: '{}', ...fields } as never,
    });
    expect(validate(edge({}))).toBeNull();
    expect(validate(edge({}, long))).toBe('deviceId is 256 characters long; at most 255 fit');
    expect(validate(edge({}, 'e1', 1.5))).toMatch(/^version 1.5 is not a whole number/);
    expect(validate(edge({ name: 5 }))).toBe('tags.deviceName is not text');
    expect(validate(edge({ device_model_id: long }))).toBe('tags.modelId is 256 characters long; at most 255 fit');
  });

  it('for a concentrator', () => {
    const validate = concentratorValidator(CONCENTRATOR_FIELD_SOURCES);
    const concentrator = (fields: Record<string, unknown>, key = 'c1', version = 1): DesiredRecord => ({
      key,
      version,
      fields: { name: 'C', lora_region: 'EU863', device_type: null, client_thumbprint: null, is_connected: false, is_enabled: true, ...fields } as never,
    });
    expect(validate(concentrator({}))).toBeNull();
    expect(validate(concentrator({}, long))).toBe('deviceId is 256 characters long; at most 255 fit');
    expect(validate(concentrator({}, 'c1', -4))).toMatch(/^version -4 is not a whole number/);
    const bad: Array<[string, string]> = [
      ['name', 'tags.deviceName'],
      ['lora_region', 'tags.loraRegion'],
      ['device_type', 'tags.deviceType'],
      ['client_thumbprint', 'desired.clientThumbprint[0]'],
    ];
    for (const [column, source] of bad) expect(validate(concentrator({ [column]: 7 })), column).toBe(`${source} is not text`);
  });
});

function moduleSummaries(...twins: unknown[]): Map<string, ModuleSummary> {
  const map = new Map<string, ModuleSummary>();
  for (const twin of twins) addModuleTwin(map, twin);
  return map;
}
const agentTwin = (properties: unknown, deviceId: unknown = 'e1') => ({ deviceId, moduleId: '$edgeAgent', properties });
const hubTwin = (properties: unknown, deviceId: unknown = 'e1') => ({ deviceId, moduleId: '$edgeHub', properties });

describe('module twins', () => {
  it('names the two system modules', () => {
    expect([EDGE_AGENT, EDGE_HUB]).toEqual(['$edgeAgent', '$edgeHub']);
  });

  it('ignores other modules and twins without a device id', () => {
    const map = moduleSummaries(null, { moduleId: '$edgeAgent' }, agentTwin({}, 42), { deviceId: 'e1', moduleId: 'LoRaWanNetworkSrvModule' }, { deviceId: 'e1' });
    expect(map.size).toBe(0);
  });

  it('keeps the agent and the hub of one device side by side, and devices apart', () => {
    const map = moduleSummaries(hubTwin({ reported: { clients: { a: {} } } }), agentTwin({ desired: { modules: {} } }, 'e2'), agentTwin({ desired: { modules: {} } }));
    expect(map.get('e1')).toEqual({ agent: { nbModules: 0, modules: [] }, hub: { nbDevices: 1 } });
    expect(map.get('e2')).toEqual({ agent: { nbModules: 0, modules: [] }, hub: null });
  });

  it('reads each module’s status, version and image, the reported runtime status first', () => {
    const map = moduleSummaries(
      agentTwin({
        desired: {
          modules: {
            asked: { status: 'running', version: '2', settings: { image: 'img:2' } },
            running: { status: 'running' },
            odd: { status: 3, version: 1.5, settings: { image: { tag: 'x' } } },
            bare: 'not an object',
          },
        },
        reported: { modules: { running: { runtimeStatus: 'backoff' }, asked: 'nonsense', odd: { runtimeStatus: null } } },
      }),
    );
    expect(map.get('e1')!.agent).toEqual({
      nbModules: 4,
      modules: [
        { name: 'asked', status: 'running', version: '2', image: 'img:2' },
        { name: 'running', status: 'backoff', version: null, image: null },
        { name: 'odd', status: '3', version: '1.5', image: '{"tag":"x"}' },
        { name: 'bare', status: null, version: null, image: null },
      ],
    });
  });

  it.each([[undefined], [null], [{}], [{ desired: [] }], [{ desired: { modules: [] } }], [{ desired: { modules: 'm' } }]])(
    'takes an agent with properties %j as malformed',
    (properties) => {
      expect(moduleSummaries(agentTwin(properties)).get('e1')!.agent).toEqual({ malformed: '$edgeAgent desired.modules is not an object' });
    },
  );

  it('counts a hub’s clients, none when it reports none, and takes other shapes as malformed', () => {
    const hubOf = (properties: unknown) => moduleSummaries(hubTwin(properties)).get('e1')!.hub;
    expect(hubOf({ reported: { clients: { a: {}, b: {}, c: {} } } })).toEqual({ nbDevices: 3 });
    expect(hubOf({ reported: {} })).toEqual({ nbDevices: 0 });
    expect(hubOf({ reported: { clients: null } })).toEqual({ nbDevices: 0 });
    expect(hubOf({ reported: { clients: ['a'] } })).toEqual({ malformed: '$edgeHub reported.clients is not an object' });
    expect(hubOf({ reported: { clients: 'a' } })).toEqual({ malformed: '$edgeHub reported.clients is not an object' });
    for (const properties of [undefined, {}, { reported: null }, { reported: [] }, { reported: 'r' }]) {
      expect(hubOf(properties), JSON.stringify(properties)).toEqual({ malformed: '$edgeHub reported properties are not an object' });
    }
  });
});

describe('mapEdgeTwin', () => {
  const models = new Set(['em']);
  const edgeTwin = (extra: Record<string, unknown> = {}) => ({ deviceId: 'e1', version: 3, status: 'enabled', connectionState: 'Connected', tags: { modelId: 'em' }, ...extra });
  const good = moduleSummaries(agentTwin({ desired: { modules: { m: { status: 'running' } } } }), hubTwin({ reported: { clients: { c: {} } } })).get('e1');

  it.each([[null], [{}], [{ deviceId: '' }], [{ deviceId: 1 }]])('counts %j as a record without a key', (raw) => {
    expect(mapEdgeTwin(raw, models, good, null)).toEqual(KEYLESS);
  });

  it.each([[1.5], ['3'], [undefined]])('skips version %j as malformed', (version) => {
    expect(mapEdgeTwin(edgeTwin({ version }), models, good, null)).toEqual({ kind: 'skipped', key: 'e1', reason: 'malformed twin: version is not an integer' });
  });

  it.each([
    [null, 'no modelId tag'],
    [[], 'no modelId tag'],
    [{ modelId: null }, 'no modelId tag'],
    [{ modelId: '' }, 'no modelId tag'],
    [{ modelId: 42 }, 'unknown edge device model "42"'],
  ])('tags %j: skipped, %s', (tags, reason) => {
    expect(mapEdgeTwin(edgeTwin({ tags }), models, good, null)).toEqual({ kind: 'skipped', key: 'e1', reason });
  });

  it('maps a device with both module twins, without warnings', () => {
    const entry = mapEdgeTwin(edgeTwin({ tags: { modelId: 'em', deviceName: '', site: 'Lyon', n: 2, gone: undefined } }), models, good, null);
    expect(entry).toStrictEqual({
      kind: 'desired',
      key: 'e1',
      version: 3,
      fields: {
        name: 'e1',
        device_model_id: 'em',
        connection_state: 'Connected',
        is_enabled: true,
        nb_modules: 1,
        nb_devices: 1,
        modules: '[{"name":"m","status":"running","version":null,"image":null}]',
        tags: '{"n":"2","site":"Lyon"}',
      },
    });
  });

  it('reads any state but Connected as Disconnected, and only an enabled status as enabled', () => {
    const entry = mapEdgeTwin(edgeTwin({ connectionState: 'connected', status: 'disabled' }), models, good, null);
    expect(entry).toMatchObject({ fields: { connection_state: 'Disconnected', is_enabled: false } });
  });

  it('warns about malformed module twins and counts nothing from them', () => {
    const bad = moduleSummaries(agentTwin({ desired: { modules: [] } }), hubTwin({ reported: 'r' })).get('e1');
    const entry = mapEdgeTwin(edgeTwin(), models, bad, null);
    expect(entry).toMatchObject({ kind: 'desired', fields: { nb_modules: 0, nb_devices: 0, modules: '[]' } });
    expect((entry as { warnings?: string[] }).warnings).toEqual([
      'malformed module twin: $edgeAgent desired.modules is not an object; 0 modules',
      'malformed module twin: $edgeHub reported properties are not an object; 0 connected devices',
    ]);
  });

  it('warns about the one missing module twin only', () => {
    const agentOnly = moduleSummaries(agentTwin({ desired: { modules: {} } })).get('e1');
    expect((mapEdgeTwin(edgeTwin(), models, agentOnly, null) as { warnings?: string[] }).warnings).toEqual(['no $edgeHub module twin: 0 connected devices']);
    const hubOnly = moduleSummaries(hubTwin({ reported: { clients: { a: {} } } })).get('e1');
    const entry = mapEdgeTwin(edgeTwin(), models, hubOnly, null);
    expect(entry).toMatchObject({ fields: { nb_devices: 1, nb_modules: 0 } });
    expect((entry as { warnings?: string[] }).warnings).toEqual(['no $edgeAgent module twin: 0 modules']);
  });

  it('fails a device missing either module twin when the module listing stopped early', () => {
    const failed = { kind: 'failed', key: 'e1', error: 'module twins not read: page 3 failed' };
    const hubOnly = moduleSummaries(hubTwin({ reported: {} })).get('e1');
    expect(mapEdgeTwin(edgeTwin(), models, hubOnly, 'page 3 failed')).toEqual(failed);
    expect(mapEdgeTwin(edgeTwin(), models, undefined, 'page 3 failed')).toEqual(failed);
    expect(mapEdgeTwin(edgeTwin(), models, good, 'page 3 failed')).toMatchObject({ kind: 'desired' });
  });
});

describe('mapConcentratorTwin', () => {
  const twin = (extra: Record<string, unknown> = {}) => ({ deviceId: 'c1', version: 2, tags: { loraRegion: 'EU863' }, ...extra });

  it.each([[null], [{}], [{ deviceId: '' }], [{ deviceId: 9 }]])('counts %j as a record without a key', (raw) => {
    expect(mapConcentratorTwin(raw)).toEqual(KEYLESS);
  });

  it.each([[2.5], ['2'], [undefined]])('skips version %j as malformed', (version) => {
    expect(mapConcentratorTwin(twin({ version }))).toEqual({ kind: 'skipped', key: 'c1', reason: 'malformed twin: version is not an integer' });
  });

  it.each([[null], ['EU863'], [{}], [{ loraRegion: '' }], [{ loraRegion: 868 }]])('skips tags %j: no region', (tags) => {
    expect(mapConcentratorTwin(twin({ tags }))).toEqual({ kind: 'skipped', key: 'c1', reason: 'no loraRegion tag' });
  });

  it('names it by its id without a usable name; no type, thumbprint, connection or enablement when absent', () => {
    expect(mapConcentratorTwin(twin({ tags: { loraRegion: 'US902', deviceName: '', deviceType: 5 } }))).toEqual({
      kind: 'desired',
      key: 'c1',
      version: 2,
      fields: { name: 'c1', lora_region: 'US902', device_type: null, client_thumbprint: null, is_connected: false, is_enabled: false },
    });
    expect(mapConcentratorTwin(twin({ properties: { desired: { clientThumbprint: ['T'] } } }))).toMatchObject({ fields: { client_thumbprint: 'T' } });
  });

  it('is connected and enabled only on the exact words', () => {
    expect(mapConcentratorTwin(twin({ connectionState: 'Connected', status: 'enabled' }))).toMatchObject({ fields: { is_connected: true, is_enabled: true } });
    expect(mapConcentratorTwin(twin({ connectionState: 'connected', status: 'Enabled' }))).toMatchObject({ fields: { is_connected: false, is_enabled: false } });
  });

  it('takes only a non-empty text first thumbprint', () => {
    expect(firstThumbprint(['AB'])).toBe('AB');
    expect(firstThumbprint(['', 'CD'])).toBeNull();
    expect(firstThumbprint([null, 'CD'])).toBeNull();
  });
});

describe('mapGatewayRow', () => {
  it.each([[null], [undefined], [{}], [{ deviceId: '' }], [{ deviceId: 12 }]])('counts %j as a row without a key', (raw) => {
    expect(mapGatewayRow(raw)).toEqual(GATEWAY_KEYLESS);
  });
});
