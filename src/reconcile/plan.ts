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
  const secret = new Set(policy.secretFields);
  const desiredByKey = new Map<string, DesiredRecord>();
  const seen = new Set<string>();
  const skipped: SkippedRecord[] = [];
  const failed: FailedRecord[] = [];

  for (const entry of remote) {
    seen.add(entry.key);
    if (entry.kind === 'skipped') skipped.push({ key: entry.key, reason: entry.reason });
    else if (entry.kind === 'failed') failed.push({ key: entry.key, error: entry.error });
    else {
      // A listing that shifts while it is paged can return a record twice: the newer version wins.
      const previous = desiredByKey.get(entry.key);
      if (!previous || entry.version > previous.version) {
        desiredByKey.set(entry.key, { key: entry.key, version: entry.version, fields: entry.fields });
      }
    }
  }

  const create: DesiredRecord[] = [];
  const update: PlannedUpdate[] = [];
  const stale: StaleRecord[] = [];
  let unchanged = 0;

  for (const desired of desiredByKey.values()) {
    const stored = current.get(desired.key);
    if (!stored) {
      create.push(desired);
      continue;
    }
    if (desired.version < stored.version) {
      stale.push({ key: desired.key, remoteVersion: desired.version, storedVersion: stored.version });
      unchanged++;
      continue;
    }
    const changes = diffFields(stored.fields, desired.fields, secret);
    if (desired.version > stored.version) {
      update.push({
        desired,
        current: stored,
        changes: [{ field: 'version', old: stored.version, new: desired.version, secret: false }, ...changes],
        cause: 'version',
      });
    } else if (changes.some((c) => policy.liveFields.includes(c.field))) {
      // Same version: only live fields are trusted to have moved; the rest is shown but not the reason.
      update.push({ desired, current: stored, changes, cause: 'live' });
    } else {
      unchanged++;
    }
  }

  let deletes: CurrentRecord[] = [];
  if (listing.complete) {
    for (const stored of current.values()) {
      if (!seen.has(stored.key)) deletes.push(stored);
    }
  }
  const guard = massDeleteGuard(deletes.length, current.size, policy.massDelete);

  byKey(create);
  update.sort((a, b) => compareKeys(a.desired.key, b.desired.key));
  deletes = byKey(deletes);
  byKey(skipped);
  byKey(failed);
  byKey(stale);

  return {
    create,
    update,
    delete: deletes,
    unchanged,
    skipped,
    failed,
    stale,
    deletesWithheld: listing.complete ? null : listing.reason,
    guard,
    remoteActions,
  };
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
