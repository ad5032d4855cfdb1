/**
 * The emulated Event Hubs namespace that IoT Hub's built-in endpoint is: one hub, served over AMQP
 * 1.0 (amqp.ts) on one loopback port as `@azure/event-hubs` reaches it with
 * `UseDevelopmentEmulator=true` (plain TCP, the Endpoint's port), plus an HTTP control server
 * (control.ts) on another.
 *
 * Events come from the fixture (the `eventhub` section of the fleet file, re-read when the file
 * changes: on each new connection, link, management request and control request), from
 * `append`/POST while it runs, and from the generator (generate.ts).
 */
import type { AddressInfo, Server } from 'node:net';
import { FixtureFile } from '../fixture-file.js';
import { startAmqpNode } from './amqp.js';
import { createControlServer } from './control.js';
import type { EventHubFaults } from './faults.js';
import { eventHubSection, loadEventHubFixture, normalizeEventHubFixture, type EventHubEventInput, type EventHubFixtureInput } from './fixture.js';
import { Hub } from './hub.js';
import { newCounters, type EventHubEmulatorStats } from './stats.js';

export interface EventHubEmulatorOptions {
  /** A fleet file whose `eventhub` section is served; re-read when it changes. */
  fixturePath?: string;
  /** An in-memory section (or a whole fleet holding one). Give this or `fixturePath`, not both. */
  fixture?: EventHubFixtureInput | { eventhub: EventHubFixtureInput };
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** AMQP port; a free port when absent (the SDK's default for the emulator would be 5672). */
  port?: number;
  /** Control server port; a free port when absent. */
  controlPort?: number;
  /** Wall clock (epoch ms): enqueued times and token expiry. Tests inject one. */
  now?: () => number;
}

export interface EventHubEmulator {
  /** `amqp://127.0.0.1:<port>` */
  readonly url: string;
  /** `http://127.0.0.1:<port>`: the control server. */
  readonly controlUrl: string;
  readonly port: number;
  readonly hubName: string;
  readonly partitionIds: readonly string[];
  /** EVENTHUB_CONNECTION_STRING, with the hub as EntityPath. */
  env(): { EVENTHUB_CONNECTION_STRING: string };
  /** The connection string; `key` replaces the key (a wrong one for tests), `withoutEntityPath` drops the hub. */
  connectionString(overrides?: { key?: string; keyName?: string; withoutEntityPath?: boolean }): string;
  /** Appends events, as POST /__emulator/eventhub/events does. Throws FixtureError on a bad event (none is appended). */
  append(events: readonly EventHubEventInput[]): void;
  /** Replaces the faults in force (a drop counts from now). */
  setFaults(faults: EventHubFaults): void;
  stats(): EventHubEmulatorStats;
  resetStats(): void;
  close(): Promise<void>;
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export async function startEventHubEmulator(options: EventHubEmulatorOptions = {}): Promise<EventHubEmulator> {
  const { fixturePath } = options;
  if (fixturePath !== undefined && options.fixture !== undefined) throw new Error('startEventHubEmulator: give either fixturePath or fixture, not both');
  const now = options.now ?? Date.now;
  const host = options.host ?? '127.0.0.1';
  const hostPart = host.includes(':') ? `[${host}]` : host;
  const counters = newCounters();
  let wake: (partitions: ReadonlySet<number>) => void = () => undefined;
  const hub = new Hub(now, (p) => wake(p));
  const file = fixturePath !== undefined ? new FixtureFile(fixturePath, loadEventHubFixture, (f) => hub.install(f), 'eventhub emulator') : undefined;
  if (!file) hub.install(normalizeEventHubFixture(eventHubSection(options.fixture ?? {})));
  const refresh = () => file?.refresh();

  const amqp = await startAmqpNode({ hub, counters, refresh, now, host, port: options.port ?? 0 });
  // The counters object is shared with the AMQP node: a reset clears it in place.
  const resetStats = () => {
    const fresh = newCounters();
    Object.assign(counters, fresh);
  };
  wake = (p) => amqp.wake(p);
  const port = (amqp.server.address() as AddressInfo).port;

  const stats = (): EventHubEmulatorStats => ({
    ...structuredClone(counters),
    partitions: Object.fromEntries(hub.logs.map((l) => [l.id, { events: l.length, lastSequenceNumber: l.length - 1 }])),
    faults: hub.faults.snapshot(),
  });
  const lastSequenceNumbers = () => Object.fromEntries(hub.logs.map((l) => [l.id, l.length - 1]));
  const control = createControlServer({
    refresh,
    stats,
    resetStats,
    append: (events) => {
      hub.appendInputs(events);
      return lastSequenceNumbers();
    },
    setFaults: (faults) => {
      hub.setFaults(faults);
      return hub.faults.snapshot();
    },
  });
  let controlPort: number;
  try {
    controlPort = await listen(control, options.controlPort ?? 0, host);
  } catch (err) {
    await amqp.close();
    throw err;
  }

  const connectionString = (o: { key?: string; keyName?: string; withoutEntityPath?: boolean } = {}) => {
    refresh();
    const f = hub.fixture;
    return (
      `Endpoint=sb://${hostPart}:${port};SharedAccessKeyName=${o.keyName ?? f.keyName};SharedAccessKey=${o.key ?? f.key};` +
      `${o.withoutEntityPath ? '' : `EntityPath=${f.name};`}UseDevelopmentEmulator=true`
    );
  };
  let closed: Promise<void> | undefined;
  return {
    url: `amqp://${hostPart}:${port}`,
    controlUrl: `http://${hostPart}:${controlPort}`,
    port,
    get hubName() {
      return hub.fixture.name;
    },
    get partitionIds() {
      return hub.partitionIds;
    },
    env: () => ({ EVENTHUB_CONNECTION_STRING: connectionString() }),
    connectionString,
    append(events) {
      refresh();
      hub.appendInputs(events);
    },
    setFaults: (faults) => hub.setFaults(faults),
    stats() {
      refresh();
      return stats();
    },
    resetStats,
    close() {
      closed ??= Promise.all([
        amqp.close(),
        new Promise<void>((resolve) => {
          control.close(() => resolve());
          control.closeAllConnections();
        }),
      ]).then(() => undefined);
      return closed;
    },
  };
}
