/** A value as the portal stores it, after normalisation (booleans as booleans, instants as ISO strings). */
export type Scalar = string | number | boolean | null;

/**
 * The fields of one row, flat. `undefined` means "the remote side does not say": the stored value is
 * kept and not compared (LoRa keys imported by other means survive a sync, for instance).
 */
export type Fields = Readonly<Record<string, Scalar | undefined>>;

/** A row the remote system wants in the portal. */
export interface DesiredRecord {
  readonly key: string;
  readonly version: number;
  readonly fields: Fields;
  /** Synced anyway, but something about the record deserves a look (a missing module twin...). */
  readonly warnings?: readonly string[];
}

/** A row the portal has now. */
export interface CurrentRecord {
  readonly key: string;
  readonly version: number;
  readonly fields: Fields;
}

/** What one remote record maps to. */
export type RemoteEntry =
  | ({ readonly kind: 'desired' } & DesiredRecord)
  | {
      readonly kind: 'skipped';
      readonly key: string;
      readonly reason: string;
      /** The record has no usable key (`key` only describes that): each one is counted on its own. */
      readonly keyless?: boolean;
    }
  | { readonly kind: 'failed'; readonly key: string; readonly error: string };

/** Whether the remote listing was read to its end. Deletes are only ever planned from a complete one. */
export type ListingState = { readonly complete: true } | { readonly complete: false; readonly reason: string };

export interface MassDeletePolicy {
  /** Largest share of the table one pass may delete without `--allow-mass-delete` (0..1). */
  readonly maxShare: number;
  /** Tables with at most this many rows are never guarded. */
  readonly minRows: number;
  readonly allow: boolean;
}

export interface PlanPolicy {
  /** Fields whose change updates a row even when the remote version did not move (connection state...). */
  readonly liveFields: readonly string[];
  /** Fields whose values never appear in a plan's output. */
  readonly secretFields: readonly string[];
  readonly massDelete: MassDeletePolicy;
}

export interface FieldChange {
  readonly field: string;
  readonly old: Scalar | undefined;
  readonly new: Scalar | undefined;
  readonly secret: boolean;
}

export interface PlannedUpdate {
  readonly desired: DesiredRecord;
  readonly current: CurrentRecord;
  readonly changes: readonly FieldChange[];
  /** Why: the remote version is newer, or only live fields changed at the same version. */
  readonly cause: 'version' | 'live';
}

export interface SkippedRecord {
  readonly key: string;
  readonly reason: string;
}

export interface RecordWarning {
  readonly key: string;
  readonly message: string;
}

export interface FailedRecord {
  readonly key: string;
  readonly error: string;
}

/** A remote record older than the stored row: never applied, reported so concurrent writers are visible. */
export interface StaleRecord {
  readonly key: string;
  readonly remoteVersion: number;
  readonly storedVersion: number;
}

/** An action on the remote side that a pass carries out itself (deleting a deprecated AWS type...). */
export interface RemoteAction {
  readonly kind: string;
  readonly ref: string;
  readonly description: string;
}

export interface MassDeleteGuard {
  readonly refused: boolean;
  readonly wouldDelete: number;
  readonly tableRows: number;
  readonly maxShare: number;
}

export interface Plan {
  readonly create: readonly DesiredRecord[];
  readonly update: readonly PlannedUpdate[];
  readonly delete: readonly CurrentRecord[];
  readonly unchanged: number;
  readonly skipped: readonly SkippedRecord[];
  readonly failed: readonly FailedRecord[];
  readonly stale: readonly StaleRecord[];
  readonly warnings: readonly RecordWarning[];
  /** Set when the listing did not complete: the reason no deletes were planned. */
  readonly deletesWithheld: string | null;
  readonly guard: MassDeleteGuard;
  readonly remoteActions: readonly RemoteAction[];
}

export interface PlanSummary {
  create: number;
  update: number;
  delete: number;
  unchanged: number;
  skipped: number;
  failed: number;
}
