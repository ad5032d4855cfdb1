import type {
  CurrentRecord,
  DesiredRecord,
  FailedRecord,
  FieldChange,
  ListingState,
  MassDeleteGuard,
  MassDeletePolicy,
  Plan,
  PlannedUpdate,
  PlanPolicy,
  PlanSummary,
  RecordWarning,
  RemoteAction,
  RemoteEntry,
  Scalar,
  SkippedRecord,
  StaleRecord,
} from './types.js';

export const DEFAULT_MASS_DELETE: MassDeletePolicy = { maxShare: 0.5, minRows: 10, allow: false };

/**
 * Computes what one pass should do: a pure function from the portal's rows and the remote listing to
 * creates, updates and deletes under the policy. No I/O, so it can be tested in microseconds.
 */
export function plan(
  current: ReadonlyMap<string, CurrentRecord>,
  remote: Iterable<RemoteEntry>,
  listing: ListingState,
  policy: PlanPolicy,
  remoteActions: readonly RemoteAction[] = [],
): Plan {
  const planner = new Planner(current, policy);
  for (const entry of remote) planner.add(entry);
  return planner.finish(listing, remoteActions);
}

type Verdict =
  | { readonly kind: 'create'; readonly record: DesiredRecord }
  | { readonly kind: 'update'; readonly update: PlannedUpdate }
  | { readonly kind: 'stale'; readonly stale: StaleRecord }
  | { readonly kind: 'unchanged'; readonly version: number }
  | { readonly kind: 'skipped'; readonly reason: string }
  | { readonly kind: 'failed'; readonly error: string };

/**
 * The same plan, computed as pages arrive: a record that changed nothing is counted and dropped at
 * once, so a pass over 100,000 unchanged records holds the portal's rows and little else.
 */
export class Planner {
  private readonly secret: ReadonlySet<string>;
  private readonly verdicts = new Map<string, Verdict>();
  private readonly warnings = new Map<string, readonly string[]>();
  private readonly duplicates = new Map<string, string[]>();
  private readonly keyless: SkippedRecord[] = [];

  constructor(
    private readonly current: ReadonlyMap<string, CurrentRecord>,
    private readonly policy: PlanPolicy,
  ) {
    this.secret = new Set(policy.secretFields);
  }

  add(entry: RemoteEntry): void {
    if (entry.kind === 'skipped' && entry.keyless) {
      this.keyless.push({ key: `${entry.key} #${this.keyless.length + 1}`, reason: entry.reason });
      return;
    }
    const previous = this.verdicts.get(entry.key);
    if (previous) {
      const replace = supersedes(entry, previous);
      this.noteDuplicate(entry, previous, replace);
      if (!replace) return;
    }
    this.verdicts.set(entry.key, this.judge(entry));
    if (entry.kind === 'desired' && entry.warnings && entry.warnings.length > 0) this.warnings.set(entry.key, entry.warnings);
    else if (previous) this.warnings.delete(entry.key);
  }

  /** A key listed twice is never dropped silently: a warning says which copy won and why. */
  private noteDuplicate(entry: RemoteEntry, previous: Verdict, replaced: boolean): void {
    const prev = verdictVersion(previous);
    const next = entry.kind === 'desired' ? entry.version : -Infinity;
    let message: string;
    if (entry.kind === 'desired' && Number.isFinite(prev)) {
      message =
        next === prev
          ? `listed twice at version ${next}: kept the copy listed last`
          : `listed twice (versions ${prev} and ${next}): kept version ${Math.max(prev, next)}`;
    } else if (entry.kind !== 'desired' && !Number.isFinite(prev)) {
      message = 'listed twice and neither copy could be used: kept the reason of the copy listed last';
    } else {
      message = `listed twice: kept the copy that could be used (the other was ${replaced ? describeVerdict(previous) : describeEntry(entry)})`;
    }
    const notes = this.duplicates.get(entry.key);
    if (notes) notes.push(message);
    else this.duplicates.set(entry.key, [message]);
  }

