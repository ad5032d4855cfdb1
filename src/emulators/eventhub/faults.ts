/**
 * Injected failures of the Event Hubs emulator: the fixture's `eventhub.faults`, or
 * `POST /__emulator/eventhub/faults` (control.ts), or `setFaults` in process.
 *
 *   dropConnectionAfterEvents: K   after K more events are delivered (counted from when the fault is
 *                                  set), the connection that carried the K-th is cut (its socket
 *                                  destroyed, no AMQP close): once, then the fault is spent
 *   refuseCbs: true                every CBS put-token is answered 401, so no link can be authorized
 */
import { FixtureError } from '../fixture-file.js';

export interface EventHubFaults {
  dropConnectionAfterEvents?: number | null;
  refuseCbs?: boolean;
}

export function normalizeFaults(raw: unknown, where: string): EventHubFaults {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new FixtureError(`${where} must be an object`);
  const o = raw as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (key !== 'dropConnectionAfterEvents' && key !== 'refuseCbs') throw new FixtureError(`${where}.${key} is not a fault (expected dropConnectionAfterEvents, refuseCbs)`);
  }
  const faults: EventHubFaults = {};
  const k = o['dropConnectionAfterEvents'];
  if (k !== undefined && k !== null) {
    if (typeof k !== 'number' || !Number.isInteger(k) || k < 1) throw new FixtureError(`${where}.dropConnectionAfterEvents must be a positive integer`);
    faults.dropConnectionAfterEvents = k;
  }
  const r = o['refuseCbs'];
  if (r !== undefined && r !== null) {
    if (typeof r !== 'boolean') throw new FixtureError(`${where}.refuseCbs must be true or false`);
    faults.refuseCbs = r;
  }
  return faults;
}

/** The faults in force and what is left of them. */
export class FaultState {
  private drop: { after: number; delivered: number } | undefined;
  private refuse = false;

  set(faults: EventHubFaults): void {
    this.drop = faults.dropConnectionAfterEvents ? { after: faults.dropConnectionAfterEvents, delivered: 0 } : undefined;
    this.refuse = faults.refuseCbs === true;
  }

  get refuseCbs(): boolean {
    return this.refuse;
  }

  /** Counts one delivered event; true when this one is the K-th (the fault is then spent). */
  deliveredShouldDrop(): boolean {
    if (!this.drop) return false;
    this.drop.delivered++;
    if (this.drop.delivered < this.drop.after) return false;
    this.drop = undefined;
    return true;
  }

  /** What is still armed (a spent drop no longer shows). */
  snapshot(): EventHubFaults & { eventsUntilDrop?: number } {
    return {
      ...(this.drop ? { dropConnectionAfterEvents: this.drop.after, eventsUntilDrop: this.drop.after - this.drop.delivered } : {}),
      refuseCbs: this.refuse,
    };
  }
}
