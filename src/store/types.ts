export interface ApplyOutcome {
  created: number;
  updated: number;
  deleted: number;
  /** Keys the version re-check in SQL refused: a concurrent writer stored a newer version meanwhile. */
  conflicts: string[];
}
