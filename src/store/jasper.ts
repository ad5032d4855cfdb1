/**
 * The tables of `jasper` (migration 007): service providers, cursors, the staging of a listing in
 * progress, and production. Staging is written page by page as the listing arrives; promotion
 * (planned by reconcile/jasper.ts) writes production, clears the staging and moves the cursor in
 * one transaction.
 */
import type { Knex } from 'knex';
import type { Promotion, Sim, StagedSim } from '../reconcile/jasper.js';
import { clientOf } from './db.js';
import { columns, insertRows } from './sql.js';

export interface ServiceProvider {
  readonly id: string;
  readonly name: string | null;
  readonly apiBaseUrl: string;
  readonly username: string;
  readonly billingEndDay: number;
  readonly billingEndHour: number;
  readonly enabled: boolean;
}

type ProviderRow = { id: string; name: string | null; api_base_url: string; username: string; billing_end_day: number; billing_end_hour: number; enabled: unknown };

const providerOf = (r: ProviderRow): ServiceProvider => ({
  id: r.id,
  name: r.name,
  apiBaseUrl: r.api_base_url,
  username: r.username,
  billingEndDay: Number(r.billing_end_day),
  billingEndHour: Number(r.billing_end_hour),
  enabled: r.enabled === true || r.enabled === 1,
});

export async function listProviders(db: Knex): Promise<ServiceProvider[]> {
  return ((await db('jasper_service_providers').select().orderBy('id')) as ProviderRow[]).map(providerOf);
}

/** Adds a provider, or replaces the one of that id (its cursor and production rows stay). */
export async function saveProvider(db: Knex, p: ServiceProvider): Promise<void> {
  const row = { id: p.id, name: p.name, api_base_url: p.apiBaseUrl, username: p.username, billing_end_day: p.billingEndDay, billing_end_hour: p.billingEndHour, enabled: p.enabled };
  await db('jasper_service_providers').insert(row).onConflict('id').merge(['name', 'api_base_url', 'username', 'billing_end_day', 'billing_end_hour', 'enabled']);
}

/** Removes a provider with its cursor, staging and production rows (ON DELETE CASCADE); false when there was none. */
export async function removeProvider(db: Knex, id: string): Promise<boolean> {
  return db.transaction(async (trx) => {
    // SQLite enforces the foreign keys' cascade only with the pragma on; do it by hand on both.
    for (const table of ['jasper_devices', 'jasper_device_staging', 'jasper_cursors']) await trx(table).where({ provider_id: id }).delete();
    return (await trx('jasper_service_providers').where({ id }).delete()) > 0;
  });
}

export interface Cursor {
  /** modifiedSince of the next incremental pass; null: never completed (a full sync is due). */
  readonly modifiedSince: Date | null;
  /** A listing not read to its end yet: what it asks, when it began, and the next page to read. */
  readonly resume: { readonly modifiedSince: Date; readonly startedAt: Date; readonly page: number } | null;
}

/** A timestamp as either driver gives it back: a Date (pg), an ISO string (as written here), or epoch milliseconds. */
const dateOf = (v: unknown): Date | null => {
  if (v === null || v === undefined) return null;
  if (v instanceof Date) return v;
  return typeof v === 'number' || /^\d+$/.test(String(v)) ? new Date(Number(v)) : new Date(String(v));
};
const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

export async function readCursor(db: Knex, providerId: string): Promise<Cursor> {
  const row = (await db('jasper_cursors').where({ provider_id: providerId }).first()) as Record<string, unknown> | undefined;
  if (!row) return { modifiedSince: null, resume: null };
  const resumeSince = dateOf(row.resume_modified_since);
  const startedAt = dateOf(row.resume_started_at);
  const page = row.resume_page === null || row.resume_page === undefined ? null : Number(row.resume_page);
  const resume = resumeSince !== null && startedAt !== null && page !== null ? { modifiedSince: resumeSince, startedAt, page } : null;
  return { modifiedSince: dateOf(row.modified_since), resume };
}

