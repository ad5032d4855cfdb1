/** What the Event Hubs emulator counts (GET /__emulator/stats on its control server). */
import type { EventHubFaults } from './faults.js';

export interface EventHubEmulatorStats {
  /** AMQP connections accepted. */
  connections: number;
  /** Connections cut by the dropConnectionAfterEvents fault. */
  connectionsDropped: number;
  cbs: { putTokenOk: number; putTokenRefused: number };
  /** `$management` READs answered, per type; refused ones (bad token, unknown hub) apart. */
  management: { eventhub: number; partition: number; refused: number };
  /** Receiver links accepted, refused (unknown hub, group or partition, no claim, epoch), and closed by a newer epoch. */
  receivers: { opened: number; refused: number; stolen: number };
  eventsDelivered: number;
  /** Per partition id: how many events it holds and its last sequence number (-1: empty). */
  partitions: Record<string, { events: number; lastSequenceNumber: number }>;
  faults: EventHubFaults & { eventsUntilDrop?: number };
}

export type Counters = Omit<EventHubEmulatorStats, 'partitions' | 'faults'>;

export function newCounters(): Counters {
  return {
    connections: 0,
    connectionsDropped: 0,
    cbs: { putTokenOk: 0, putTokenRefused: 0 },
    management: { eventhub: 0, partition: 0, refused: 0 },
    receivers: { opened: 0, refused: 0, stolen: 0 },
    eventsDelivered: 0,
  };
}
