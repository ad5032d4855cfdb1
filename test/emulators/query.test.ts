import { describe, expect, it } from 'vitest';
import { DEVICES_FILTER } from '../../src/commands/devices.js';
import { EDGE_FILTER } from '../../src/commands/edge.js';
import { connectedOnly } from '../../src/commands/fleet-azure.js';
import { executeQuery, parseQuery, QuerySyntaxError } from '../../src/emulators/iothub/query.js';

const twins = [
  { deviceId: 'd1', version: 3, capabilities: { iotEdge: false }, tags: { deviceName: 'One', modelId: 'm1', floor: 2 }, properties: { desired: { $version: 1 }, reported: { $version: 4, temp: 21.5 } } },
  { deviceId: 'd2', version: 1, capabilities: { iotEdge: false }, tags: { deviceName: "O'Brien", modelId: 'm2', floor: 5 }, properties: { desired: { $version: 1 }, reported: { $version: 1 } } },
  { deviceId: 'e1', version: 2, capabilities: { iotEdge: true }, tags: { deviceName: 'Edge', modelId: 'em1' }, properties: { desired: { $version: 1 }, reported: { $version: 1 } } },
  { deviceId: 'c1', version: 1, capabilities: { iotEdge: false }, tags: { deviceName: 'Conc', deviceType: 'LoRa Concentrator', loraRegion: 'EU863' }, properties: { desired: { $version: 1 }, reported: { $version: 1 } } },
  { deviceId: 'n1', version: 1, capabilities: { iotEdge: false }, tags: { deviceName: 'Null', modelId: null }, properties: { desired: { $version: 1 }, reported: { $version: 1 } } },
];
const moduleTwins = [
  { deviceId: 'e1', moduleId: '$edgeAgent', version: 1, properties: { desired: { modules: { a: {} } }, reported: {} } },
  { deviceId: 'e1', moduleId: '$edgeHub', version: 1, properties: { desired: {}, reported: { clients: {} } } },
  { deviceId: 'e1', moduleId: 'LoRaWanNetworkSrvModule', version: 1, properties: { desired: {}, reported: {} } },
  { deviceId: 'e2', moduleId: '$edgeAgent', version: 1, properties: { desired: {}, reported: {} } },
];
const source = { twins, moduleTwins };

function ids(q: string): string[] {
  return executeQuery(parseQuery(q), source).map((r) => (r as { deviceId: string; moduleId?: string }).moduleId ? `${(r as { deviceId: string }).deviceId}/${(r as { moduleId: string }).moduleId}` : (r as { deviceId: string }).deviceId);
}

describe('parseQuery', () => {
  it('parses SELECT *, projections, COUNT and the collections, keywords in any case', () => {
    const a = parseQuery('select * from DEVICES');
    expect(a.select).toEqual({ kind: 'star' });
    expect(a.from).toBe('devices');
    expect(a.itemType).toBe('Twin');
    const b = parseQuery('SELECT deviceId, tags.site, properties.reported.x AS reportedX FROM devices.modules');
    expect(b.from).toBe('devices.modules');
    expect(b.itemType).toBe('Raw');
    expect(b.select).toEqual({
      kind: 'paths',
      items: [
        { path: ['deviceId'], key: 'deviceId' },
        { path: ['tags', 'site'], key: 'site' },
        { path: ['properties', 'reported', 'x'], key: 'reportedX' },
      ],
    });
    expect(parseQuery('SELECT COUNT() AS total FROM devices').select).toEqual({ kind: 'count', alias: 'total' });
    expect(parseQuery('SELECT TOP 2 * FROM devices').top).toBe(2);
  });

  it.each([
    ['', /empty/],
    ['SELECT', /expected a property path, \* or COUNT\(\)/],
    ['SELECT * FROM', /expected devices or devices.modules/],
    ['SELECT * FROM things', /unsupported collection 'things'/],
    ['SELECT * FROM devices WHERE', /expected a property path or a literal but found end of query/],
    ['SELECT * FROM devices WHERE tags.a', /expected a comparison operator/],
    ["SELECT * FROM devices WHERE tags.a = 'x", /unterminated string/],
    ['SELECT * FROM devices WHERE tags.a IN (1, 2)', /expected '\['/],
    ['SELECT * FROM devices WHERE tags.a IN [tags.b]', /a literal in the IN list/],
    ['SELECT * FROM devices WHERE (tags.a = 1', /expected '\)'/],
    ["SELECT * FROM devices WHERE tags.a = 1 tags.b = 2", /expected AND, OR or end of query but found 'tags'/],
    ['SELECT * FROM devices WHERE tags.a # 1', /unexpected character '#' at position 36/],
    ['SELECT * FROM devices GARBAGE', /expected WHERE or end of query/],
  ])('rejects %j', (q, message) => {
    expect(() => parseQuery(q)).toThrow(QuerySyntaxError);
    expect(() => parseQuery(q)).toThrow(message);
  });
});

