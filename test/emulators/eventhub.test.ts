/**
 * The Event Hubs emulator through the real `@azure/event-hubs` consumer over real sockets: CBS,
 * $management, receivers and their filters, annotations, faults, appends.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { earliestEventPosition, latestEventPosition, type EventHubConsumerClient } from '@azure/event-hubs';
import type { EventHubEventInput, EventHubFixtureInput } from '../../src/emulators/eventhub/index.js';
import { consumer, receive, startTestEventHub, type TestEventHub } from '../support/eventhub.js';
import { waitFor } from '../support/cli.js';

const T0 = Date.UTC(2025, 2, 1, 12, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString();

/** Ten device events on partition 0, a minute apart; a module event and a malformed one on partition 1. */
function section(extra: Partial<EventHubFixtureInput> = {}): EventHubFixtureInput {
  const events: EventHubEventInput[] = Array.from({ length: 10 }, (_, i) => ({
    partition: 0,
    deviceId: 'lora-1',
    enqueuedTime: iso(T0 + i * 60_000),
    properties: { n: i },
    body: { fcnt: i + 1, rssi: -70 },
  }));
  events.push({ partition: 1, deviceId: 'edge-1', moduleId: 'LoRaWanNetworkSrvModule', enqueuedTime: iso(T0), body: { m: 1 } });
  events.push({ partition: 1, deviceId: 'lora-2', enqueuedTime: iso(T0 + 1000), body: 'not json {' });
  return { name: 'portal-hub', partitions: 2, events, ...extra };
}

