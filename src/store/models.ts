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

/** A portal model a thing type name can point to. */
export interface NamedModel {
  readonly id: string;
  /** Set on device models `thing-types` wrote: the type they were made from. */
  readonly thingTypeName: string | null;
}

/** The portal's device models and edge device models by name: what `things` matches a thing's type name against. */
export interface ModelCatalog {
  readonly deviceModels: ReadonlyMap<string, readonly NamedModel[]>;
  readonly edgeModels: ReadonlyMap<string, readonly NamedModel[]>;
}

export async function loadModelCatalog(db: Knex): Promise<ModelCatalog> {
  const byName = (rows: Array<Record<string, unknown>>, typeColumn: string | null) => {
    const out = new Map<string, NamedModel[]>();
    for (const r of rows) {
      const name = String(r.name);
      const model = { id: String(r.id), thingTypeName: typeColumn && r[typeColumn] != null ? String(r[typeColumn]) : null };
      const list = out.get(name);
      if (list) list.push(model);
      else out.set(name, [model]);
    }
    return out;
  };
  const deviceModels: Array<Record<string, unknown>> = await db('device_models').select('id', 'name', 'thing_type_name').orderBy('id');
  const edgeModels: Array<Record<string, unknown>> = await db('edge_device_models').select('id', 'name').orderBy('id');
  return { deviceModels: byName(deviceModels, 'thing_type_name'), edgeModels: byName(edgeModels, null) };
}
