import type { FieldChange, Scalar } from '../reconcile/index.js';

/** Longest value shown of a field; the rest is cut with an ellipsis. */
const SHOWN_VALUE = 80;

/**
 * How one field's change reads for people, a line per difference: `field: old -> new`, a secret as
 * merely changed, and a set the plan carries as one JSON value (tags, edge modules) member by member:
 * `modules: ~ sensor image "a:1" -> "a:2"`, `tags: + site = "Lyon"`. A cut-off blob hides the change.
 */
export function describeFieldChange(change: FieldChange): string[] {
  if (change.secret) return [`${change.field}: (secret changed)`];
  const members = setChanges(change);
  if (members) return members.map((line) => `${change.field}: ${line}`);
  return [`${change.field}: ${showValue(change.old)} -> ${showValue(change.new)}`];
}

export function showValue(value: Scalar | undefined): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value !== 'string') return String(value);
  const shown = JSON.stringify(value);
  return shown.length > SHOWN_VALUE ? `${shown.slice(0, SHOWN_VALUE - 2)}…"` : shown;
}

type Members = Map<string, Record<string, unknown>>;

/** The per-member lines of a set-valued field, or null when the values are not such a set. */
function setChanges(change: FieldChange): string[] | null {
  const before = members(change.old);
  const after = members(change.new);
  if (!before || !after) return null;
  const lines: string[] = [];
  for (const [name, now] of after) {
    const was = before.get(name);
    if (!was) lines.push(`+ ${describeMember(name, now)}`);
    else {
      const moved = Object.keys(now).filter((k) => JSON.stringify(now[k]) !== JSON.stringify(was[k]));
      if (moved.length > 0) lines.push(`~ ${name} ${moved.map((k) => `${k} ${show(was[k])} -> ${show(now[k])}`).join(', ')}`);
    }
  }
  for (const name of before.keys()) if (!after.has(name)) lines.push(`- ${name}`);
  return lines.length > 0 ? lines : null;
}

/**
 * A set's members by name: tags are a JSON object of name -> value (a member's one property is
 * `value`), edge modules a JSON array of objects with a `name`.
 */
function members(value: Scalar | undefined): Members | null {
  if (typeof value !== 'string' || (value[0] !== '{' && value[0] !== '[')) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return null;
  }
  const out: Members = new Map();
  if (Array.isArray(parsed)) {
    for (const item of parsed) {
      if (!item || typeof item !== 'object' || typeof (item as { name?: unknown }).name !== 'string') return null;
      const { name, ...rest } = item as { name: string } & Record<string, unknown>;
      out.set(name, rest);
    }
    return out;
  }
  if (!parsed || typeof parsed !== 'object') return null;
  for (const [name, v] of Object.entries(parsed as Record<string, unknown>)) out.set(name, { value: v });
  return out;
}

function describeMember(name: string, properties: Record<string, unknown>): string {
  const keys = Object.keys(properties).filter((k) => properties[k] !== null && properties[k] !== undefined);
  if (keys.length === 1 && keys[0] === 'value') return `${name} = ${show(properties.value)}`;
  return keys.length === 0 ? name : `${name} (${keys.map((k) => `${k} ${show(properties[k])}`).join(', ')})`;
}

function show(value: unknown): string {
  return value === undefined ? 'null' : showValue(typeof value === 'object' && value !== null ? JSON.stringify(value) : (value as Scalar));
}
