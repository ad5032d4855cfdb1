/** The Event Hubs generator and partitioner, without sockets. */
import { describe, expect, it } from 'vitest';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { generateEvents, parseEventHubGenerateSpec, partitionForKey, splitEventHubSpec, normalizeEventHubFixture } from '../../src/emulators/eventhub/index.js';
import { generateFleet, loraDeviceIds } from '../../src/emulators/iothub/index.js';
import rhea from 'rhea';
import { binary, long, map, scalar, string, symbol, timestamp } from '../../src/emulators/eventhub/wire.js';

const LORA_FIELDS = ['time', 'tmms', 'freq', 'chan', 'rfch', 'modu', 'datr', 'rssi', 'lsnr', 'data', 'port', 'fcnt', 'edgets', 'rawdata', 'eui', 'gatewayid', 'stationeui', 'dupmsg'];

describe('event hub generator', () => {
  it('gives the LoRaWAN device ids the IoT Hub generator gives', () => {
    const fleet = generateFleet({ devices: 50, lora: 7 });
    const lora = fleet.twins.filter((t) => (t.properties.desired as Record<string, unknown>)['AppEUI'] !== undefined).map((t) => t.deviceId);
    expect(loraDeviceIds({ devices: 50, lora: 7 })).toEqual(lora);
    expect(lora).toHaveLength(7);
  });

  it('is deterministic, round-robin over the devices, with the LoRaWAN body fields', () => {
    const ids = loraDeviceIds({ devices: 10, lora: 10 });
    const a = generateEvents({ events: 1000, partitions: 4 }, ids);
    const b = generateEvents({ events: 1000, partitions: 4 }, ids);
    expect(a.events.length).toBe(1000);
    for (const i of [0, 1, 17, 999]) expect(JSON.stringify(a.events.at(i))).toBe(JSON.stringify(b.events.at(i)));
    // Read twice, the same event (the list is lazy).
    expect(JSON.stringify(a.events.at(5))).toBe(JSON.stringify(a.events.at(5)));
    expect(a.events.at(1000)).toBeUndefined();
    const e = a.events.at(13)!;
    expect(e.deviceId).toBe(ids[3]);
    expect(Object.keys(e.body as object)).toEqual(LORA_FIELDS);
    expect(e.body).toMatchObject({ fcnt: 2, modu: 'LORA' });
    expect(generateEvents({ events: 10 }, ids, 2).events.at(0)).not.toEqual(a.events.at(0));
  });

  it('keeps each device in one partition and spreads the devices over all of them', () => {
    const ids = loraDeviceIds({ devices: 400, lora: 200 });
    const fixture = normalizeEventHubFixture(generateEvents({ events: 2000, partitions: 4 }, ids));
    const partitionOf = new Map<string, number>();
    const perPartition = [0, 0, 0, 0];
    for (let i = 0; i < fixture.events.length; i++) {
      const e = fixture.events.at(i)!;
      perPartition[e.partition]!++;
      if (partitionOf.has(e.deviceId!)) expect(partitionOf.get(e.deviceId!)).toBe(e.partition);
      partitionOf.set(e.deviceId!, e.partition);
    }
    expect(perPartition.reduce((x, y) => x + y)).toBe(2000);
    for (const n of perPartition) expect(n).toBeGreaterThan(300);
  });

  it('places keys as the SDK predicts the service does', async () => {
    // The SDK's own mapping (not exported by the package), loaded from its file.
    const file = resolve('node_modules/@azure/event-hubs/dist/esm/impl/partitionKeyToIdMapper.js');
    const sdk = (await import(pathToFileURL(file).href)) as { mapPartitionKeyToId(key: string, count: number): number };
    const keys = ['', 'a', 'lora-1', 'dev-000001', 'twelve-bytes', 'thirteen-byte', 'a-much-longer-device-identifier-0042', 'ünïcødé'];
    for (const key of keys) for (const count of [1, 2, 4, 7, 32]) expect(partitionForKey(key, count), `${key} over ${count}`).toBe(sdk.mapPartitionKeyToId(key, count));
  });

  it('parses and splits its spec, and refuses events without LoRaWAN devices', () => {
    expect(splitEventHubSpec('devices=10,lora=5,events=100,partitions=2,things=3')).toEqual({ rest: 'devices=10,lora=5,things=3', eventhub: 'events=100,partitions=2' });
    expect(splitEventHubSpec('devices=10')).toEqual({ rest: 'devices=10', eventhub: undefined });
    expect(parseEventHubGenerateSpec('events=5')).toEqual({ events: 5, partitions: 4 });
    expect(() => parseEventHubGenerateSpec('partitions=0')).toThrow('partitions must be from 1 to 32');
    expect(() => parseEventHubGenerateSpec('events=x')).toThrow('events must be a non-negative integer');
    expect(() => generateEvents({ events: 1 }, [])).toThrow('events need LoRaWAN devices');
  });
});

describe('event hub wire encoding', () => {
  // rhea's decoder (its typings leave the Reader out).
  const Reader = (rhea.types as unknown as { Reader: new (b: Buffer) => { read(): { value: unknown } } }).Reader;
  const read = (b: Buffer) => new Reader(b).read().value;
  it('writes what rhea reads back', () => {
    for (const n of [0, -1, 2 ** 40 + 7, -(2 ** 40) - 3, 1_733_300_000_000]) {
      expect(read(long(n))).toBe(n);
      expect((read(timestamp(n)) as Date).getTime()).toBe(n);
    }
    for (const v of [0, -5, 2 ** 31, 1.5, 'é'.repeat(300), true, false, null]) expect(read(scalar(v))).toBe(v);
    expect(read(symbol('x-opt-offset'))).toBe('x-opt-offset');
    expect(read(binary(Buffer.alloc(300, 7)))).toEqual(Buffer.alloc(300, 7));
    const decoded = new Reader(map([string('a'), scalar(1), string('b'), string('c')])).read();
    expect(rhea.types.unwrap_map_simple(decoded as never)).toEqual({ a: 1, b: 'c' });
  });
});
