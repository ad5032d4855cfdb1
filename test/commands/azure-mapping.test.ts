import { describe, expect, it } from 'vitest';
import { firstThumbprint, mapConcentratorTwin } from '../../src/commands/concentrators-mapping.js';
import { addModuleTwin, mapEdgeTwin, type ModuleSummary } from '../../src/commands/edge-mapping.js';
import { mapGatewayRow } from '../../src/commands/gateway-ids.js';

const models = new Set(['em-gw']);
const edgeTwin = (extra: Record<string, unknown> = {}) => ({
  deviceId: 'e1',
  version: 2,
  status: 'enabled',
  connectionState: 'Connected',
  tags: { deviceName: 'Gateway', modelId: 'em-gw', layerId: 'l1' },
  ...extra,
});

function summaries(...moduleTwins: unknown[]): Map<string, ModuleSummary> {
  const map = new Map<string, ModuleSummary>();
  for (const twin of moduleTwins) addModuleTwin(map, twin);
  return map;
}

describe('edge mapping', () => {
  const agent = {
    deviceId: 'e1',
    moduleId: '$edgeAgent',
    properties: {
      desired: { modules: { b: { status: 'running', version: '1.2', settings: { image: 'img/b:1' } }, a: { status: 'stopped' } } },
      reported: { modules: { b: { runtimeStatus: 'backoff' } } },
    },
  };
  const hub = { deviceId: 'e1', moduleId: '$edgeHub', properties: { reported: { clients: { x: {}, y: {} } } } };

  it('counts modules and clients, lists modules sorted with the reported runtime status', () => {
    const entry = mapEdgeTwin(edgeTwin(), models, summaries(agent, hub, { deviceId: 'e1', moduleId: 'other' }).get('e1'), null);
    expect(entry).toEqual({
      kind: 'desired',
      key: 'e1',
      version: 2,
      fields: {
        name: 'Gateway',
        device_model_id: 'em-gw',
        connection_state: 'Connected',
        is_enabled: true,
        nb_modules: 2,
        nb_devices: 2,
        modules:
          '[{"name":"a","status":"stopped","version":null,"image":null},{"name":"b","status":"backoff","version":"1.2","image":"img/b:1"}]',
        tags: '{"layerId":"l1"}',
      },
    });
  });

  it('skips without a model tag or with an unknown edge model', () => {
    expect(mapEdgeTwin(edgeTwin({ tags: { deviceName: 'x' } }), models, undefined, null)).toEqual({ kind: 'skipped', key: 'e1', reason: 'no modelId tag' });
    expect(mapEdgeTwin(edgeTwin({ tags: { modelId: 'nope' } }), models, undefined, null)).toEqual({
      kind: 'skipped',
      key: 'e1',
      reason: 'unknown edge device model "nope"',
    });
  });

  it('syncs a device without module twins, with warnings', () => {
    const entry = mapEdgeTwin(edgeTwin(), models, undefined, null);
    expect(entry).toMatchObject({ kind: 'desired', fields: { nb_modules: 0, nb_devices: 0, modules: '[]' } });
    expect((entry as { warnings?: string[] }).warnings).toEqual(['no $edgeAgent module twin: 0 modules', 'no $edgeHub module twin: 0 connected devices']);
  });

  it('fails (does not guess) a device whose module twins were not all read', () => {
    const partial = summaries(agent).get('e1');
    expect(mapEdgeTwin(edgeTwin(), models, partial, 'page 2 failed')).toEqual({ kind: 'failed', key: 'e1', error: 'module twins not read: page 2 failed' });
    expect(mapEdgeTwin(edgeTwin(), models, summaries(agent, hub).get('e1'), 'page 2 failed').kind).toBe('desired');
  });

  it('names the device by its id when it has no deviceName tag', () => {
    expect(mapEdgeTwin(edgeTwin({ tags: { modelId: 'em-gw' } }), models, summaries(agent, hub).get('e1'), null)).toMatchObject({ fields: { name: 'e1' } });
  });
});

describe('concentrator mapping', () => {
  const twin = (extra: Record<string, unknown> = {}) => ({
    deviceId: 'c1',
    version: 4,
    connectionState: 'Disconnected',
    status: 'disabled',
    tags: { deviceName: 'Roof', deviceType: 'LoRa Concentrator', loraRegion: 'EU863' },
    properties: { desired: { clientThumbprint: ['AB', 'CD'] } },
    ...extra,
  });

  it('maps region, type, first thumbprint, connection and enablement', () => {
    expect(mapConcentratorTwin(twin())).toEqual({
      kind: 'desired',
      key: 'c1',
      version: 4,
      fields: { name: 'Roof', lora_region: 'EU863', device_type: 'LoRa Concentrator', client_thumbprint: 'AB', is_connected: false, is_enabled: false },
    });
  });

  it('skips a twin without loraRegion', () => {
    expect(mapConcentratorTwin(twin({ tags: { deviceName: 'x' } }))).toEqual({ kind: 'skipped', key: 'c1', reason: 'no loraRegion tag' });
  });

  it.each([[undefined], [[]], ['AB'], [[42]], [{ 0: 'AB' }], [null]])('thumbprint %j gives null', (value) => {
    expect(firstThumbprint(value)).toBeNull();
  });
});

describe('gateway id rows', () => {
  it('maps a deviceId, skips a row without one', () => {
    expect(mapGatewayRow({ deviceId: 'gw' })).toEqual({ kind: 'desired', key: 'gw', version: 0, fields: {} });
    expect(mapGatewayRow({})).toMatchObject({ kind: 'skipped' });
  });
});
