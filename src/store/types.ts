import type { FailedRecord } from '../reconcile/index.js';

/** What a pass's statements actually did (from RETURNING), which is what the run log records. */
export interface ApplyOutcome {
  readonly created: readonly string[];
  readonly updated: readonly string[];
  readonly deleted: readonly string[];
  /**
   * Planned writes and deletes the re-check in SQL refused: another writer stored a newer version,
   * or changed or removed the row, meanwhile. Each key once.
   */
  readonly conflicts: readonly string[];
  /** Records the database refused, isolated with savepoints; the rest of the plan was applied. */
  readonly failed: readonly FailedRecord[];
}
