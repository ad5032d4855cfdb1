/**
 * The audit trail of a `navixy-customers` pass: every discrepancy found, every action and its
 * outcome, every skip and override, and the validation, each under the customer's reference where it
 * has one, so `history --ref <customer>` tells a customer's whole story. Never a hash.
 */
import type { NavixyPlan } from '../reconcile/navixy.js';
import type { RunEvent } from '../store/runlog.js';
import type { NavixyActionResult } from './navixy-act.js';
import type { NavixyResult } from './navixy-run.js';

export function navixyEvents(plan: NavixyPlan, actions: readonly NavixyActionResult[], validation: NavixyResult['validation']): RunEvent[] {
  const events: RunEvent[] = [];
  for (const line of plan.lines) {
    switch (line.kind) {
      case 'close':
        events.push({ level: 'warn', type: 'discrepancy', ref: line.ref, message: `extra connection ${line.connectionId} (${line.reason}): ${line.detail}` });
        break;
      case 'establish':
        events.push({ level: 'warn', type: 'discrepancy', ref: line.ref, message: `missing connection: ${line.reason}` });
        break;
      case 'skip':
        events.push({ level: 'info', type: 'skip', ref: line.ref, message: line.reason });
        break;
      case 'override':
        events.push({ level: 'info', type: 'override', ref: line.ref, message: `left alone: ${line.mode} override${line.reason ? ` (${line.reason})` : ''}` });
        break;
      case 'stale-override':
        events.push({ level: 'warn', type: 'override', ref: line.ref, message: `stale ${line.mode} override: no such customer in the customer database; its connections are closed as unknown` });
        break;
    }
  }
  for (const { line, outcome } of actions) {
    const what = line.kind === 'close' ? `close ${line.connectionId}` : 'establish';
    if (outcome.status === 'done') events.push({ level: 'info', type: 'action', ref: line.ref, message: `${what}: ${outcome.message}` });
    else if (outcome.status === 'failed') events.push({ level: 'error', type: 'action', ref: line.ref, message: `${what} failed: ${outcome.error}` });
    else events.push({ level: 'warn', type: 'action', ref: line.ref, message: `${what} not done: ${outcome.reason}` });
  }
  if (validation !== null) {
    const { ok, problems, problemCount, consecutiveDiscrepantPasses: n } = validation;
    events.push(
      ok
        ? { level: 'info', type: 'validation', ref: null, message: `validation passed: ${validation.counts.connections} active connections for ${validation.counts.eligible} eligible customers` }
        : {
            level: 'error',
            type: 'validation',
            ref: null,
            message: `validation failed (${n} pass${n === 1 ? '' : 'es'} in a row), ${problemCount} problem${problemCount === 1 ? '' : 's'}: ${problems.join('; ')}${problemCount > problems.length ? '; ...' : ''}`,
          },
    );
  }
  return events;
}