describe('executeQuery', () => {
  it("runs the portal's device query: edge devices and concentrators are excluded", () => {
    expect(ids("SELECT * FROM devices WHERE capabilities.iotEdge = false AND (NOT IS_DEFINED(tags.deviceType) OR tags.deviceType != 'LoRa Concentrator')")).toEqual([
      'd1',
      'd2',
      'n1',
    ]);
  });

  it('treats a comparison on an undefined path as false, so != alone drops untagged twins', () => {
    expect(ids("SELECT * FROM devices WHERE tags.deviceType != 'LoRa Concentrator'")).toEqual([]);
    expect(ids("SELECT * FROM devices WHERE NOT (tags.deviceType = 'LoRa Concentrator')")).toEqual(['d1', 'd2', 'e1', 'n1']);
    expect(ids("SELECT * FROM devices WHERE tags.deviceType NOT IN ['X']")).toEqual(['c1']);
  });

  it('compares numbers, strings, booleans and null; <> is !=', () => {
    expect(ids('SELECT * FROM devices WHERE tags.floor >= 3')).toEqual(['d2']);
    expect(ids('SELECT * FROM devices WHERE tags.floor < 3')).toEqual(['d1']);
    expect(ids("SELECT * FROM devices WHERE tags.floor > '1'")).toEqual([]);
    expect(ids('SELECT * FROM devices WHERE version <> 1')).toEqual(['d1', 'e1']);
    expect(ids('SELECT * FROM devices WHERE capabilities.iotEdge = TRUE')).toEqual(['e1']);
    expect(ids('SELECT * FROM devices WHERE tags.modelId = null')).toEqual(['n1']);
    expect(ids('SELECT * FROM devices WHERE IS_DEFINED(tags.modelId) AND tags.modelId != null')).toEqual(['d1', 'd2', 'e1']);
    expect(ids('SELECT * FROM devices WHERE properties.reported.temp > 20.25')).toEqual(['d1']);
    expect(ids('SELECT * FROM devices WHERE properties.reported.$version = 4')).toEqual(['d1']);
    expect(ids("SELECT * FROM devices WHERE tags.deviceName = 'O''Brien'")).toEqual(['d2']);
    expect(ids("SELECT * FROM devices WHERE 'm1' = tags.modelId")).toEqual(['d1']);
    expect(ids('SELECT * FROM devices WHERE tags.floor > -1 AND tags.floor < 1e1')).toEqual(['d1', 'd2']);
  });

  it('honours precedence: NOT > AND > OR, and parentheses', () => {
    expect(ids("SELECT * FROM devices WHERE deviceId = 'd1' OR deviceId = 'd2' AND version = 3")).toEqual(['d1']);
    expect(ids("SELECT * FROM devices WHERE (deviceId = 'd1' OR deviceId = 'd2') AND version = 1")).toEqual(['d2']);
    expect(ids("SELECT * FROM devices WHERE NOT deviceId = 'd1' AND NOT capabilities.iotEdge = true")).toEqual(['d2', 'c1', 'n1']);
  });

  it('queries module twins with IN lists and collection-prefixed paths', () => {
    expect(ids("SELECT * FROM devices.modules WHERE moduleId IN ['$edgeAgent','$edgeHub'] AND deviceId IN ['e1','e2']")).toEqual([
      'e1/$edgeAgent',
      'e1/$edgeHub',
      'e2/$edgeAgent',
    ]);
    expect(ids("SELECT * FROM devices.modules WHERE devices.modules.moduleId = '$edgeAgent' AND deviceId in ['e1']")).toEqual(['e1/$edgeAgent']);
    expect(ids("SELECT * FROM devices.modules WHERE devices.tags.modelId = 'em1' AND moduleId = '$edgeHub'")).toEqual(['e1/$edgeHub']);
    expect(ids("SELECT * FROM devices WHERE devices.deviceId = 'c1'")).toEqual(['c1']);
  });

  it('projects paths to their last segment (or alias), omitting undefined values', () => {
    const rows = executeQuery(parseQuery("SELECT deviceId FROM devices.modules WHERE moduleId = 'LoRaWanNetworkSrvModule'"), source);
    expect(rows).toEqual([{ deviceId: 'e1' }]);
    const rows2 = executeQuery(parseQuery("SELECT deviceId, tags.deviceType, tags.deviceName AS name FROM devices WHERE deviceId IN ['d1','c1']"), source);
    expect(rows2).toEqual([
      { deviceId: 'd1', name: 'One' },
      { deviceId: 'c1', deviceType: 'LoRa Concentrator', name: 'Conc' },
    ]);
  });

  it('counts', () => {
    expect(executeQuery(parseQuery('SELECT COUNT() AS numberOfDevices FROM devices WHERE capabilities.iotEdge = false'), source)).toEqual([{ numberOfDevices: 4 }]);
    expect(executeQuery(parseQuery('SELECT COUNT() FROM devices.modules'), source)).toEqual([{ $1: 4 }]);
  });

  it("counts the fleet gauges' filters: the sync commands' own, and those narrowed to connected twins", () => {
    const fleet = {
      twins: [
        { deviceId: 'plain', capabilities: { iotEdge: false }, connectionState: 'Connected', tags: {} },
        { deviceId: 'sensor', capabilities: { iotEdge: false }, connectionState: 'Disconnected', tags: { deviceType: 'Sensor' } },
        { deviceId: 'conc', capabilities: { iotEdge: false }, connectionState: 'Connected', tags: { deviceType: 'LoRa Concentrator' } },
        { deviceId: 'lower', capabilities: { iotEdge: false }, connectionState: 'connected', tags: {} },
        { deviceId: 'edge-on', capabilities: { iotEdge: true }, connectionState: 'Connected', tags: { deviceType: 'LoRa Concentrator' } },
        { deviceId: 'edge-off', capabilities: { iotEdge: true }, connectionState: 'Disconnected', tags: {} },
      ],
    };
    const count = (where: string) => executeQuery(parseQuery(`SELECT COUNT() AS n FROM devices WHERE ${where}`), fleet);
    expect(count(DEVICES_FILTER)).toEqual([{ n: 3 }]);
    // Values compare case-sensitively, as the hub's do: 'connected' is not Connected.
    expect(count(connectedOnly(DEVICES_FILTER))).toEqual([{ n: 1 }]);
    expect(count(EDGE_FILTER)).toEqual([{ n: 2 }]);
    expect(count(connectedOnly(EDGE_FILTER))).toEqual([{ n: 1 }]);
    expect(count("deviceId = 'nobody'")).toEqual([{ n: 0 }]);
  });

  it('applies TOP', () => {
    expect(ids('SELECT TOP 2 * FROM devices WHERE capabilities.iotEdge = false')).toEqual(['d1', 'd2']);
  });
});
