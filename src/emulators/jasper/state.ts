/**
 * Each service provider's devices, built from a normalized fixture and changed by the control
 * endpoint. A reload of the fixture file builds a new state: the file is the truth, the changes only
 * last until it changes.
 *
 * A provider's devices are kept sorted by (modifiedAt, iccid, arrival), the listing's order, so that
 * a page is a binary search for `modifiedSince` and a slice: O(log N + pageSize) a request, never a
 * scan of them all. Pages are cut over the devices as they are at each request (not as they were at
 * the listing's first page): a device changed during a listing moves to the end of it, so it can be
 * served twice, or shift a neighbour across a page boundary, as on the real service.
 */
import type { JasperDevice, JasperFixture, JasperProvider } from './fixture.js';

interface Entry extends JasperDevice {
  /** Arrival order: duplicates of one ICCID with one modifiedAt are served as listed. */
  seq: number;
}

/** A device as the API serves it (modifiedAt is never served). */
export interface ServedDevice {
  iccid: string;
  status: string | null;
  ratePlan: string | null;
  communicationPlan: string | null;
}

/** A device as the state endpoint shows it: with its modifiedAt (ISO 8601). */
export interface StoredDevice extends ServedDevice {
  modifiedAt: string;
}

export interface JasperPage {
  devices: ServedDevice[];
  lastPage: boolean;
}

function compare(a: Entry, b: Entry): number {
  if (a.modifiedAt !== b.modifiedAt) return a.modifiedAt - b.modifiedAt;
  if (a.iccid !== b.iccid) return a.iccid < b.iccid ? -1 : 1;
  return a.seq - b.seq;
}

/** Index of the first entry modified at or after `since`. */
function firstSince(items: readonly Entry[], since: number): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (items[mid]!.modifiedAt < since) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const served = (e: Entry): ServedDevice => ({ iccid: e.iccid, status: e.status, ratePlan: e.ratePlan, communicationPlan: e.communicationPlan });

export class ProviderDevices {
  private sorted: Entry[];
  private seq = 0;

  constructor(devices: readonly JasperDevice[]) {
    this.sorted = devices.map((d) => ({ ...d, seq: this.seq++ }));
    this.sorted.sort(compare);
  }

  get size(): number {
    return this.sorted.length;
  }

  /** Page `pageNumber` (1-based) of `pageSize` of the devices modified at or after `since`. */
  page(since: number, pageSize: number, pageNumber: number): JasperPage {
    const first = firstSince(this.sorted, since);
    const start = first + (pageNumber - 1) * pageSize;
    const end = Math.min(this.sorted.length, start + pageSize);
    const devices: ServedDevice[] = [];
    for (let i = start; i < end; i++) devices.push(served(this.sorted[i]!));
    return { devices, lastPage: start + pageSize >= this.sorted.length };
  }

  /** How many records page `pageNumber` would serve, without building it. */
  pageLength(since: number, pageSize: number, pageNumber: number): number {
    const start = firstSince(this.sorted, since) + (pageNumber - 1) * pageSize;
    return Math.max(0, Math.min(this.sorted.length, start + pageSize) - start);
  }

  /**
   * Upserts by ICCID, one after the other (the last of a batch wins): every entry of a given ICCID,
   * duplicates included, gives way to the new one. O(N + B log B) for a batch of B.
   */
  upsert(devices: readonly JasperDevice[]): void {
    if (devices.length === 0) return;
    const latest = new Map<string, JasperDevice>();
    for (const d of devices) {
      latest.delete(d.iccid);
      latest.set(d.iccid, d);
    }
    const added: Entry[] = [...latest.values()].map((d) => ({ ...d, seq: this.seq++ }));
    added.sort(compare);
    const kept = this.sorted.filter((e) => !latest.has(e.iccid));
    // Merge: both sorted.
    const merged: Entry[] = new Array<Entry>(kept.length + added.length);
    let i = 0;
    let j = 0;
    let k = 0;
    while (i < kept.length && j < added.length) merged[k++] = compare(kept[i]!, added[j]!) <= 0 ? kept[i++]! : added[j++]!;
    while (i < kept.length) merged[k++] = kept[i++]!;
    while (j < added.length) merged[k++] = added[j++]!;
    this.sorted = merged;
  }

  /** Every device in listing order, with its modifiedAt. */
  all(): StoredDevice[] {
    return this.sorted.map((e) => ({ ...served(e), modifiedAt: new Date(e.modifiedAt).toISOString() }));
  }
}

export class JasperState {
  private readonly byId = new Map<string, { provider: JasperProvider; devices: ProviderDevices }>();

  constructor(readonly fixture: JasperFixture) {
    for (const p of fixture.providers) this.byId.set(p.id, { provider: p, devices: new ProviderDevices(p.devices) });
  }

  provider(id: string): JasperProvider | undefined {
    return this.byId.get(id)?.provider;
  }

  devices(id: string): ProviderDevices | undefined {
    return this.byId.get(id)?.devices;
  }

  ids(): string[] {
    return [...this.byId.keys()];
  }

  /** Devices per provider. */
  counts(): Record<string, number> {
    return Object.fromEntries([...this.byId].map(([id, v]) => [id, v.devices.size]));
  }
}
