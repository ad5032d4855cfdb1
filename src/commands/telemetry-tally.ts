import type { PartitionEnd } from '../providers/eventhub/drain.js';
import type { RunEvent } from '../store/runlog.js';
import type { SkipReason } from './telemetry-mapping.js';

/** Sample ids kept per skip reason: enough to find the culprits, never one event row per bad message. */
export const SAMPLES_PER_REASON = 5;

/** One partition's share of a run. Sequence numbers: the checkpoint at the start and at the end. */
export interface PartitionTally {
  readonly partitionId: string;
  /** The partition's last sequence number when the run began (-1: empty). */
  lastSequenceNumber: number;
  fromSequenceNumber: number | null;
  toSequenceNumber: number | null;
  read: number;
  stored: number;
  alreadyStored: number;
  skipped: number;
  pruned: number;
  /** Events that expired from the hub between the checkpoint and the first event read. */
  expired: number;
  end: PartitionEnd;
  ownedBy: string | null;
  error: string | null;
}

export interface SkipTally {
  count: number;
  samples: string[];
}

/** Counts skips per reason, keeping a few sample ids of each. */
export class Skips {
  private readonly byReason = new Map<SkipReason, SkipTally>();

  add(reason: SkipReason, sample: string): void {
    let tally = this.byReason.get(reason);
    if (!tally) this.byReason.set(reason, (tally = { count: 0, samples: [] }));
    tally.count++;
    if (tally.samples.length < SAMPLES_PER_REASON) tally.samples.push(sample);
  }

  get total(): number {
    let n = 0;
    for (const t of this.byReason.values()) n += t.count;
    return n;
  }

  toJSON(): Record<string, SkipTally> {
    return Object.fromEntries([...this.byReason.entries()].sort(([a], [b]) => (a < b ? -1 : 1)));
  }

  /** One run event per reason, with its count and samples. */
  events(): RunEvent[] {
    return Object.entries(this.toJSON()).map(([reason, t]) => ({
      level: 'warn' as const,
      type: 'skip',
      ref: null,
      message: `${reason}: ${t.count.toLocaleString('en-US')} event${t.count === 1 ? '' : 's'} skipped (e.g. ${t.samples.join('; ')})`,
    }));
  }
}

export function newTally(partitionId: string, lastSequenceNumber: number, checkpoint: number | null): PartitionTally {
  return {
    partitionId,
    lastSequenceNumber,
    fromSequenceNumber: checkpoint,
    toSequenceNumber: checkpoint,
    read: 0,
    stored: 0,
    alreadyStored: 0,
    skipped: 0,
    pruned: 0,
    expired: 0,
    end: 'drained',
    ownedBy: null,
    error: null,
  };
}
