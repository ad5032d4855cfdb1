import type { Knex } from 'knex';
import type { CurrentRecord, Plan } from '../reconcile/index.js';
import type { DbClient } from './db.js';
import { applyEntityPlan, loadEntities, type EntityTable } from './entity.js';
import { columns } from './sql.js';
import type { ApplyOutcome } from './types.js';

export const CONCENTRATOR_LIVE_FIELDS = ['is_connected', 'is_enabled'] as const;

const CONCENTRATORS: EntityTable = {
  table: 'concentrators',
  columns: columns({
    id: 'text',
    version: 'bigint',
    name: 'text',
    lora_region: 'text',
    device_type: 'text',
    client_thumbprint: 'text',
    is_connected: 'boolean',
    is_enabled: 'boolean',
  }),
  liveFields: CONCENTRATOR_LIVE_FIELDS,
  childSets: [],
};

export function loadCurrentConcentrators(db: Knex): Promise<Map<string, CurrentRecord>> {
  return loadEntities(db, CONCENTRATORS);
}

export async function applyConcentratorsPlan(trx: Knex.Transaction, plan: Plan, client: DbClient): Promise<ApplyOutcome> {
  return (await applyEntityPlan(trx, client, CONCENTRATORS, plan)).outcome;
}