describe('event hub emulator', () => {
  let hub: TestEventHub;
  let client: EventHubConsumerClient | undefined;
  beforeEach(async () => {
    hub = await startTestEventHub(section());
  });
  afterEach(async () => {
    await client?.close();
    client = undefined;
    await hub.close();
  });

  it('answers hub and partition properties as the SDK reads them', async () => {
    client = consumer(hub.emulator.connectionString());
    const props = await client.getEventHubProperties();
    expect(props).toMatchObject({ name: 'portal-hub', partitionIds: ['0', '1'], isGeoDrEnabled: false });
    expect(props.createdOn).toEqual(new Date(Date.UTC(2024, 0, 1)));
    expect(await client.getPartitionIds()).toEqual(['0', '1']);
    const p0 = await client.getPartitionProperties('0');
    // Offsets are byte positions: the tenth event starts after the nine bodies before it.
    const before = Array.from({ length: 9 }, (_, i) => Buffer.byteLength(JSON.stringify({ fcnt: i + 1, rssi: -70 }))).reduce((a, b) => a + b);
    expect(p0).toEqual({
      eventHubName: 'portal-hub',
      partitionId: '0',
      beginningSequenceNumber: 0,
      lastEnqueuedSequenceNumber: 9,
      lastEnqueuedOffset: String(before),
      lastEnqueuedOnUtc: new Date(T0 + 9 * 60_000),
      isEmpty: false,
    });
    const stats = hub.emulator.stats();
    expect(stats.management).toMatchObject({ eventhub: 2, partition: 1, refused: 0 });
    expect(stats.cbs.putTokenOk).toBeGreaterThanOrEqual(1);
    expect(stats.partitions).toEqual({ '0': { events: 10, lastSequenceNumber: 9 }, '1': { events: 2, lastSequenceNumber: 1 } });
  });

  it('reports an empty partition as the service does', async () => {
    await hub.close();
    hub = await startTestEventHub({ partitions: 3 });
    client = consumer(hub.emulator.connectionString());
    expect(await client.getPartitionProperties('2')).toMatchObject({ isEmpty: true, lastEnqueuedSequenceNumber: -1, lastEnqueuedOffset: '-1', beginningSequenceNumber: 0 });
  });

  it('delivers every event of a partition from the earliest, with the annotations and properties IoT Hub sets', async () => {
    client = consumer(hub.emulator.connectionString());
    const r = await receive(client, '0', earliestEventPosition, (x) => x.events.length >= 10);
    expect(r.events.map((e) => e.sequenceNumber)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const e = r.events[3]!;
    expect(e.body).toEqual({ fcnt: 4, rssi: -70 });
    expect(e.enqueuedTimeUtc).toEqual(new Date(T0 + 3 * 60_000));
    expect(typeof e.offset).toBe('string');
    expect(e.contentType).toBe('application/json');
    const authMethod = '{"scope":"device","type":"sas","issuer":"iothub","acceptingIpFilterRule":null}';
    expect(e.systemProperties).toMatchObject({
      'iothub-connection-device-id': 'lora-1',
      'iothub-connection-auth-method': authMethod,
      'iothub-enqueuedtime': T0 + 3 * 60_000,
      'iothub-message-source': 'Telemetry',
    });
    expect(e.systemProperties!['iothub-connection-auth-generation-id']).toMatch(/^\d{18}$/);
    expect(e.systemProperties).not.toHaveProperty('iothub-connection-module-id');
    // The iothub-* values are application properties too, beside the event's own.
    expect(e.properties).toMatchObject({ n: 3, 'iothub-connection-device-id': 'lora-1', 'iothub-connection-auth-method': authMethod, 'iothub-message-source': 'Telemetry' });
    expect(hub.emulator.stats()).toMatchObject({ eventsDelivered: 10, receivers: { opened: 1 } });
  });

  it('marks module events with their module and scope, and sends a malformed body as its bytes', async () => {
    client = consumer(hub.emulator.connectionString());
    const r = await receive(client, '1', earliestEventPosition, (x) => x.events.length >= 2);
    const [mod, bad] = r.events;
    expect(mod!.systemProperties).toMatchObject({
      'iothub-connection-device-id': 'edge-1',
      'iothub-connection-module-id': 'LoRaWanNetworkSrvModule',
      'iothub-connection-auth-method': '{"scope":"module","type":"sas","issuer":"iothub","acceptingIpFilterRule":null}',
    });
    expect(mod!.properties).toMatchObject({ 'iothub-connection-module-id': 'LoRaWanNetworkSrvModule' });
    // The SDK hands a body it cannot parse as JSON back as the raw bytes.
    expect(Buffer.isBuffer(bad!.body)).toBe(true);
    expect((bad!.body as Buffer).toString('utf8')).toBe('not json {');
  });

  it('honours sequence-number, offset and enqueued-time positions, inclusive and exclusive', async () => {
    client = consumer(hub.emulator.connectionString());
    const first = async (position: Parameters<typeof receive>[2], expected: number) => {
      const r = await receive(client!, '0', position, (x) => x.events.length >= expected);
      expect(r.events).toHaveLength(expected);
      return r.events[0]!;
    };
    expect((await first({ sequenceNumber: 4, isInclusive: true }, 6)).sequenceNumber).toBe(4);
    expect((await first({ sequenceNumber: 4 }, 5)).sequenceNumber).toBe(5);
    const all = await receive(client, '0', earliestEventPosition, (x) => x.events.length >= 10);
    const offset6 = all.events[6]!.offset;
    expect((await first({ offset: offset6, isInclusive: true }, 4)).sequenceNumber).toBe(6);
    expect((await first({ offset: offset6 }, 3)).sequenceNumber).toBe(7);
    // The SDK writes enqueuedOn as "x-opt-enqueued-time > t": the event enqueued at t is not included.
    expect((await first({ enqueuedOn: new Date(T0 + 2 * 60_000) }, 7)).sequenceNumber).toBe(3);
    expect((await first({ enqueuedOn: T0 + 2 * 60_000 - 1 }, 8)).sequenceNumber).toBe(2);
  });

  it('starts a latest receiver at the end and streams what is appended later', async () => {
    client = consumer(hub.emulator.connectionString());
    const later = receive(client, '0', latestEventPosition, (x) => x.events.length >= 1);
    await waitFor(() => hub.emulator.stats().receivers.opened === 1, 'the receiver to attach');
    hub.emulator.append([{ partition: 0, deviceId: 'lora-1', body: { fcnt: 11 } }]);
    const r = await later;
    expect(r.events.map((e) => [e.sequenceNumber, e.body])).toEqual([[10, { fcnt: 11 }]]);
  });

  it('appends POSTed events, and refuses a malformed batch whole', async () => {
    const post = (body: unknown) =>
      fetch(`${hub.emulator.controlUrl}/__emulator/eventhub/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const ok = await post([{ partition: 1, deviceId: 'lora-9', body: { fcnt: 1 } }, { partition: 1, deviceId: 'lora-9', body: { fcnt: 2 } }]);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ appended: 2, partitions: { '0': 9, '1': 3 } });
    const bad = await post([{ partition: 0, deviceId: 'x' }, { partition: 7 }]);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toContain('events[1].partition must be a partition id from 0 to 1');
    client = consumer(hub.emulator.connectionString());
    const r = await receive(client, '1', { sequenceNumber: 2, isInclusive: true }, (x) => x.events.length >= 2);
    expect(r.events.map((e) => e.body)).toEqual([{ fcnt: 1 }, { fcnt: 2 }]);
    expect(hub.emulator.stats().partitions['0']).toEqual({ events: 10, lastSequenceNumber: 9 });
  });

  it('appends the events a rewritten fixture adds, and never rewrites the log', async () => {
    client = consumer(hub.emulator.connectionString());
    expect((await client.getPartitionProperties('0')).lastEnqueuedSequenceNumber).toBe(9);
    const next = section();
    // The first event changed: already in the hub, it stays as it was. Two new ones are appended.
    (next.events as EventHubEventInput[])[0]!.body = { rewritten: true };
    (next.events as EventHubEventInput[]).push({ partition: 0, deviceId: 'lora-1', body: { fcnt: 11 } }, { partition: 0, deviceId: 'lora-1', body: { fcnt: 12 } });
    hub.write(next);
    await client.close();
    client = consumer(hub.emulator.connectionString());
    const r = await receive(client, '0', earliestEventPosition, (x) => x.events.length >= 12);
    expect(r.events[0]!.body).toEqual({ fcnt: 1, rssi: -70 });
    expect(r.events.slice(10).map((e) => e.body)).toEqual([{ fcnt: 11 }, { fcnt: 12 }]);
  });

  it('refuses a wrong key and an unknown key name with the SDK UnauthorizedError', async () => {
    client = consumer(hub.emulator.connectionString({ key: 'd3Jvbmcta2V5' }), '$Default', { maxRetries: 0, timeoutInMs: 5000 });
    await expect(client.getEventHubProperties()).rejects.toMatchObject({ code: 'UnauthorizedError' });
    await client.close();
    client = consumer(hub.emulator.connectionString({ keyName: 'nobody' }), '$Default', { maxRetries: 0, timeoutInMs: 5000 });
    await expect(client.getPartitionIds()).rejects.toMatchObject({ code: 'UnauthorizedError' });
    expect(hub.emulator.stats().cbs).toMatchObject({ putTokenOk: 0, putTokenRefused: 2 });
  });

  it('refuses every put-token under refuseCbs, and accepts again once it is lifted', async () => {
    hub.emulator.setFaults({ refuseCbs: true });
    client = consumer(hub.emulator.connectionString(), '$Default', { maxRetries: 0, timeoutInMs: 5000 });
    await expect(client.getEventHubProperties()).rejects.toMatchObject({ code: 'UnauthorizedError' });
    const lifted = await fetch(`${hub.emulator.controlUrl}/__emulator/eventhub/faults`, { method: 'POST', body: '{}' });
    expect(await lifted.json()).toEqual({ faults: { refuseCbs: false } });
    expect((await client.getEventHubProperties()).name).toBe('portal-hub');
  });

  it('answers an unknown hub and an unknown consumer group with not-found', async () => {
    client = consumer(hub.emulator.connectionString().replace('EntityPath=portal-hub', 'EntityPath=other-hub'), '$Default', { maxRetries: 0, timeoutInMs: 5000 });
    await expect(client.getEventHubProperties()).rejects.toMatchObject({ code: 'MessagingEntityNotFoundError' });
    await client.close();
    client = consumer(hub.emulator.connectionString(), 'no-such-group', { maxRetries: 0, timeoutInMs: 5000 });
    const r = await receive(client, '0', earliestEventPosition, () => false, { stopOnError: true });
    expect(r.errors[0]).toMatchObject({ code: 'MessagingEntityNotFoundError' });
    expect(r.errors[0]!.message).toContain("portal-hub/ConsumerGroups/no-such-group' could not be found");
    expect(hub.emulator.stats().receivers).toMatchObject({ opened: 0, refused: 1 });
  });

  it('serves the iothub-portal group by default, in any case', async () => {
    client = consumer(hub.emulator.connectionString(), 'IotHub-Portal');
    const r = await receive(client, '1', earliestEventPosition, (x) => x.events.length >= 2);
    expect(r.events).toHaveLength(2);
  });

  it('cuts the connection after K events once; the SDK reconnects and loses nothing', async () => {
    hub.emulator.append(Array.from({ length: 290 }, (_, i) => ({ partition: 0, deviceId: 'lora-1', body: { fcnt: 11 + i } })));
    hub.emulator.setFaults({ dropConnectionAfterEvents: 120 });
    client = consumer(hub.emulator.connectionString());
    const r = await receive(client, '0', earliestEventPosition, (x) => new Set(x.events.map((e) => e.sequenceNumber)).size >= 300, { maxBatchSize: 50 });
    // Every event once, in order: the SDK resumes after the last event it received (an exclusive
    // sequence-number filter), so the cut neither loses nor repeats one.
    expect(r.events.map((e) => e.sequenceNumber)).toEqual(Array.from({ length: 300 }, (_, i) => i));
    const stats = hub.emulator.stats();
    expect(stats.connectionsDropped).toBe(1);
    expect(stats.connections).toBeGreaterThanOrEqual(2);
    expect(stats.faults).not.toHaveProperty('dropConnectionAfterEvents');
  });

  it('gives the last enqueued properties with trackLastEnqueuedEventProperties', async () => {
    client = consumer(hub.emulator.connectionString());
    const r = await receive(client, '0', { sequenceNumber: 1, isInclusive: true }, (x) => x.events.length >= 2, { trackLastEnqueuedEventProperties: true, maxBatchSize: 2 });
    expect(r.lastEnqueued.get('0')).toMatchObject({ sequenceNumber: 9, offset: (await client.getPartitionProperties('0')).lastEnqueuedOffset });
  });

  it('disconnects an older receiver when one with an equal or higher owner level opens, and refuses a lower one', async () => {
    client = consumer(hub.emulator.connectionString());
    const other = consumer(hub.emulator.connectionString());
    try {
      const first = receive(client, '0', latestEventPosition, (x) => x.errors.length > 0, { ownerLevel: 1 });
      await waitFor(() => hub.emulator.stats().receivers.opened === 1, 'the first receiver');
      const second = receive(other, '0', latestEventPosition, () => hub.emulator.stats().receivers.stolen === 1, { ownerLevel: 1 });
      const r1 = await first;
      expect(r1.errors[0]).toMatchObject({ code: 'ReceiverDisconnectedError' });
      await second;
      const third = consumer(hub.emulator.connectionString(), '$Default', { maxRetries: 0, timeoutInMs: 5000 });
      try {
        const keep = receive(other, '0', latestEventPosition, () => hub.emulator.stats().receivers.refused >= 1, { ownerLevel: 5 });
        await waitFor(() => hub.emulator.stats().receivers.opened === 3, 'the epoch-5 receiver');
        const low = await receive(third, '0', latestEventPosition, () => false, { ownerLevel: 2, stopOnError: true });
        expect(low.errors[0]).toMatchObject({ code: 'ReceiverDisconnectedError' });
        await keep;
      } finally {
        await third.close();
      }
    } finally {
      await other.close();
    }
  });
});