export async function writeCursor(db: Knex | Knex.Transaction, providerId: string, cursor: Cursor): Promise<void> {
  const row = {
    provider_id: providerId,
    modified_since: iso(cursor.modifiedSince),
    resume_modified_since: iso(cursor.resume?.modifiedSince),
    resume_started_at: iso(cursor.resume?.startedAt),
    resume_page: cursor.resume?.page ?? null,
    updated_at: new Date().toISOString(),
  };
  await db('jasper_cursors').insert(row).onConflict('provider_id').merge(['modified_since', 'resume_modified_since', 'resume_started_at', 'resume_page', 'updated_at']);
}

export async function clearStaging(db: Knex | Knex.Transaction, providerId: string): Promise<void> {
  await db('jasper_device_staging').where({ provider_id: providerId }).delete();
}

const STAGING_COLUMNS = columns({ provider_id: 'text', page_number: 'integer', position: 'integer', iccid: 'text', status: 'text', rate_plan: 'text', communication_plan: 'text' });

/** One page as it arrived, in one statement; a page staged again (a retried pass) replaces nothing: it is the same page. */
export async function stagePage(db: Knex | Knex.Transaction, providerId: string, records: readonly StagedSim[]): Promise<void> {
  if (records.length === 0) return;
  await insertRows(
    db,
    clientOf(db),
    'jasper_device_staging',
    STAGING_COLUMNS,
    records.map((r) => [providerId, r.pageNumber, r.position, r.iccid, r.status, r.ratePlan, r.communicationPlan]),
    { upsert: { target: ['provider_id', 'page_number', 'position'], set: {} } },
  );
}

/** The staged listing in its order. */
export async function readStaging(db: Knex | Knex.Transaction, providerId: string): Promise<StagedSim[]> {
  const rows = (await db('jasper_device_staging').where({ provider_id: providerId }).orderBy(['page_number', 'position'])) as Array<Record<string, unknown>>;
  return rows.map((r) => ({
    pageNumber: Number(r.page_number),
    position: Number(r.position),
    iccid: r.iccid === null ? null : String(r.iccid),
    status: r.status === null ? null : String(r.status),
    ratePlan: r.rate_plan === null ? null : String(r.rate_plan),
    communicationPlan: r.communication_plan === null ? null : String(r.communication_plan),
  }));
}

/** Production's SIMs of a provider, by ICCID. */
export async function loadSims(db: Knex | Knex.Transaction, providerId: string): Promise<Map<string, Sim>> {
  const rows = (await db('jasper_devices').where({ provider_id: providerId }).select('iccid', 'status', 'rate_plan', 'communication_plan')) as Array<Record<string, string | null>>;
  return new Map(rows.map((r) => [r.iccid!, { iccid: r.iccid!, status: r.status!, ratePlan: r.rate_plan ?? '', communicationPlan: r.communication_plan ?? '' }]));
}

const DEVICE_COLUMNS = columns({ provider_id: 'text', iccid: 'text', status: 'text', rate_plan: 'text', communication_plan: 'text', updated_at: 'timestamptz' });

/** Writes a promotion: inserts and updates in bulk statements (the caller's transaction). */
export async function applyPromotion(trx: Knex.Transaction, providerId: string, promotion: Promotion, now: Date): Promise<void> {
  const rows = [...promotion.create, ...promotion.update.map((u) => u.sim)].map((s) => [providerId, s.iccid, s.status, s.ratePlan, s.communicationPlan, now.toISOString()]);
  await insertRows(trx, clientOf(trx), 'jasper_devices', DEVICE_COLUMNS, rows, {
    upsert: {
      target: ['provider_id', 'iccid'],
      set: { status: 'excluded."status"', rate_plan: 'excluded."rate_plan"', communication_plan: 'excluded."communication_plan"', updated_at: 'excluded."updated_at"' },
    },
  });
}
