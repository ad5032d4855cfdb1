/**
 * The service's connections, built from a normalized fixture and changed by establishes, closes and
 * the test endpoints. A reload of the fixture file builds a new state: the file is the truth, the
 * changes only last until it changes.
 *
 * Kept sorted by id (text order) for the listing, which resumes after the last id it returned by
 * binary search, and indexed by id and by customer reference, so that no request scans them all.
 * The ids the service gives (`conn-NNNNNNNN`) grow, so an establish appends.
 */
import { ACTIVE_STATUSES, connectionId, type ConnectionDraft, type ConnectionStatus, type EstablishStatus, type ForwarderConnection, type ForwarderFixture } from './fixture.js';

export interface ForwarderStateCounts {
  connections: number;
  connected: number;
  pending: number;
  disconnected: number;
  failed: number;
  /** connected + pending */
  active: number;
}

const ID_PATTERN = /^conn-(\d+)$/;

export function isActive(c: ForwarderConnection): boolean {
  return ACTIVE_STATUSES.includes(c.status);
}

/** Index of the first connection whose id is greater than `after`. */
function firstAfter(items: readonly ForwarderConnection[], after: string): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (items[mid]!.id <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Inserts `c` into `items` (sorted by id) at its place: O(1) when it sorts last, as new ids do. */
function insertSorted(items: ForwarderConnection[], c: ForwarderConnection): void {
  const last = items[items.length - 1];
  if (last === undefined || last.id < c.id) items.push(c);
  else items.splice(firstAfter(items, c.id), 0, c);
}

export class ForwarderState {
  /** Sorted by id. */
  private readonly sorted: ForwarderConnection[] = [];
  private readonly byId = new Map<string, ForwarderConnection>();
  /** Each customer's connections, sorted by id. */
  private readonly byRef = new Map<string, ForwarderConnection[]>();
  private nextNumber = 1;

  constructor(readonly fixture: ForwarderFixture) {
    // Copies: a close changes a connection in place, and the fixture stays as loaded.
    const copies = fixture.connections.map((c) => ({ ...c }));
    copies.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const c of copies) this.index(c, false);
  }

  private index(c: ForwarderConnection, sorted = true): void {
    if (sorted) insertSorted(this.sorted, c);
    else this.sorted.push(c);
    this.byId.set(c.id, c);
    const mine = this.byRef.get(c.customerRef);
    if (mine) insertSorted(mine, c);
    else this.byRef.set(c.customerRef, [c]);
    const m = ID_PATTERN.exec(c.id);
    if (m) this.nextNumber = Math.max(this.nextNumber, Number(m[1]) + 1);
  }

  private newId(): string {
    while (this.byId.has(connectionId(this.nextNumber))) this.nextNumber++;
    return connectionId(this.nextNumber++);
  }

  /** Up to `limit` connections after id `after` (from the first without), and whether more follow. */
  page(after: string | undefined, limit: number): { items: ForwarderConnection[]; more: boolean } {
    const start = after === undefined ? 0 : firstAfter(this.sorted, after);
    const end = Math.min(this.sorted.length, start + limit);
    return { items: this.sorted.slice(start, end), more: end < this.sorted.length };
  }

  get(id: string): ForwarderConnection | undefined {
    return this.byId.get(id);
  }

  /** Every connection of that customer reference (exact match), by id. */
  ofCustomer(ref: string): readonly ForwarderConnection[] {
    return this.byRef.get(ref) ?? [];
  }

  activeOf(ref: string): ForwarderConnection | undefined {
    return this.ofCustomer(ref).find(isActive);
  }

  /** A new connection with the next `conn-NNNNNNNN` id. */
  establish(customerRef: string, hashSha256: string, status: EstablishStatus | 'failed', createdAt: string): ForwarderConnection {
    const c: ForwarderConnection = { id: this.newId(), customerRef, hashSha256, status, createdAt };
    this.index(c);
    return c;
  }

  setStatus(c: ForwarderConnection, status: ConnectionStatus): void {
    c.status = status;
  }

  /** Adds connections as they are (any status, any number per customer). The caller checked the ids are free. */
  add(drafts: readonly ConnectionDraft[]): ForwarderConnection[] {
    return drafts.map((d) => {
      const c: ForwarderConnection = { id: d.id ?? this.newId(), customerRef: d.customerRef, hashSha256: d.hashSha256, status: d.status, createdAt: d.createdAt };
      this.index(c);
      return c;
    });
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  /** Removes one outright (not a close: it is no longer listed). */
  remove(id: string): boolean {
    const c = this.byId.get(id);
    if (!c) return false;
    this.byId.delete(id);
    const at = firstAfter(this.sorted, id) - 1;
    this.sorted.splice(at, 1);
    const mine = this.byRef.get(c.customerRef)!;
    mine.splice(mine.indexOf(c), 1);
    if (mine.length === 0) this.byRef.delete(c.customerRef);
    return true;
  }

  all(): readonly ForwarderConnection[] {
    return this.sorted;
  }

  counts(): ForwarderStateCounts {
    const counts: ForwarderStateCounts = { connections: this.sorted.length, connected: 0, pending: 0, disconnected: 0, failed: 0, active: 0 };
    for (const c of this.sorted) counts[c.status]++;
    counts.active = counts.connected + counts.pending;
    return counts;
  }
}
