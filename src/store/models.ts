import type { Knex } from 'knex';
import { toBool } from './rows.js';

export interface DeviceModel {
  id: string;
  name: string;
  description: string | null;
  supportLoRaFeatures: boolean;
}

export async function loadDeviceModels(db: Knex): Promise<Map<string, DeviceModel>> {
  const rows: Array<Record<string, unknown>> = await db('device_models').select('*');
  return new Map(
    rows.map((r) => [
      String(r.id),
      {
        id: String(r.id),
        name: String(r.name),
        description: r.description === null ? null : String(r.description),
        supportLoRaFeatures: toBool(r.support_lora_features) === true,
      },
    ]),
  );
}

/** Creates or updates models as the portal's UI would have; used by `emulate --seed-models`. */
export async function upsertDeviceModels(db: Knex, models: readonly DeviceModel[]): Promise<number> {
  if (models.length === 0) return 0;
  await db('device_models')
    .insert(
      models.map((m) => ({
        id: m.id,
        name: m.name,
        description: m.description,
        support_lora_features: m.supportLoRaFeatures,
      })),
    )
    .onConflict('id')
    .merge();
  return models.length;
}

export interface EdgeDeviceModel {
  id: string;
  name: string;
  description: string | null;
  externalIdentifier: string | null;
}

export async function loadEdgeDeviceModelIds(db: Knex): Promise<Set<string>> {
  return new Set(((await db('edge_device_models').pluck('id')) as unknown[]).map(String));
}

/** Creates or updates edge device models as the portal's UI would have; used by `emulate --seed-models`. */
export async function upsertEdgeDeviceModels(db: Knex, models: readonly EdgeDeviceModel[]): Promise<number> {
  if (models.length === 0) return 0;
  await db('edge_device_models')
    .insert(models.map((m) => ({ id: m.id, name: m.name, description: m.description, external_identifier: m.externalIdentifier })))
    .onConflict('id')
    .merge();
  return models.length;
}
