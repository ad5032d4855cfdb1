import {
  type CloseReason,
  earliestEventPosition,
  EventHubConsumerClient,
  latestEventPosition,
  type Checkpoint,
  type CheckpointStore,
  type PartitionContext,
  type ReceivedEventData,
  type Subscription,
} from '@azure/event-hubs';
import { ConfigError } from '../../config.js';
import type { ProviderError } from '../errors.js';
import type { EventHubConfig } from './config.js';
import { eventHubError, isFatal } from './errors.js';

/** Where a partition's reading stands at the start: its last event, and the portal's checkpoint. */
export interface PartitionStart {
  readonly partitionId: string;
  /** The partition's last sequence number when the run began: the drain reads up to here. -1: empty. */
  readonly lastSequenceNumber: number;
  readonly lastOffset: string;
  /** The portal's checkpoint of the partition when the run began; null: none. */
  readonly checkpoint: { readonly offset: string; readonly sequenceNumber: number } | null;
}

/** How one partition's reading ended. */
export type PartitionEnd =
  | 'drained' // read up to its last event of the start, or the hub had nothing more
  | 'owned elsewhere' // another run holds it: read by that run
  | 'stopped' // --max-events, --max-seconds or a signal ended the run first
  | 'failed';

export interface BatchHandler {
  /** Takes one batch of a partition; false stops reading that partition (its failure is the handler's to record). */
  (partitionId: string, events: readonly ReceivedEventData[]): Promise<boolean>;
}

export interface DrainHooks {
  /** Partitions to read, given what the hub says at the start (the caller settles the rest, e.g. `--start latest`). */
  toRead(starts: readonly PartitionStart[], namespace: string): Promise<ReadonlySet<string>>;
  onBatch: BatchHandler;
  /**
   * A receiver opens on a partition, at the checkpoint the store holds now: another run may have
   * moved it since this run began (it read the partition, then gave it up).
   */
  onOpen(partitionId: string, checkpoint: Checkpoint | null): void;
  /** True once the run should stop taking events (--max-events reached, a signal). */
  shouldStop(): boolean;
}

export interface DrainResult {
  readonly starts: readonly PartitionStart[];
  readonly ends: ReadonlyMap<string, PartitionEnd>;
  readonly ownedBy: ReadonlyMap<string, string>;
  readonly errors: ReadonlyMap<string, ProviderError>;
  readonly managementCalls: number;
}

/** How long the load balancer's claims stay valid without renewal; a killed run's partitions free up after this. */
export const OWNERSHIP_EXPIRY_MS = 30_000;
const LOAD_BALANCING_INTERVAL_MS = 1_000;
/** Waiting this long for a batch that does not come means the partition has nothing more for now. */
const MAX_WAIT_SECONDS = 3;
/** Receive failures in a row (the SDK's own retries included) before a partition is given up for this run. */
const MAX_PARTITION_FAILURES = 3;
/**
 * Empty batches in a row, short of the partition's last event, before it is given up for this run.
 * An empty batch alone proves nothing: a receiver that lost its connection hands one over too.
 */
const MAX_EMPTY_BATCHES = 5;

/** The checkpoint store as the drain needs it: the SDK's interface, and word of the claims it refused. */
export interface DrainStore extends CheckpointStore {
  refused(): Array<{ partitionId: string; ownerId: string }>;
  abandon(namespace: string, hub: string, consumerGroup: string, partitionId: string | null, ownerId: string): Promise<void>;
}

/**
 * A scheduler-friendly drain: read every partition this run can own from its checkpoint up to the
 * last event the partition held when the run began, then stop. The SDK's load balancer claims the
 * partitions through `store` (the portal's checkpoint store, which refuses partitions another live
 * run holds), and reading starts at each partition's checkpoint.
 */
