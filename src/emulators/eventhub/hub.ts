/**
 * The emulated hub's state: its fixture (name, partitions, consumer groups, key), its partition logs
 * and its faults.
 *
 * A fixture reload keeps the logs: the hub's events are append-only, so the events of the new file
 * beyond the ones already taken from the file (by their position in its list) are appended, and an
 * event the file no longer lists stays in the hub. Consumer groups, the key and the faults follow the
 * file (the faults only when the file's changed, so a reload does not re-arm a spent fault). The
 * hub's name and partition count cannot change while it runs: such a file is refused whole.
 */
import { FixtureError } from '../fixture-file.js';
import { FaultState, type EventHubFaults } from './faults.js';
import { normalizeEvents, type EventHubEventInput, type EventHubFixture, type EventList, type HubEvent } from './fixture.js';
import { PartitionLog } from './log.js';

export class Hub {
  fixture!: EventHubFixture;
  readonly logs: PartitionLog[] = [];
  readonly faults = new FaultState();
  private fromFixture = 0;
  private fixtureFaults = '';
  private posted = 0;

  constructor(
    private readonly now: () => number,
    /** Told which partitions grew, to wake their receivers. */
    private readonly onAppend: (partitions: ReadonlySet<number>) => void,
  ) {}

  get partitionIds(): string[] {
    return this.logs.map((l) => l.id);
  }

  /** Installs the first fixture, or a reloaded one (see the module comment). Throws {@link FixtureError}. */
  install(f: EventHubFixture): void {
    if (this.logs.length > 0) {
      const old = this.fixture;
      if (f.name !== old.name) throw new FixtureError(`eventhub.name cannot change while the emulator runs ("${old.name}" -> "${f.name}")`);
      if (f.partitionCount !== old.partitionCount) throw new FixtureError(`eventhub.partitions cannot change while the emulator runs (${old.partitionCount} -> ${f.partitionCount})`);
    } else {
      for (let p = 0; p < f.partitionCount; p++) this.logs.push(new PartitionLog(String(p)));
    }
    this.fixture = f;
    const faults = JSON.stringify(f.faults);
    if (faults !== this.fixtureFaults) {
      this.fixtureFaults = faults;
      this.faults.set(f.faults);
    }
    if (f.events.length > this.fromFixture) {
      const from = this.fromFixture;
      this.fromFixture = f.events.length;
      this.appendList(f.events, from);
    }
  }

  /** Validates and appends events (the POST body, or `append` in process); all or none. Throws {@link FixtureError}. */
  appendInputs(inputs: readonly EventHubEventInput[]): number {
    // Positions continue across POSTs, so round-robin placement goes on where the last one stopped.
    const base = this.posted;
    const list = normalizeEvents(
      inputs.map((e) => e),
      'events',
      this.fixture.partitionCount,
    ) as HubEvent[];
    list.forEach((e, i) => {
      if (inputs[i]?.partition === undefined && e.deviceId === undefined && e.partitionKey === undefined) e.partition = (base + i) % this.fixture.partitionCount;
    });
    this.posted += list.length;
    this.appendList(list, 0);
    return list.length;
  }

  setFaults(faults: EventHubFaults): void {
    this.faults.set(faults);
  }

  private appendList(list: EventList<HubEvent>, from: number): void {
    const grown = new Set<number>();
    const now = this.now();
    for (let i = from; i < list.length; i++) {
      const event = list.at(i)!;
      this.logs[event.partition]!.append(list, i, event, now);
      grown.add(event.partition);
    }
    if (grown.size > 0) this.onAppend(grown);
  }
}
