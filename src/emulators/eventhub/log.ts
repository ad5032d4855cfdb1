/**
 * The hub's events: one append-only log per partition, as Event Hubs keeps them.
 *
 * Sequence numbers count from 0 in each partition. Offsets are byte positions in the partition's
 * stream (the sum of the bodies before the event), as strings of digits like the service's. An
 * event's enqueued time is the fixture's `enqueuedTime`, else the wall clock when it is appended.
 * Nothing is ever rewritten or removed.
 *
 * A log keeps three numbers per event and a reference to where the event came from (a list and a
 * position in it), not the event itself: the generator's 200,000 events are built again when they
 * are delivered instead of being held (generate.ts), which keeps the emulator at a few MB.
 */
import type { EventList, HubEvent } from './fixture.js';

/** An event's place in its partition. */
export interface Position {
  sequenceNumber: number;
  offset: string;
  enqueuedTime: number;
}

export interface StoredEvent extends Position {
  event: HubEvent;
}

/** Where a receiver starts (the selector filter of its link, filter.ts). */
export type StartPosition =
  | { kind: 'offset'; value: string; inclusive: boolean }
  | { kind: 'sequenceNumber'; value: number; inclusive: boolean }
  | { kind: 'enqueuedTime'; value: number; inclusive: boolean };

export interface PartitionProperties {
  beginSequenceNumber: number;
  lastSequenceNumber: number;
  lastOffset: string;
  lastEnqueuedTime: number;
  isEmpty: boolean;
}

export class PartitionLog {
  private readonly offsets: number[] = [];
  private readonly times: number[] = [];
  private readonly lists: EventList<HubEvent>[] = [];
  private readonly indexes: number[] = [];
  private nextOffset = 0;

  constructor(readonly id: string) {}

  get length(): number {
    return this.offsets.length;
  }

  /** Appends `list.at(index)` (already normalized to this partition); returns its sequence number. */
  append(list: EventList<HubEvent>, index: number, event: HubEvent, now: number): number {
    const seq = this.offsets.length;
    this.offsets.push(this.nextOffset);
    // Enqueued times never go back within a partition, as the service's (a fixture may say otherwise).
    const last = seq > 0 ? this.times[seq - 1]! : -Infinity;
    this.times.push(Math.max(event.enqueuedTime ?? now, last));
    this.lists.push(list);
    this.indexes.push(index);
    this.nextOffset += event.body.length;
    return seq;
  }

  at(seq: number): StoredEvent {
    const event = this.lists[seq]!.at(this.indexes[seq]!);
    if (!event) throw new Error(`event ${seq} of partition ${this.id} is gone from its source list`);
    return { sequenceNumber: seq, offset: String(this.offsets[seq]!), enqueuedTime: this.times[seq]!, event };
  }

  /** The sequence number a receiver starting at `start` reads first (the length: only new events). */
  firstFor(start: StartPosition | undefined): number {
    if (start === undefined) return 0;
    const n = this.length;
    switch (start.kind) {
      case 'sequenceNumber': {
        const first = start.inclusive ? start.value : start.value + 1;
        return Math.min(Math.max(first, 0), n);
      }
      case 'offset': {
        if (start.value === '@latest') return n;
        const offset = Number(start.value);
        if (offset < 0) return 0; // "-1": the start of the partition
        return this.firstIndex((i) => (start.inclusive ? this.offsets[i]! >= offset : this.offsets[i]! > offset));
      }
      case 'enqueuedTime':
        return this.firstIndex((i) => (start.inclusive ? this.times[i]! >= start.value : this.times[i]! > start.value));
    }
  }

  /** Binary search: offsets and times only grow, so the predicate flips once. */
  private firstIndex(after: (i: number) => boolean): number {
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (after(mid)) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  properties(): PartitionProperties {
    const n = this.length;
    return {
      beginSequenceNumber: 0,
      lastSequenceNumber: n - 1,
      lastOffset: n > 0 ? String(this.offsets[n - 1]!) : '-1',
      lastEnqueuedTime: n > 0 ? this.times[n - 1]! : 0,
      isEmpty: n === 0,
    };
  }
}
