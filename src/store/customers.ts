/**
 * What `navixy-customers` reads from the databases: the customer snapshot (the customer database's
 * `customers` table or view, read-only) and the operators' overrides (the portal's
 * `navixy_overrides`). Each is one SELECT: one statement reads one consistent state of its table.
 */
import type { Knex } from 'knex';
import type { Customer, Override } from '../reconcile/navixy.js';

/** The customer snapshot, in one statement: read once per pass, before anything is planned. */
export async function readCustomerSnapshot(db: Knex): Promise<Customer[]> {
  const rows = (await db('customers').select('reference', 'provider', 'state', 'navixy_hash', 'gateway_count').orderBy('reference')) as Array<{
    reference: unknown;
    provider: unknown;
    state: unknown;
    navixy_hash: unknown;
    gateway_count: unknown;
  }>;
  return rows.map((r) => ({
    reference: String(r.reference),
    provider: r.provider === null ? null : String(r.provider),
    state: r.state === null ? null : String(r.state),
    hash: r.navixy_hash === null ? null : String(r.navixy_hash),
    gatewayCount: r.gateway_count === null ? null : Number(r.gateway_count),
  }));
}

export async function readOverrides(db: Knex): Promise<Override[]> {
  const rows = (await db('navixy_overrides').select('customer_reference', 'mode', 'reason').orderBy('customer_reference')) as Array<{
    customer_reference: string;
    mode: string;
    reason: string | null;
  }>;
  return rows.map((r) => ({ customerRef: r.customer_reference, mode: r.mode === 'force-off' ? 'force-off' : 'force-on', reason: r.reason }));
}

/** How many passes in a row, before this one, ended with a failed validation (the last recorded pass's count). */
export async function previousDiscrepantPasses(db: Knex, command: string): Promise<number> {
  const row = (await db('sync_runs')
    .where({ command, dry_run: false })
    .whereIn('status', ['ok', 'partial'])
    .orderBy('id', 'desc')
    .first('summary')) as { summary: unknown } | undefined;
  if (!row) return 0;
  const summary = typeof row.summary === 'string' ? (JSON.parse(row.summary) as unknown) : row.summary;
  const n = (summary as { validation?: { consecutiveDiscrepantPasses?: unknown } } | null)?.validation?.consecutiveDiscrepantPasses;
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 ? n : 0;
}
