/**
 * `edge_device_models` as `greengrass` loads and writes it, on SQLite and PostgreSQL: it owns only
 * the rows whose external identifier is their id, and its statements re-check that (and, for a
 * delete, that no edge device uses the model) in SQL, so a row that changed hands or gained an edge
 * device between planning and applying is left alone and reported as a conflict.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_MASS_DELETE, plan, type RemoteEntry } from '../../src/reconcile/index.js';
import { applyEdgeModelsPlan, EDGE_MODEL_FIELDS, edgeDeviceCountsByModel, foreignEdgeModels, loadOwnedEdgeModels } from '../../src/store/edge-models.js';
import { migrateLatest } from '../../src/store/migrate.js';
import { BACKENDS, createTestDatabase, type TestDatabase } from '../support/backends.js';

const POLICY = { liveFields: EDGE_MODEL_FIELDS, secretFields: [], massDelete: { ...DEFAULT_MASS_DELETE, allow: true } };
const desired = (key: string, name: string): RemoteEntry => ({ kind: 'desired', key, version: 1, fields: { name } });

describe.each(BACKENDS)('edge device models of greengrass on %s', (backend) => {
  let db: TestDatabase;

  beforeEach(async () => {
    db = await createTestDatabase(backend);
    await migrateLatest(db.knex());
    await db.knex()('edge_device_models').insert([
      { id: 'd-1', name: 'one', description: 'portal text', external_identifier: 'd-1' },
      { id: 'd-2', name: 'two', description: null, external_identifier: 'd-2' },
      { id: 'd-3', name: 'three', description: null, external_identifier: 'd-3' },
      { id: 'azure', name: 'Azure', description: null, external_identifier: null },
      { id: 'other', name: 'Other', description: null, external_identifier: 'elsewhere' },
    ]);
  });

  afterEach(async () => {
    await db.drop();
  });

  const rows = async () => (await db.knex()('edge_device_models').orderBy('id').select('id', 'name', 'description', 'external_identifier')) as Array<Record<string, unknown>>;

  it('loads only the rows it owns, and tells the others apart with their identifier', async () => {
    expect([...(await loadOwnedEdgeModels(db.knex())).values()]).toEqual([
      { key: 'd-1', version: 1, fields: { name: 'one' } },
      { key: 'd-2', version: 1, fields: { name: 'two' } },
      { key: 'd-3', version: 1, fields: { name: 'three' } },
    ]);
    expect(await foreignEdgeModels(db.knex())).toEqual(
      new Map([
        ['azure', null],
        ['other', 'elsewhere'],
      ]),
    );
  });

  it('counts edge devices per model', async () => {
    await db.knex()('edge_devices').insert([
      { id: 'e-1', name: 'e-1', device_model_id: 'd-2', version: 1, connection_state: 'Connected' },
      { id: 'e-2', name: 'e-2', device_model_id: 'd-2', version: 1, connection_state: 'Connected' },
      { id: 'e-3', name: 'e-3', device_model_id: 'azure', version: 1, connection_state: 'Connected' },
    ]);
    expect(await edgeDeviceCountsByModel(db.knex())).toEqual(
      new Map([
        ['azure', 1],
        ['d-2', 2],
      ]),
    );
  });

  it('creates with external_identifier = id, renames keeping the description, deletes what it owns', async () => {
    const current = await loadOwnedEdgeModels(db.knex());
    const p = plan(current, [desired('d-1', 'one renamed'), desired('d-2', 'two'), desired('d-9', 'nine')], { complete: true }, POLICY);
    const outcome = await db.knex().transaction((trx) => applyEdgeModelsPlan(trx, p, db.backend));
    expect(outcome).toEqual({ created: ['d-9'], updated: ['d-1'], deleted: ['d-3'], conflicts: [], failed: [] });
    expect(await rows()).toEqual([
      { id: 'azure', name: 'Azure', description: null, external_identifier: null },
      { id: 'd-1', name: 'one renamed', description: 'portal text', external_identifier: 'd-1' },
      { id: 'd-2', name: 'two', description: null, external_identifier: 'd-2' },
      { id: 'd-9', name: 'nine', description: null, external_identifier: 'd-9' },
      { id: 'other', name: 'Other', description: null, external_identifier: 'elsewhere' },
    ]);
  });

  it('re-checks in SQL: a row that changed hands or gained an edge device meanwhile, or an id taken, is a conflict', async () => {
    const current = await loadOwnedEdgeModels(db.knex());
    // Planned from the rows as loaded: rename d-1, delete d-2 and d-3, create azure (an id that is not ours).
    const p = plan(current, [desired('d-1', 'one renamed'), desired('azure', 'mine now')], { complete: true }, POLICY);
    expect(p.delete.map((d) => d.key)).toEqual(['d-2', 'd-3']);
    // Meanwhile: d-1 and d-3 are handed to another owner, d-2 gets an edge device.
    await db.knex()('edge_device_models').whereIn('id', ['d-1', 'd-3']).update({ external_identifier: 'portal' });
    await db.knex()('edge_devices').insert({ id: 'e-1', name: 'e-1', device_model_id: 'd-2', version: 1, connection_state: 'Connected' });
    const outcome = await db.knex().transaction((trx) => applyEdgeModelsPlan(trx, p, db.backend));
    expect(outcome).toEqual({ created: [], updated: [], deleted: [], conflicts: ['azure', 'd-1', 'd-2', 'd-3'], failed: [] });
    expect((await rows()).map((r) => [r.id, r.name])).toEqual([
      ['azure', 'Azure'],
      ['d-1', 'one'],
      ['d-2', 'two'],
      ['d-3', 'three'],
      ['other', 'Other'],
    ]);
  });
});
