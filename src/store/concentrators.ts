import type { Knex } from 'knex';
import type { CurrentRecord, DesiredRecord, Plan } from '../reconcile/index.js';
import type { DbClient } from './db.js';
import { applyEntityPlan, entityValidator, loadEntities, type EntityTable } from './entity.js';
import { declaredColumns } from './schema.js';
import type { ApplyOutcome } from './types.js';

export const CONCENTRATOR_LIVE_FIELDS = ['is_connected', 'is_enabled'] as const;

const CONCENTRATORS: EntityTable = {
  table: 'concentrators',
  columns: declaredColumns('concentrators', [
    'id',
    'version',
    'name',
    'lora_region',
    'device_type',
    'client_thumbprint',
    'is_connected',
    'is_enabled',
  ]),
  liveFields: CONCENTRATOR_LIVE_FIELDS,
  childSets: [],
};

export function loadCurrentConcentrators(db: Knex): Promise<Map<string, CurrentRecord>> {
  return loadEntities(db, CONCENTRATORS);
}

export function applyConcentratorsPlan(trx: Knex.Transaction, plan: Plan, client: DbClient): Promise<ApplyOutcome> {
  return applyEntityPlan(trx, client, CONCENTRATORS, plan);
}

/** Why a concentrator record cannot be stored (`labels` name its fields as the twin does), or null. */
export function concentratorValidator(labels: Readonly<Record<string, string>>): (record: DesiredRecord) => string | null {
  return entityValidator(CONCENTRATORS, labels);
}
