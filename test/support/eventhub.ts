/**
 * An emulated Event Hubs endpoint over a fixture file that a test rewrites between runs, and the
 * real SDK's consumer pointed at it.
 */
import { fixtureFile } from './fixture-file.js';
import { EventHubConsumerClient, type EventPosition, type PartitionContext, type ReceivedEventData, type SubscribeOptions, type SubscriptionEventHandlers } from '@azure/event-hubs';
import { startEventHubEmulator, type EventHubEmulator, type EventHubEmulatorOptions, type EventHubFixtureInput } from '../../src/emulators/eventhub/index.js';
import { waitFor } from './cli.js';

export interface TestEventHub {
  readonly emulator: EventHubEmulator;
  readonly fixturePath: string;
  readonly dir: string;
  /** Writes the `eventhub` section (a whole fleet when it has an `eventhub` key) with a new mtime. */
  write(section: EventHubFixtureInput | { eventhub: EventHubFixtureInput }): void;
  close(): Promise<void>;
}

/** `section`: the `eventhub` section, or a whole fleet file holding one. */
export async function startTestEventHub(
  section: EventHubFixtureInput | { eventhub: EventHubFixtureInput },
  options: Omit<EventHubEmulatorOptions, 'fixture' | 'fixturePath'> = {},
): Promise<TestEventHub> {
  const file = fixtureFile<EventHubFixtureInput | { eventhub: EventHubFixtureInput }>('eventhub', 'eventhub');
  const { dir, path: fixturePath, write } = file;
  write(section);
  const emulator = await startEventHubEmulator({ ...options, fixturePath });
  return {
    emulator,
    fixturePath,
    dir,
    write,
    async close() {
      await emulator.close();
      file.remove();
    },
  };
}

/** Fast retries: a test waits for conditions, not for the SDK's 30 s back-off. */
export const TEST_RETRY = { maxRetries: 3, retryDelayInMs: 50, maxRetryDelayInMs: 200, timeoutInMs: 10_000 };

export function consumer(connectionString: string, group = '$Default', retryOptions: Record<string, number> = TEST_RETRY): EventHubConsumerClient {
  return new EventHubConsumerClient(group, connectionString, { retryOptions });
}

export interface Received {
  events: ReceivedEventData[];
  errors: Error[];
  /** Last-enqueued properties per partition as the SDK tracked them (with trackLastEnqueuedEventProperties). */
  lastEnqueued: Map<string, { sequenceNumber?: number; offset?: string }>;
}

/**
 * Subscribes to one partition (or all, `partitionId` undefined) and waits until `until` holds for
 * what arrived (or an error, when `stopOnError`), then closes the subscription.
 */
export async function receive(
  client: EventHubConsumerClient,
  partitionId: string | undefined,
  startPosition: EventPosition,
  until: (r: Received) => boolean,
  options: Omit<SubscribeOptions, 'startPosition'> & { stopOnError?: boolean; attempts?: number } = {},
): Promise<Received> {
  const r: Received = { events: [], errors: [], lastEnqueued: new Map() };
  const handlers: SubscriptionEventHandlers = {
    processEvents: async (events: ReceivedEventData[], ctx: PartitionContext) => {
      r.events.push(...events);
      if (events.length > 0) r.lastEnqueued.set(ctx.partitionId, { ...ctx.lastEnqueuedEventProperties });
    },
    processError: async (err: Error) => {
      r.errors.push(err);
    },
  };
  const { stopOnError, attempts, ...subscribeOptions } = options;
  const opts: SubscribeOptions = { maxWaitTimeInSeconds: 0.2, maxBatchSize: 100, ...subscribeOptions, startPosition };
  const sub = partitionId === undefined ? client.subscribe(handlers, opts) : client.subscribe(partitionId, handlers, opts);
  try {
    await waitFor(() => until(r) || (stopOnError === true && r.errors.length > 0), 'events to arrive', attempts ?? 400);
  } finally {
    await sub.close();
  }
  return r;
}
