import {
  earliestEventPosition,
  EventHubConsumerClient,
  latestEventPosition,
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
  readonly checkpointSequenceNumber: number | null;
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
 * A scheduler-friendly drain: read every partition this run can own from its checkpoint up to the
 * last event the partition held when the run began, then stop. The SDK's load balancer claims the
 * partitions through `store` (the portal's checkpoint store, which refuses partitions another live
 * run holds), and reading starts at each partition's checkpoint.
 */
export async function drainEventHub(config: EventHubConfig, store: CheckpointStore & { refused(): Array<{ partitionId: string; ownerId: string }> }, ownerId: string, hooks: DrainHooks, deadline: number | null): Promise<DrainResult> {
  const client = new EventHubConsumerClient(config.consumerGroup, config.connectionString, config.eventHubName, store, {
    identifier: ownerId,
    loadBalancingOptions: { strategy: 'greedy', updateIntervalInMs: LOAD_BALANCING_INTERVAL_MS, partitionOwnershipExpirationIntervalInMs: OWNERSHIP_EXPIRY_MS },
    retryOptions: { maxRetries: config.maxRetries, retryDelayInMs: 500, maxRetryDelayInMs: 5_000, timeoutInMs: 30_000 },
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
    const checkpoints = new Map((await store.listCheckpoints(client.fullyQualifiedNamespace, client.eventHubName, config.consumerGroup)).map((c) => [c.partitionId, c.sequenceNumber]));
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
        checkpointSequenceNumber: checkpoints.get(partitionId) ?? null,
      });
    }
    const toRead = await hooks.toRead(starts, client.fullyQualifiedNamespace);
    const targets = new Map(starts.filter((s) => toRead.has(s.partitionId)).map((s) => [s.partitionId, s.lastSequenceNumber]));
    for (const s of starts) if (!targets.has(s.partitionId)) ends.set(s.partitionId, 'drained');
    if (targets.size === 0) return { starts, ends, ownedBy, errors, managementCalls };

    await new Promise<void>((resolve) => {
      const failures = new Map<string, number>();
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
      // Claims the SDK could not make (another live run holds the partition), deadlines and stop requests.
      const watch = setInterval(() => {
        for (const refused of store.refused()) {
          if (targets.has(refused.partitionId) && !ends.has(refused.partitionId)) {
            ownedBy.set(refused.partitionId, refused.ownerId);
            settle(refused.partitionId, 'owned elsewhere');
          }
        }
        if (hooks.shouldStop() || (deadline !== null && Date.now() >= deadline)) finish();
      }, 100);

      subscription = client.subscribe(
        {
          processEvents: async (events: ReceivedEventData[], context: PartitionContext) => {
            const id = context.partitionId;
            if (finished || ends.has(id)) return;
            if (events.length === 0) return settle(id, 'drained');
            failures.delete(id);
            const target = targets.get(id) ?? -1;
            const batch = hooks.onBatch(id, events);
            inFlight.add(batch);
            const go = await batch.finally(() => inFlight.delete(batch));
            if (!go) return settle(id, hooks.shouldStop() ? 'stopped' : 'failed');
            if (events[events.length - 1]!.sequenceNumber >= target) settle(id, 'drained');
            if (hooks.shouldStop()) finish();
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
