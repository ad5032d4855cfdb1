/**
 * The plan of `navixy-customers`: from the customer snapshot, the forwarding service's connections
 * and the operators' overrides, which connections to open and close, which customers to skip or leave
 * alone, and what the result must look like. Pure: no I/O, every rule of INVENTORIES.md ("Navixy
 * customers") in one function, testable in microseconds.
 */
import type { MassDeletePolicy } from './types.js';

/** One customer as the snapshot holds it, with provider, state and hash as stored (untrimmed). */
export interface Customer {
  readonly reference: string;
  readonly provider: string | null;
  readonly state: string | null;
  /** The Navixy hash, as stored. A secret: never in a plan line. */
  readonly hash: string | null;
  readonly gatewayCount: number | null;
}

/** A connection as the forwarding service lists it. */
export interface Connection {
  readonly id: string;
  readonly customerRef: string;
  /** Lowercase hex SHA-256 of the hash it was opened with. */
  readonly hashSha256: string;
  readonly status: string;
  readonly createdAt: string;
}

export type OverrideMode = 'force-on' | 'force-off';

export interface Override {
  readonly customerRef: string;
  readonly mode: OverrideMode;
  readonly reason: string | null;
}

/** Why a customer is not eligible (no line is `eligible`). */
export type Ineligibility = 'suspended' | 'removed' | 'unknown state' | 'no hash' | 'no gateway';

export type CloseReason = Ineligibility | 'other provider' | 'unknown customer' | 'rotated hash' | 'duplicate';

export type NavixyLine =
  | { readonly kind: 'establish'; readonly ref: string; readonly reason: string }
  | { readonly kind: 'close'; readonly ref: string; readonly connectionId: string; readonly reason: CloseReason; readonly detail: string }
  | { readonly kind: 'skip'; readonly ref: string; readonly reason: string }
  | { readonly kind: 'override'; readonly ref: string; readonly mode: OverrideMode; readonly reason: string | null }
  | { readonly kind: 'stale-override'; readonly ref: string; readonly mode: OverrideMode };

/** What the snapshot says of each customer, as the plan and the validation read it. */
export interface CustomerVerdict {
  readonly customer: Customer;
  readonly navixy: boolean;
  /** Empty: eligible. */
  readonly ineligible: readonly Ineligibility[];
  /** The trimmed hash, when present. A secret. */
  readonly hash: string | null;
  readonly hashSha256: string | null;
}

export interface NavixyCounts {
  /** Eligible customers, overrides excluded (duplicate-hash ones included: they stay eligible). */
  readonly eligible: number;
  /** Active connections, those of overridden customers excluded. */
  readonly connections: number;
  /** Eligible customers without an active connection on their current hash. */
  readonly missing: number;
  /** Active connections that should not be (the plan's closes). */
  readonly extra: number;
  /** Suspended or removed customers with an active connection. */
  readonly suspendedWithConnection: number;
  /** Customers skipped with a reason. */
  readonly skipped: number;
  readonly inStep: number;
  readonly overridden: number;
}

export interface NavixyPlan {
  /** Closes first, then establishes, then skips, overrides and stale overrides; each group by reference. */
  readonly lines: readonly NavixyLine[];
  readonly counts: NavixyCounts;
  readonly guard: { readonly refused: boolean; readonly wouldClose: number; readonly active: number; readonly maxShare: number };
}

/** `connected` and `pending` are active; `disconnected` and `failed` are not (never closed, never counted). */
export function isActive(connection: Pick<Connection, 'status'>): boolean {
  const status = connection.status.trim().toLowerCase();
  return status === 'connected' || status === 'pending';
}

const normalized = (text: string | null) => (text ?? '').trim().toLowerCase();

/** Eligibility by the rules: provider Navixy, state active, a non-blank hash, at least one gateway. */
export function judgeCustomer(customer: Customer, sha256: (text: string) => string): CustomerVerdict {
  const navixy = normalized(customer.provider) === 'navixy';
  const ineligible: Ineligibility[] = [];
  const state = normalized(customer.state);
  if (state === 'suspended' || state === 'removed') ineligible.push(state);
  else if (state !== 'active') ineligible.push('unknown state');
  const hash = customer.hash !== null && customer.hash.trim() !== '' ? customer.hash.trim() : null;
  if (hash === null) ineligible.push('no hash');
  if (customer.gatewayCount === null || !(customer.gatewayCount >= 1)) ineligible.push('no gateway');
  return { customer, navixy, ineligible, hash, hashSha256: hash === null ? null : sha256(hash) };
}

