/**
 * The receiver links open on the hub: each streams one partition to one consumer, as fast as the
 * consumer's link credit allows and no faster (events are encoded when sent, never queued), then
 * waits at the partition's end for more.
 *
 * Owner levels (`com.microsoft:epoch` on the attach, the SDK's ownerLevel) are enforced per
 * consumer group and partition as the service does: a receiver with an epoch equal to or above the
 * others' closes them (amqp:link:stolen, which the SDK reports as ReceiverDisconnectedError); one
 * with a lower epoch, or none while an epoch receiver is open, is refused the same way. Without
 * epochs, at most five receivers may read one partition of a group.
 */
import type { Sender } from 'rhea';
import type { PartitionLog, PartitionProperties, StoredEvent } from './log.js';

export const MAX_RECEIVERS_PER_PARTITION = 5;

export interface StreamHooks {
  /** The message's bytes (message.ts). */
  encode(stored: StoredEvent, lastEnqueued: PartitionProperties | undefined): Buffer;
  /** Called after each event is sent; returns false when the stream must stop (its connection was cut). */
  delivered(stream: PartitionStream): boolean;
}

export class PartitionStream {
  private stopped = false;

  constructor(
    readonly link: Sender,
    readonly log: PartitionLog,
    readonly groupKey: string,
    readonly epoch: number | undefined,
    private next: number,
    private readonly trackLastEnqueued: boolean,
    private readonly hooks: StreamHooks,
  ) {}

  /** Sends while there is credit and there are events. */
  pump(): void {
    while (!this.stopped && this.next < this.log.length && this.link.sendable()) {
      const stored = this.log.at(this.next);
      this.next++;
      // Format 0: the bytes are the whole message, already encoded.
      this.link.send(this.hooks.encode(stored, this.trackLastEnqueued ? this.log.properties() : undefined), undefined, 0);
      if (!this.hooks.delivered(this)) return;
    }
  }

  stop(): void {
    this.stopped = true;
  }
}

export type EpochVerdict = { ok: true; displaced: PartitionStream[] } | { ok: false; condition: string; description: string };

/** Open streams by consumer group and partition. */
export class StreamRegistry {
  private readonly byKey = new Map<string, Set<PartitionStream>>();

  static key(group: string, partition: string): string {
    // Consumer group names are case-insensitive in Event Hubs ($Default and $default are one group).
    return `${group.toLowerCase()}/${partition}`;
  }

  /** Whether a receiver with `epoch` may join `key`, and whom it displaces. */
  judge(key: string, epoch: number | undefined, linkName: string): EpochVerdict {
    const open = [...(this.byKey.get(key) ?? [])];
    const epochs = open.filter((s) => s.epoch !== undefined).map((s) => s.epoch!);
    const highest = epochs.length > 0 ? Math.max(...epochs) : undefined;
    if (epoch === undefined) {
      if (highest !== undefined) {
        return {
          ok: false,
          condition: 'amqp:link:stolen',
          description: `At least one receiver for the endpoint is created with epoch of '${highest}', and so non-epoch receiver '${linkName}' is not allowed. Either reconnect with a higher epoch, or make sure all epoch receivers are closed or disconnected.`,
        };
      }
      if (open.length >= MAX_RECEIVERS_PER_PARTITION) {
        return {
          ok: false,
          condition: 'amqp:resource-limit-exceeded',
          description: `Exceeded the maximum number of allowed receivers per partition in a consumer group which is ${MAX_RECEIVERS_PER_PARTITION}.`,
        };
      }
      return { ok: true, displaced: [] };
    }
    if (highest !== undefined && epoch < highest) {
      return {
        ok: false,
        condition: 'amqp:link:stolen',
        description: `Receiver '${linkName}' with epoch '${epoch}' cannot be created because a receiver with a higher epoch '${highest}' already exists.`,
      };
    }
    return { ok: true, displaced: open };
  }

  add(stream: PartitionStream): void {
    let set = this.byKey.get(stream.groupKey);
    if (!set) this.byKey.set(stream.groupKey, (set = new Set()));
    set.add(stream);
  }

  remove(stream: PartitionStream): void {
    stream.stop();
    this.byKey.get(stream.groupKey)?.delete(stream);
  }

  /** Every open stream of a partition (any group), e.g. to wake them after an append. */
  *ofPartition(partitionId: string): Iterable<PartitionStream> {
    for (const [key, set] of this.byKey) if (key.endsWith(`/${partitionId}`)) yield* set;
  }

  all(): PartitionStream[] {
    return [...this.byKey.values()].flatMap((s) => [...s]);
  }
}