  finish(listing: ListingState, remoteActions: readonly RemoteAction[] = []): Plan {
    const create: DesiredRecord[] = [];
    const update: PlannedUpdate[] = [];
    const stale: StaleRecord[] = [];
    const skipped: SkippedRecord[] = [];
    const failed: FailedRecord[] = [];
    let unchanged = 0;
    for (const [key, verdict] of this.verdicts) {
      switch (verdict.kind) {
        case 'create':
          create.push(verdict.record);
          break;
        case 'update':
          update.push(verdict.update);
          break;
        case 'stale':
          stale.push(verdict.stale);
          unchanged++;
          break;
        case 'unchanged':
          unchanged++;
          break;
        case 'skipped':
          skipped.push({ key, reason: verdict.reason });
          break;
        case 'failed':
          failed.push({ key, error: verdict.error });
          break;
      }
    }
    let deletes: CurrentRecord[] = [];
    if (listing.complete) {
      // Anything listed, even skipped or failed, exists remotely and is never deleted.
      for (const stored of this.current.values()) if (!this.verdicts.has(stored.key)) deletes.push(stored);
    }
    const guard = massDeleteGuard(deletes.length, this.current.size, this.policy.massDelete);
    update.sort((a, b) => compareKeys(a.desired.key, b.desired.key));
    deletes = byKey(deletes);
    const warnings: RecordWarning[] = [];
    for (const [key, messages] of this.warnings) for (const message of messages) warnings.push({ key, message });
    for (const [key, messages] of this.duplicates) for (const message of messages) warnings.push({ key, message });
    skipped.push(...this.keyless);
    return {
      create: byKey(create),
      update,
      delete: deletes,
      unchanged,
      skipped: byKey(skipped),
      failed: byKey(failed),
      stale: byKey(stale),
      warnings: byKey(warnings),
      deletesWithheld: listing.complete ? null : listing.reason,
      guard,
      remoteActions,
    };
  }

  private judge(entry: RemoteEntry): Verdict {
    if (entry.kind === 'skipped') return { kind: 'skipped', reason: entry.reason };
    if (entry.kind === 'failed') return { kind: 'failed', error: entry.error };
    const desired: DesiredRecord = entry;
    const stored = this.current.get(desired.key);
    if (!stored) return { kind: 'create', record: desired };
    if (desired.version < stored.version) {
      return { kind: 'stale', stale: { key: desired.key, remoteVersion: desired.version, storedVersion: stored.version } };
    }
    const changes = diffFields(stored.fields, desired.fields, this.secret);
    if (desired.version > stored.version) {
      const version: FieldChange = { field: 'version', old: stored.version, new: desired.version, secret: false };
      return { kind: 'update', update: { desired, current: stored, changes: [version, ...changes], cause: 'version' } };
    }
    if (changes.some((c) => this.policy.liveFields.includes(c.field))) {
      // Same version: only live fields are trusted to have moved; the rest is shown but not the reason.
      return { kind: 'update', update: { desired, current: stored, changes, cause: 'live' } };
    }
    return { kind: 'unchanged', version: desired.version };
  }
}

/**
 * A listing that shifts while it is paged can return a record twice: the higher version wins; at
 * equal versions the copy listed last (it was read later, so its live fields are the newer ones).
 * A copy that maps wins over one that was skipped or failed.
 */
function supersedes(entry: RemoteEntry, previous: Verdict): boolean {
  const usable = Number.isFinite(verdictVersion(previous));
  if (entry.kind !== 'desired') return !usable;
  return !usable || entry.version >= verdictVersion(previous);
}

function describeVerdict(v: Verdict): string {
  return v.kind === 'skipped' ? `skipped: ${v.reason}` : v.kind === 'failed' ? `failed: ${v.error}` : `version ${verdictVersion(v)}`;
}

function describeEntry(e: RemoteEntry): string {
  return e.kind === 'skipped' ? `skipped: ${e.reason}` : e.kind === 'failed' ? `failed: ${e.error}` : `version ${e.version}`;
}

function verdictVersion(v: Verdict): number {
  switch (v.kind) {
    case 'create':
      return v.record.version;
    case 'update':
      return v.update.desired.version;
    case 'stale':
      return v.stale.remoteVersion;
    case 'unchanged':
      return v.version;
    default:
      return -Infinity;
  }
}

export function massDeleteGuard(wouldDelete: number, tableRows: number, policy: MassDeletePolicy): MassDeleteGuard {
  const refused =
    !policy.allow && wouldDelete > 0 && tableRows > policy.minRows && wouldDelete > policy.maxShare * tableRows;
  return { refused, wouldDelete, tableRows, maxShare: policy.maxShare };
}

/** Field differences between a stored row and a desired one; fields the remote leaves undefined are not compared. */
export function diffFields(
  stored: Readonly<Record<string, Scalar | undefined>>,
  desired: Readonly<Record<string, Scalar | undefined>>,
  secret: ReadonlySet<string>,
): FieldChange[] {
  const changes: FieldChange[] = [];
  for (const field of Object.keys(desired)) {
    const next = desired[field];
    if (next === undefined) continue;
    const prev = stored[field] ?? null;
    if (prev !== next) changes.push({ field, old: prev, new: next, secret: secret.has(field) });
  }
  return changes;
}

export function summarize(p: Plan): PlanSummary {
  return {
    create: p.create.length,
    update: p.update.length,
    delete: p.delete.length,
    unchanged: p.unchanged,
    skipped: p.skipped.length,
    failed: p.failed.length,
  };
}

export function hasChanges(p: Plan): boolean {
  return p.create.length + p.update.length + p.delete.length + p.remoteActions.length > 0;
}

function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function byKey<T extends { key: string }>(items: T[]): T[] {
  return items.sort((a, b) => compareKeys(a.key, b.key));
}
