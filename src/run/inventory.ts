import type { Knex } from 'knex';
import type { CurrentRecord, DesiredRecord, Plan, PlanPolicy, RemoteAction, RemoteEntry } from '../reconcile/index.js';
import type { ApiCallCounter } from '../providers/errors.js';
import type { DbClient } from '../store/db.js';
import type { ApplyOutcome } from '../store/types.js';

export type { ApplyOutcome };
import type { Logger } from './log.js';


/**
 * One inventory, declared by a command: where records come from, how they map to rows (or skips), and
 * the table they land in. The pass in `run/pass.ts` does the rest, the same for every command.
 */
export interface Inventory {
  readonly command: string;
  /** What a row is called in output ("device"). */
  readonly noun: string;
  /**
   * The name people know a key by, where the key is an opaque id (a thing's thingId: its name), or
   * null. The diff table shows `name (key)`; `--json` and the run log keep the key alone.
   */
  nameOf?(key: string): string | null;
  /**
   * False for rows without a version of their own (device models: the pass compares them at a
   * constant one), so the diff table does not show that constant as if it were a version.
   */
  readonly versioned?: boolean;
  readonly policy: Omit<PlanPolicy, 'massDelete'>;
  readonly calls: ApiCallCounter;
  /**
   * Yields remote records already mapped, a page at a time. Throwing ends the listing as incomplete;
   * `markIncomplete` says so without stopping (a side listing failed, the main one goes on).
   */
  remote(ctx: RemoteContext): AsyncIterable<RemoteEntry[]>;
  /**
   * Why a mapped record cannot be stored (a value its column cannot hold), or null. The pass skips
   * such a record with the reason, so one bad value never fails a chunk, let alone the pass.
   */
  validate(record: DesiredRecord): string | null;
  loadCurrent(db: Knex): Promise<Map<string, CurrentRecord>>;
  apply(trx: Knex.Transaction, plan: Plan, client: DbClient): Promise<ApplyOutcome>;
  /**
   * Runs after the transaction committed (never on a dry run): e.g. write the gateway ids file.
   * Returns a problem to report, which makes the pass partial, or null.
   */
  afterCommit?(ctx: AfterCommitContext): Promise<string | null>;
  /**
   * Carries out one remote action the listing planned (`RemoteContext.planAction`), after the
   * commit and never on a dry run or a refused pass. Returns what was done, in a few words; throws
   * when it failed, which makes the pass partial without stopping the other actions.
   */
  performAction?(action: RemoteAction, ctx: ActionContext): Promise<string>;
}

export interface RemoteContext {
  readonly db: Knex;
  readonly log: Logger;
  markIncomplete(reason: string): void;
  /** Adds an action on the remote side to the plan (deleting a deprecated thing type...), shown in the diff. */
  planAction(action: RemoteAction): void;
}

export interface ActionContext {
  readonly db: Knex;
  readonly log: Logger;
}

export interface AfterCommitContext {
  readonly db: Knex;
  readonly log: Logger;
  readonly plan: Plan;
  /** False when the listing stopped early: the stored set may be stale. */
  readonly listingComplete: boolean;
}
