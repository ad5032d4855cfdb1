import type { RemoteAction } from '../reconcile/index.js';
import type { RunEvent } from '../store/runlog.js';
import type { ActionContext, Inventory } from './inventory.js';
import type { Interruption } from './interrupt.js';
import type { Logger } from './log.js';

/** What became of one remote action of the plan. */
export type ActionOutcome =
  | { readonly status: 'done'; readonly message: string }
  | { readonly status: 'failed'; readonly error: string }
  /** Not attempted: a dry run, a refused pass, a signal before its turn. */
  | { readonly status: 'skipped'; readonly reason: string };

export interface ActionResult {
  readonly action: RemoteAction;
  readonly outcome: ActionOutcome;
}

/** Counts of the outcomes, as the run's summary records them. */
export interface ActionCounts {
  readonly planned: number;
  readonly done: number;
  readonly failed: number;
  readonly skipped: number;
}

export function skippedActions(actions: readonly RemoteAction[], reason: string): ActionResult[] {
  return actions.map((action) => ({ action, outcome: { status: 'skipped', reason } }));
}

/**
 * Carries out the plan's remote actions one at a time, in plan order. A failed action is recorded and
 * the next one still runs: one type AWS refuses to delete must not keep the others in place. A signal
 * stops the actions not yet started (recorded as skipped); the one in flight finishes first.
 */
export async function performActions(
  inventory: Inventory,
  actions: readonly RemoteAction[],
  ctx: ActionContext,
  interruption: Interruption,
  log: Logger,
): Promise<ActionResult[]> {
  const results: ActionResult[] = [];
  for (const action of actions) {
    const signal = interruption.received();
    if (signal !== null) {
      results.push({ action, outcome: { status: 'skipped', reason: `not run: interrupted by ${signal}` } });
      continue;
    }
    try {
      if (!inventory.performAction) throw new Error(`${inventory.command} cannot carry out remote actions`);
      const message = await inventory.performAction(action, ctx);
      log.info(`${action.description}: ${message}`);
      results.push({ action, outcome: { status: 'done', message } });
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      log.error(`${action.description} failed: ${text}`);
      results.push({ action, outcome: { status: 'failed', error: text } });
    }
  }
  return results;
}

export function countActions(results: readonly ActionResult[]): ActionCounts {
  const count = (status: ActionOutcome['status']) => results.filter((r) => r.outcome.status === status).length;
  return { planned: results.length, done: count('done'), failed: count('failed'), skipped: count('skipped') };
}

/** One event per action, under its ref (`history --ref <type>` tells the whole story), type `action`. */
export function actionEvents(results: readonly ActionResult[]): RunEvent[] {
  return results.map(({ action, outcome }) => {
    switch (outcome.status) {
      case 'done':
        return { level: 'info', type: 'action', ref: action.ref, message: `${action.description}: ${outcome.message}` };
      case 'failed':
        return { level: 'error', type: 'action', ref: action.ref, message: `${action.description} failed: ${outcome.error}` };
      case 'skipped':
        return { level: 'warn', type: 'action', ref: action.ref, message: `${action.description} not done: ${outcome.reason}` };
    }
  });
}
