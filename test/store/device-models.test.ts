/**
 * `device_models` as `thing-types` owns it (thing_type_name, migration 004), on SQLite and
 * PostgreSQL, through the functions the pass uses (load, plan, apply):
 *  - only its own rows are loaded, so the Azure fleet's and the portal's models are never planned;
 *  - a create adopts an unowned row of the same id (name, description, owner set; LoRa flag kept);
 *  - ownership changed by another writer between planning and applying is re-checked in each
 *    statement: the row is kept as that writer left it, and the change is a conflict.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_MASS_DELETE, plan, type Plan, type RemoteEntry } from '../../src/reconcile/index.js';
import { applyDeviceModelsPlan, DEVICE_MODEL_FIELDS, loadCurrentDeviceModels, unownedDeviceModelIds } from '../../src/store/device-models.js';
import { migrateLatest } from '../../src/store/migrate.js';
import { BACKENDS, createTestDatabase, type TestDatabase } from '../support/backends.js';

const model = (id: string, name: string, description: string | null = null): RemoteEntry => ({ kind: 'desired', key: id, version: 1, fields: { name, description } });
const POLICY = { liveFields: DEVICE_MODEL_FIELDS, secretFields: [], massDelete: DEFAULT_MASS_DELETE };

describe.each(BACKENDS)('device models owned by thing-types on %s', (backend) => {
  let db: TestDatabase;

  beforeEach(async () => {
    db = await createTestDatabase(backend);
    await migrateLatest(db.knex());
  });
  afterEach(async () => {
    await db.drop();
  });

  const seed = (rows: Array<{ id: string; name: string; owner: string | null; lora?: boolean; description?: string | null }>) =>
    db.knex()('device_models').insert(
      rows.map((r) => ({ id: r.id, name: r.name, description: r.description ?? null, support_lora_features: r.lora ?? false, thing_type_name: r.owner })),
    );
  interface Row {
    id: string;
    name: string;
    description: string | null;
    support_lora_features: boolean;
    thing_type_name: string | null;
  }
  const rows = async (): Promise<Row[]> =>
    (await db.knex()('device_models').orderBy('id').select('id', 'name', 'description', 'support_lora_features', 'thing_type_name')).map((r: Row) => ({
      ...r,
      support_lora_features: Boolean(r.support_lora_features),
    }));
  const planFor = async (entries: RemoteEntry[]): Promise<Plan> => plan(await loadCurrentDeviceModels(db.knex()), entries, { complete: true }, POLICY);
  const apply = (p: Plan) => db.knex().transaction((trx) => applyDeviceModelsPlan(trx, p, backend));

  it('loads only its own models; the unowned ones are what a create may adopt', async () => {
    await seed([
      { id: 'm-thermo', name: 'Thermometer', owner: null },
      { id: 'tt-sensor', name: 'sensor', owner: 'sensor' },
    ]);
    expect([...(await loadCurrentDeviceModels(db.knex())).keys()]).toEqual(['tt-sensor']);
    expect([...(await unownedDeviceModelIds(db.knex()))]).toEqual(['m-thermo']);
  });

  it('a listing without the Azure models plans nothing for them and deletes only its own model of a vanished type', async () => {
    await seed([
      { id: 'm-door', name: 'Door sensor', owner: null },
      { id: 'm-lora-th', name: 'LoRa temperature/humidity', owner: null, lora: true },
      { id: 'tt-gone', name: 'gone', owner: 'gone' },
    ]);
    const p = await planFor([model('tt-sensor', 'sensor')]);
    expect(p.delete.map((d) => d.key)).toEqual(['tt-gone']);
    const outcome = await apply(p);
    expect(outcome).toEqual({ created: ['tt-sensor'], updated: [], deleted: ['tt-gone'], conflicts: [], failed: [] });
    expect((await rows()).map((r) => [r.id, r.thing_type_name])).toEqual([
      ['m-door', null],
      ['m-lora-th', null],
      ['tt-sensor', 'sensor'],
    ]);
  });

  it('a create adopts an unowned row of the same id: name, description and owner set, the LoRa flag kept', async () => {
    await seed([{ id: 'tt-sensor', name: 'old name', description: 'old text', owner: null, lora: true }]);
    const p = await planFor([model('tt-sensor', 'sensor', 'Temperature sensor')]);
    expect(p.create.map((c) => c.key)).toEqual(['tt-sensor']);
    expect(await apply(p)).toMatchObject({ created: ['tt-sensor'], conflicts: [] });
    expect(await rows()).toEqual([{ id: 'tt-sensor', name: 'sensor', description: 'Temperature sensor', support_lora_features: true, thing_type_name: 'sensor' }]);
    // Adopted, it is an ordinary model of its own from now on: nothing to do on the next pass.
    const next = await planFor([model('tt-sensor', 'sensor', 'Temperature sensor')]);
    expect(next.create).toEqual([]);
    expect(next.unchanged).toBe(1);
  });

  it('an update writes the owner mark with the name: a renamed type keeps its model', async () => {
    await seed([{ id: 'tt-sensor', name: 'sensor', owner: 'sensor', lora: true }]);
    expect(await apply(await planFor([model('tt-sensor', 'probe')]))).toMatchObject({ updated: ['tt-sensor'], conflicts: [] });
    expect(await rows()).toEqual([{ id: 'tt-sensor', name: 'probe', description: null, support_lora_features: true, thing_type_name: 'probe' }]);
  });

  it('ownership changed between planning and applying: neither overwritten nor deleted, each a conflict', async () => {
    await seed([
      { id: 'tt-upd', name: 'upd', owner: 'upd' },
      { id: 'tt-del', name: 'del', owner: 'del' },
      { id: 'tt-adopt', name: 'adopt', owner: null },
    ]);
    const p = await planFor([model('tt-upd', 'upd', 'new text'), model('tt-adopt', 'adopt', 'adopted'), model('tt-new', 'new')]);
    expect(p.update.map((u) => u.desired.key)).toEqual(['tt-upd']);
    expect(p.delete.map((d) => d.key)).toEqual(['tt-del']);
    expect(p.create.map((c) => c.key)).toEqual(['tt-adopt', 'tt-new']);
    // Meanwhile: the planned update's and delete's rows lose their owner (someone else's now), the
    // row to adopt is taken by another owner, and the model to create appears with an owner.
    const k = db.knex();
    await k('device_models').whereIn('id', ['tt-upd', 'tt-del']).update({ thing_type_name: null, description: 'theirs' });
    await k('device_models').where('id', 'tt-adopt').update({ thing_type_name: 'other', description: 'theirs' });
    await k('device_models').insert({ id: 'tt-new', name: 'new', description: 'theirs', support_lora_features: true, thing_type_name: 'other' });
    const outcome = await apply(p);
    expect(outcome).toEqual({ created: [], updated: [], deleted: [], conflicts: ['tt-adopt', 'tt-new', 'tt-upd', 'tt-del'], failed: [] });
    expect((await rows()).map((r) => [r.id, r.description, r.thing_type_name, r.support_lora_features])).toEqual([
      ['tt-adopt', 'theirs', 'other', false],
      ['tt-del', 'theirs', null, false],
      ['tt-new', 'theirs', 'other', true],
      ['tt-upd', 'theirs', null, false],
    ]);
  });

  it('a model a device started using meanwhile is still kept (the other re-check of the delete)', async () => {
    await seed([{ id: 'tt-gone', name: 'gone', owner: 'gone' }]);
    const p = await planFor([]);
    expect(p.delete.map((d) => d.key)).toEqual(['tt-gone']);
    await db.knex()('devices').insert({ id: 'd-1', name: 'd-1', device_model_id: 'tt-gone', version: 1 });
    expect(await apply(p)).toMatchObject({ deleted: [], conflicts: ['tt-gone'] });
    expect((await rows()).map((r) => r.id)).toEqual(['tt-gone']);
  });
});
