/**
 * The emulated account's resources, built from a normalized fixture and changed by the calls that
 * write (DeprecateThingType, DeleteThingType, DeleteDynamicThingGroup). A reload of the fixture file
 * builds a new state: the file is the truth, the writes only last until it changes.
 *
 * Listings page in name order (ids for deployments), so each kind is kept sorted by its key, and a
 * listing resumes after the last key it returned (paging.ts) even when something was deleted
 * in between.
 */
import { arnPrefix, type AwsCoreDevice, type AwsDeployment, type AwsFixture, type AwsThing, type AwsThingGroup, type AwsThingType } from './fixture.js';

function byKey<T>(items: readonly T[], key: (t: T) => string): T[] {
  return [...items].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

function index<T>(items: readonly T[], key: (t: T) => string): Map<string, T> {
  return new Map(items.map((t) => [key(t), t]));
}

export interface AwsStateCounts {
  thingTypes: number;
  things: number;
  thingGroups: number;
  coreDevices: number;
  deployments: number;
}

/** What is left after the tool's deletions: names (ids for deployments), sorted. */
export interface AwsStateSnapshot {
  thingTypes: string[];
  deprecatedThingTypes: string[];
  things: string[];
  thingGroups: string[];
  dynamicThingGroups: string[];
  coreDevices: string[];
  deployments: string[];
}

export class AwsState {
  readonly arnPrefix: string;
  /** Sorted by name. */
  thingTypes: AwsThingType[];
  readonly things: AwsThing[];
  thingGroups: AwsThingGroup[];
  readonly coreDevices: AwsCoreDevice[];
  readonly deployments: AwsDeployment[];
  private readonly thingTypeByName: Map<string, AwsThingType>;
  private readonly thingByName: Map<string, AwsThing>;
  private readonly groupByName: Map<string, AwsThingGroup>;
  private readonly coreDeviceByName: Map<string, AwsCoreDevice>;

  constructor(readonly fixture: AwsFixture) {
    this.arnPrefix = arnPrefix(fixture.region, fixture.accountId);
    // Copies: deprecation changes a type in place, and the fixture stays as loaded.
    this.thingTypes = byKey(
      fixture.thingTypes.map((t) => ({ ...t })),
      (t) => t.name,
    );
    this.things = byKey(fixture.things, (t) => t.name);
    this.thingGroups = byKey(fixture.thingGroups, (g) => g.name);
    this.coreDevices = byKey(fixture.coreDevices, (c) => c.thingName);
    this.deployments = byKey(fixture.deployments, (d) => d.id);
    this.thingTypeByName = index(this.thingTypes, (t) => t.name);
    this.thingByName = index(this.things, (t) => t.name);
    this.groupByName = index(this.thingGroups, (g) => g.name);
    this.coreDeviceByName = index(this.coreDevices, (c) => c.thingName);
  }

  thingArn(name: string): string {
    return `${this.arnPrefix}thing/${name}`;
  }

  thingTypeArn(name: string): string {
    return `${this.arnPrefix}thingtype/${name}`;
  }

  thingGroupArn(name: string): string {
    return `${this.arnPrefix}thinggroup/${name}`;
  }

  thingType(name: string): AwsThingType | undefined {
    return this.thingTypeByName.get(name);
  }

  thing(name: string): AwsThing | undefined {
    return this.thingByName.get(name);
  }

  thingGroup(name: string): AwsThingGroup | undefined {
    return this.groupByName.get(name);
  }

  coreDevice(name: string): AwsCoreDevice | undefined {
    return this.coreDeviceByName.get(name);
  }

  /** The tags of the resource an ARN names; undefined when there is no such resource. */
  tagsOf(arn: string): Record<string, string> | undefined {
    if (!arn.startsWith(this.arnPrefix)) return undefined;
    const rest = arn.slice(this.arnPrefix.length);
    const slash = rest.indexOf('/');
    if (slash < 0) return undefined;
    const kind = rest.slice(0, slash);
    const name = rest.slice(slash + 1);
    if (kind === 'thingtype') return this.thingType(name)?.tags;
    if (kind === 'thing') return this.thing(name)?.tags;
    if (kind === 'thinggroup') return this.thingGroup(name)?.tags;
    return undefined;
  }

  /** The first thing (by name) whose type is `name`: while there is one, AWS refuses to delete the type. */
  firstThingOfType(name: string): AwsThing | undefined {
    return this.things.find((t) => t.type === name);
  }

  deleteThingType(name: string): void {
    if (!this.thingTypeByName.delete(name)) return;
    this.thingTypes = this.thingTypes.filter((t) => t.name !== name);
  }

  deleteThingGroup(name: string): void {
    if (!this.groupByName.delete(name)) return;
    this.thingGroups = this.thingGroups.filter((g) => g.name !== name);
  }

  counts(): AwsStateCounts {
    return {
      thingTypes: this.thingTypes.length,
      things: this.things.length,
      thingGroups: this.thingGroups.length,
      coreDevices: this.coreDevices.length,
      deployments: this.deployments.length,
    };
  }

  snapshot(): AwsStateSnapshot {
    return {
      thingTypes: this.thingTypes.map((t) => t.name),
      deprecatedThingTypes: this.thingTypes.filter((t) => t.deprecated).map((t) => t.name),
      things: this.things.map((t) => t.name),
      thingGroups: this.thingGroups.map((g) => g.name),
      dynamicThingGroups: this.thingGroups.filter((g) => g.queryString !== undefined).map((g) => g.name),
      coreDevices: this.coreDevices.map((c) => c.thingName),
      deployments: this.deployments.map((d) => d.id),
    };
  }
}
