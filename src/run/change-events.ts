import type { Plan } from '../reconcile/index.js';
import type { RunEvent } from '../store/runlog.js';
import type { ApplyOutcome } from '../store/types.js';
import { describeFieldChange } from './field-diff.js';

/**
 * One event per change the statements actually made (so `history --ref <id>` tells a record's whole
 * story), one per conflict, one per record the database refused. Secrets show as changed, never by value.
 */
export function changeEvents(plan: Plan, applied: ApplyOutcome, noun: string): RunEvent[] {
  const events: RunEvent[] = [];
  const creates = new Map(plan.create.map((c) => [c.key, c]));
  const updates = new Map(plan.update.map((u) => [u.desired.key, u]));
  const deletes = new Map(plan.delete.map((d) => [d.key, d]));
  const member = (fields: object) => Object.keys(fields).length === 0;
  for (const key of applied.created) {
    const c = creates.get(key)!;
    events.push({ level: 'info', type: 'create', ref: key, message: member(c.fields) ? `added ${noun}` : `created ${noun} (version ${c.version})` });
  }
  for (const key of applied.updated) {
    const u = updates.get(key)!;
    const fields = u.changes.flatMap(describeFieldChange).join('; ');
    events.push({ level: 'info', type: 'update', ref: key, message: `updated ${noun}: ${fields}` });
  }
  for (const key of applied.deleted) {
    const d = deletes.get(key)!;
    events.push({ level: 'info', type: 'delete', ref: key, message: member(d.fields) ? `removed ${noun}` : `deleted ${noun} (stored version ${d.version})` });
  }
  for (const key of applied.conflicts) {
    const message = deletes.has(key)
      ? 'not deleted: another writer changed or removed the row meanwhile'
      : 'not written: another writer stored a newer version meanwhile';
    events.push({ level: 'warn', type: 'conflict', ref: key, message });
  }
  for (const f of applied.failed) events.push({ level: 'error', type: 'fail', ref: f.key, message: f.error });
  return events;
}