/** The one active connection kept of several on the current hash: connected before pending, then the oldest. */
function keeperOf(connections: readonly Connection[]): Connection {
  return [...connections].sort((a, b) => {
    const rank = (c: Connection) => (c.status.trim().toLowerCase() === 'connected' ? 0 : 1);
    return rank(a) - rank(b) || a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id);
  })[0]!;
}

const byRef = <T extends { ref: string }>(a: T, b: T) => (a.ref < b.ref ? -1 : a.ref > b.ref ? 1 : 0);

export function planNavixy(
  verdicts: readonly CustomerVerdict[],
  connections: readonly Connection[],
  overrides: readonly Override[],
  massDelete: MassDeletePolicy,
): NavixyPlan {
  const customers = new Map(verdicts.map((v) => [v.customer.reference, v]));
  const overrideOf = new Map(overrides.map((o) => [o.customerRef, o]));
  const activeByRef = new Map<string, Connection[]>();
  for (const connection of connections) {
    if (!isActive(connection)) continue;
    const group = activeByRef.get(connection.customerRef);
    if (group) group.push(connection);
    else activeByRef.set(connection.customerRef, [connection]);
  }
  // A hash held by two or more eligible customers is never used for a new connection.
  const holders = new Map<string, number>();
  for (const v of verdicts) {
    if (v.navixy && v.ineligible.length === 0 && !overrideOf.has(v.customer.reference)) holders.set(v.hashSha256!, (holders.get(v.hashSha256!) ?? 0) + 1);
  }

  const closes: Extract<NavixyLine, { kind: 'close' }>[] = [];
  const establishes: Extract<NavixyLine, { kind: 'establish' }>[] = [];
  const skips: Extract<NavixyLine, { kind: 'skip' }>[] = [];
  const kept: Extract<NavixyLine, { kind: 'override' | 'stale-override' }>[] = [];
  let eligible = 0;
  let active = 0;
  let missing = 0;
  let suspendedWithConnection = 0;
  let inStep = 0;
  const close = (group: readonly Connection[], reason: CloseReason, detail: string) => {
    for (const c of group) closes.push({ kind: 'close', ref: c.customerRef, connectionId: c.id, reason, detail });
  };

  for (const override of overrides) {
    if (customers.has(override.customerRef)) kept.push({ kind: 'override', ref: override.customerRef, mode: override.mode, reason: override.reason });
    else kept.push({ kind: 'stale-override', ref: override.customerRef, mode: override.mode });
  }

  for (const [ref, group] of activeByRef) {
    const verdict = customers.get(ref);
    if (verdict !== undefined && overrideOf.has(ref)) continue;
    active += group.length;
    if (verdict === undefined) {
      const stale = overrideOf.has(ref) ? ' (its override is stale)' : '';
      close(group, 'unknown customer', `no customer ${ref} in the customer database${stale}`);
    } else if (!verdict.navixy) {
      close(group, 'other provider', 'the customer is not a Navixy customer');
    } else if (verdict.ineligible.length > 0) {
      const [first] = verdict.ineligible;
      if (first === 'suspended' || first === 'removed') suspendedWithConnection++;
      close(group, first!, `not eligible: ${verdict.ineligible.join(', ')}`);
    }
  }

  for (const verdict of verdicts) {
    const ref = verdict.customer.reference;
    if (overrideOf.has(ref) || !verdict.navixy) continue;
    const group = activeByRef.get(ref) ?? [];
    if (verdict.ineligible.length > 0) {
      // Suspended and removed customers are not meant to be connected: no line unless they are
      // (closed above). The others are skipped with their reasons, and closed too when connected.
      const [first] = verdict.ineligible;
      if (first !== 'suspended' && first !== 'removed') skips.push({ kind: 'skip', ref, reason: verdict.ineligible.join(', ') });
      continue;
    }
    eligible++;
    const current = group.filter((c) => c.hashSha256 === verdict.hashSha256);
    if ((holders.get(verdict.hashSha256!) ?? 0) > 1) {
      // Every holder of the hash is skipped, connected or not: no action on any of them, and no new
      // connection with that hash. They stay eligible, so the validation fails and says why.
      skips.push({ kind: 'skip', ref, reason: 'duplicate hash: another eligible customer has the same Navixy hash' });
      if (current.length > 0) inStep++;
      else missing++;
      continue;
    }
    close(
      group.filter((c) => c.hashSha256 !== verdict.hashSha256),
      'rotated hash',
      'opened with an earlier hash of the customer',
    );
    if (current.length > 0) {
      const keeper = keeperOf(current);
      close(
        current.filter((c) => c !== keeper),
        'duplicate',
        `a second active connection of the customer (kept ${keeper.id})`,
      );
      inStep++;
      continue;
    }
    missing++;
    establishes.push({ kind: 'establish', ref, reason: group.length > 0 ? 'its connection has an earlier hash' : 'eligible, without a connection' });
  }

  closes.sort((a, b) => byRef(a, b) || a.connectionId.localeCompare(b.connectionId));
  establishes.sort(byRef);
  skips.sort(byRef);
  kept.sort(byRef);
  const wouldClose = closes.length;
  const refused = !massDelete.allow && active > massDelete.minRows && wouldClose > massDelete.maxShare * active;
  return {
    lines: [...closes, ...establishes, ...skips, ...kept],
    counts: {
      eligible,
      connections: active,
      missing,
      extra: wouldClose,
      suspendedWithConnection,
      skipped: skips.length,
      inStep,
      overridden: kept.filter((k) => k.kind === 'override').length,
    },
    guard: { refused, wouldClose, active, maxShare: massDelete.maxShare },
  };
}