export async function drainEventHub(config: EventHubConfig, store: DrainStore, ownerId: string, hooks: DrainHooks, deadline: number | null): Promise<DrainResult> {
  const client = new EventHubConsumerClient(config.consumerGroup, config.connectionString, config.eventHubName, store, {
    identifier: ownerId,
    loadBalancingOptions: { strategy: 'greedy', updateIntervalInMs: LOAD_BALANCING_INTERVAL_MS, partitionOwnershipExpirationIntervalInMs: OWNERSHIP_EXPIRY_MS },
    // 10 s per operation, not the SDK's 60: a claim (CBS put-token) sent as a connection drops is never
    // answered, and the receiver it was for waits out the whole timeout before it is retried.
    retryOptions: { maxRetries: config.maxRetries, retryDelayInMs: 500, maxRetryDelayInMs: 5_000, timeoutInMs: 10_000 },
  });
  let managementCalls = 0;
  let subscription: Subscription | undefined;
  // Batches being stored when the run stops: waited for, so no transaction outlives the run.
  const inFlight = new Set<Promise<unknown>>();
  const ends = new Map<string, PartitionEnd>();
  const ownedBy = new Map<string, string>();
  const errors = new Map<string, ProviderError>();
  try {
    let partitionIds: string[];
    try {
      partitionIds = await client.getPartitionIds();
      managementCalls++;
    } catch (error) {
      throw startError(error, `cannot read the partitions of ${config.eventHubName}`);
    }
    const checkpoints = new Map((await store.listCheckpoints(client.fullyQualifiedNamespace, client.eventHubName, config.consumerGroup)).map((c) => [c.partitionId, c]));
    const starts: PartitionStart[] = [];
    for (const partitionId of partitionIds) {
      let props;
      try {
        props = await client.getPartitionProperties(partitionId);
        managementCalls++;
      } catch (error) {
        throw startError(error, `cannot read partition ${partitionId} of ${config.eventHubName}`);
      }
      starts.push({
        partitionId,
        lastSequenceNumber: props.isEmpty ? -1 : props.lastEnqueuedSequenceNumber,
        lastOffset: props.lastEnqueuedOffset,
        checkpoint: checkpoints.get(partitionId) ?? null,
      });
    }
    const toRead = await hooks.toRead(starts, client.fullyQualifiedNamespace);
    const targets = new Map(starts.filter((s) => toRead.has(s.partitionId)).map((s) => [s.partitionId, s.lastSequenceNumber]));
    for (const s of starts) if (!targets.has(s.partitionId)) ends.set(s.partitionId, 'drained');
    if (targets.size === 0) return { starts, ends, ownedBy, errors, managementCalls };
    // This run holds the command's lock, and the owner id is one per lock: claims under it belong to
    // a predecessor that was killed. Without this, the SDK would wait for them to expire (30 s).
    await store.abandon(client.fullyQualifiedNamespace, client.eventHubName, config.consumerGroup, null, ownerId);

    await new Promise<void>((resolve) => {
      const failures = new Map<string, number>();
      const empties = new Map<string, number>();
      const reached = new Map(starts.map((s) => [s.partitionId, s.checkpoint?.sequenceNumber ?? -1]));
      /** Partitions a receiver of this run opened on. */
      const opened = new Set<string>();
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        clearInterval(watch);
        for (const id of targets.keys()) if (!ends.has(id)) ends.set(id, 'stopped');
        resolve();
      };
      const settle = (partitionId: string, end: PartitionEnd) => {
        if (!ends.has(partitionId)) ends.set(partitionId, end);
        if ([...targets.keys()].every((id) => ends.has(id))) finish();
      };
      const elsewhere = (partitionId: string, owner: string) => {
        if (!targets.has(partitionId) || ends.has(partitionId) || opened.has(partitionId)) return;
        ownedBy.set(partitionId, owner);
        settle(partitionId, 'owned elsewhere');
      };
      // Partitions another live run holds: a claim of ours refused, or, after the load balancer's first
      // rounds, held by another owner while no receiver of ours opened on it (the SDK does not even try
      // a partition it counts as its fair share's excess). Also deadlines and stop requests.
      // The ownership table is read once per load-balancing round, not on every tick: the batches
      // being stored share the database connection.
      let nextCheck = Date.now() + 2 * LOAD_BALANCING_INTERVAL_MS;
      let checking = false;
      const watch = setInterval(() => {
        for (const refused of store.refused()) elsewhere(refused.partitionId, refused.ownerId);
        if (hooks.shouldStop() || (deadline !== null && Date.now() >= deadline)) return finish();
        if (checking || Date.now() < nextCheck) return;
        checking = true;
        nextCheck = Date.now() + LOAD_BALANCING_INTERVAL_MS;
        void store
          .listOwnership(client.fullyQualifiedNamespace, client.eventHubName, config.consumerGroup)
          .then((owners) => {
            const now = Date.now();
            for (const o of owners) {
              const live = o.ownerId !== '' && o.ownerId !== ownerId && now - (o.lastModifiedTimeInMs ?? 0) < OWNERSHIP_EXPIRY_MS;
              if (live) elsewhere(o.partitionId, o.ownerId);
            }
          })
          .catch(() => undefined)
          .finally(() => (checking = false));
      }, 100);

      subscription = client.subscribe(
        {
          processEvents: async (events: ReceivedEventData[], context: PartitionContext) => {
            const id = context.partitionId;
            if (finished || ends.has(id)) return;
            const target = targets.get(id) ?? -1;
            if (events.length === 0) {
              if ((reached.get(id) ?? -1) >= target) return settle(id, 'drained');
              const n = (empties.get(id) ?? 0) + 1;
              empties.set(id, n);
              if (n >= MAX_EMPTY_BATCHES) {
                const waited = n * MAX_WAIT_SECONDS;
                errors.set(id, eventHubError(new Error(`no event came for ${waited} s, though the partition held events up to sequence number ${target} (read up to ${reached.get(id)})`), `reading partition ${id}`));
                settle(id, 'failed');
              }
              return;
            }
            failures.delete(id);
            empties.delete(id);
            const batch = hooks.onBatch(id, events);
            inFlight.add(batch);
            const go = await batch.finally(() => inFlight.delete(batch));
            if (!go) return settle(id, hooks.shouldStop() ? 'stopped' : 'failed');
            const last = events[events.length - 1]!.sequenceNumber;
            reached.set(id, Math.max(reached.get(id) ?? -1, last));
            if (last >= target) settle(id, 'drained');
            if (hooks.shouldStop()) finish();
          },
          processInitialize: async (context: PartitionContext) => {
            const id = context.partitionId;
            opened.add(id);
            const checkpoints = await store.listCheckpoints(context.fullyQualifiedNamespace, context.eventHubName, context.consumerGroup).catch(() => []);
            const checkpoint = checkpoints.find((c) => c.partitionId === id) ?? null;
            if (checkpoint !== null) reached.set(id, Math.max(reached.get(id) ?? -1, checkpoint.sequenceNumber));
            hooks.onOpen(id, checkpoint);
            if ((reached.get(id) ?? -1) >= (targets.get(id) ?? -1)) settle(id, 'drained');
          },
          processClose: async (_reason: CloseReason, context: PartitionContext) => {
            // A receiver stopped by an error, in a run still reading: hand the partition back so the
            // next load-balancing round (a second later) starts a new one.
            if (finished || ends.has(context.partitionId)) return;
            await store.abandon(context.fullyQualifiedNamespace, context.eventHubName, context.consumerGroup, context.partitionId, ownerId).catch(() => undefined);
          },
          processError: async (error: Error, context: PartitionContext) => {
            const id = context.partitionId;
            const mapped = eventHubError(error, id === '' ? 'reading the event hub' : `reading partition ${id}`);
            if (id === '') {
              // Load balancing (claims, hub properties): fatal only for credentials or a missing hub.
              if (isFatal(mapped)) {
                for (const p of targets.keys()) if (!ends.has(p)) errors.set(p, mapped);
                for (const p of targets.keys()) settle(p, 'failed');
              }
              return;
            }
            const n = (failures.get(id) ?? 0) + 1;
            failures.set(id, n);
            if (isFatal(mapped) || n >= MAX_PARTITION_FAILURES) {
              errors.set(id, mapped);
              settle(id, 'failed');
            }
          },
        },
        {
          startPosition: config.start === 'latest' ? latestEventPosition : earliestEventPosition,
          maxBatchSize: config.batchSize,
          maxWaitTimeInSeconds: MAX_WAIT_SECONDS,
          prefetchCount: config.batchSize * 2,
        },
      );
    });
    return { starts, ends, ownedBy, errors, managementCalls };
  } finally {
    await Promise.allSettled([...inFlight]);
    // Closing the subscription gives the partitions up (ownerId '') so the next run takes them at once.
    await subscription?.close().catch(() => undefined);
    await client.close().catch(() => undefined);
  }
}

function startError(error: unknown, doing: string): Error {
  const mapped = eventHubError(error, doing);
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'MessagingEntityNotFoundError') return new ConfigError(`${mapped.message} (check --eventhub-name and --consumer-group)`);
  return mapped;
}