export interface NavixyValidation {
  readonly ok: boolean;
  /** What is still out of step, one line each (the first {@link PROBLEMS_SHOWN}), and how many in all. */
  readonly problems: readonly string[];
  readonly problemCount: number;
  /** The counts of the state validated: what a plan of it would find. */
  readonly counts: NavixyCounts;
}

export const PROBLEMS_SHOWN = 20;

/**
 * Checks the connections after acting against the same snapshot, overrides excluded: active
 * connections = eligible customers, every eligible customer has one on its current hash, and no
 * other customer has one. That is: a plan of that state would have nothing to do. A customer whose
 * hash another eligible customer shares stays eligible, so it fails validation, saying why.
 */
export function validateNavixy(verdicts: readonly CustomerVerdict[], after: readonly Connection[], overrides: readonly Override[]): NavixyValidation {
  const plan = planNavixy(verdicts, after, overrides, { allow: true, maxShare: 1, minRows: 0 });
  const digestOf = new Map(verdicts.map((v) => [v.customer.reference, v.hashSha256]));
  const connected = new Set(after.filter((c) => isActive(c) && digestOf.get(c.customerRef) === c.hashSha256).map((c) => c.customerRef));
  const problems: string[] = [];
  for (const line of plan.lines) {
    if (line.kind === 'close') problems.push(`${line.ref}: connection ${line.connectionId} should not be active (${line.reason})`);
    else if (line.kind === 'establish') problems.push(`${line.ref}: eligible, without a connection on its current hash`);
    // A holder of a shared hash that is connected on it is in step; the others are what fails.
    else if (line.kind === 'skip' && line.reason.startsWith('duplicate hash') && !connected.has(line.ref)) problems.push(`${line.ref}: eligible, without a connection (${line.reason})`);
  }
  const { eligible, connections } = plan.counts;
  if (connections !== eligible) problems.unshift(`${connections} active connection${connections === 1 ? '' : 's'} for ${eligible} eligible customer${eligible === 1 ? '' : 's'}`);
  return { ok: problems.length === 0, problems: problems.slice(0, PROBLEMS_SHOWN), problemCount: problems.length, counts: plan.counts };
}
