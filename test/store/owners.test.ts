/**
 * Ownership of the shared `devices` and `edge_devices` tables (owners.ts), on both databases: the
 * Azure stores load, update and delete only rows without a thing name; the AWS things store only
 * rows with one. An id that both sides use is a conflict for the side that does not own the row.
 */
import type { Knex } from 'knex';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_MASS_DELETE, plan, type CurrentRecord, type RemoteEntry } from '../../src/reconcile/index.js';
import { applyThingsPlan, loadCurrentThings, THING_LIVE_FIELDS } from '../../src/store/aws-things.js';
import { applyDevicesPlan, DEVICE_LIVE_FIELDS, loadCurrentDevices } from '../../src/store/devices.js';
import { applyEdgeDevicesPlan, EDGE_LIVE_FIELDS, loadCurrentEdgeDevices } from '../../src/store/edge.js';
import { canonicalTags } from '../../src/store/entity.js';
import { migrateLatest } from '../../src/store/migrate.js';
import { BACKENDS, createTestDatabase, type TestDatabase } from '../support/backends.js';

const complete = { complete: true } as const;
const policy = (liveFields: readonly string[]) => ({ liveFields, secretFields: [], massDelete: { ...DEFAULT_MASS_DELETE, allow: true } });

const azureDevice = (key: string, version: number, name: string): RemoteEntry => ({
  kind: 'desired',
  key,
  version,
  fields: { name, device_model_id: 'm1', layer_id: null, is_enabled: true, is_connected: false, status_updated_at: null, last_activity_at: null, kind: 'standard', tags: '{}' },
});
const azureEdge = (key: string, version: number, name: string): RemoteEntry => ({
  kind: 'desired',
  key,
  version,
  fields: { name, device_model_id: 'e1', connection_state: 'Connected', is_enabled: true, nb_modules: 0, nb_devices: 0, modules: '[]', tags: '{}' },
});
const thing = (key: string, version: number, thingName: string, table: 'device' | 'edge', tags: Record<string, string> = {}): RemoteEntry => ({
  kind: 'desired',
  key,
  version,
  fields:
    table === 'device'
      ? { table, name: thingName, device_model_id: 'm1', is_enabled: true, thing_name: thingName, tags: canonicalTags(tags) }
      : { table, name: thingName, device_model_id: 'e1', connection_state: 'Connected', is_enabled: true, thing_name: thingName, tags: canonicalTags(tags) },
});

describe.each(BACKENDS)('ownership of the device tables on %s', (backend) => {
  let db: TestDatabase;
  let k: Knex;
  beforeAll(async () => {
    db = await createTestDatabase(backend);
    k = db.knex();
    await migrateLatest(k);
  });
  afterAll(() => db.drop());
  beforeEach(async () => {
    for (const table of ['edge_devices', 'devices', 'device_models', 'edge_device_models']) await k(table).del();
    await k('device_models').insert({ id: 'm1', name: 'sensor', support_lora_features: false });
    await k('edge_device_models').insert({ id: 'e1', name: 'gateway' });
    // One row of each owner in each table; the ids `shared-*` are used by both sides below.
    await k('devices').insert([
      { id: 'az-1', version: 1, name: 'azure device', device_model_id: 'm1' },
      { id: 'shared-d', version: 3, name: 'aws device', device_model_id: 'm1', thing_name: 'thing-d' },
    ]);
    await k('device_tag_values').insert({ device_id: 'shared-d', name: 'site', value: 'Lyon' });
    await k('edge_devices').insert([
      { id: 'az-e', version: 1, name: 'azure edge', device_model_id: 'e1', connection_state: 'Connected' },
      { id: 'shared-e', version: 2, name: 'aws edge', device_model_id: 'e1', connection_state: 'Connected', thing_name: 'thing-e' },
    ]);
  });

  const inTrx = <T>(fn: (trx: Knex.Transaction) => Promise<T>) => k.transaction(fn);
  const row = (table: string, id: string) => k(table).where('id', id).first();

  it('the Azure stores load only their rows', async () => {
    expect([...(await loadCurrentDevices(k)).keys()]).toEqual(['az-1']);
    expect([...(await loadCurrentEdgeDevices(k)).keys()]).toEqual(['az-e']);
  });

  it('a devices pass never updates or deletes an AWS row, even under the same id', async () => {
    const current = await loadCurrentDevices(k);
    // A twin whose id is an AWS row's: planned as a create (the row is not Azure's), refused in SQL.
    const p = plan(current, [azureDevice('shared-d', 9, 'hijack')], complete, policy(DEVICE_LIVE_FIELDS));
    expect(p.create.map((c) => c.key)).toEqual(['shared-d']);
    expect(p.delete.map((d) => d.key)).toEqual(['az-1']);
    const outcome = await inTrx((trx) => applyDevicesPlan(trx, p, backend));
    expect(outcome).toMatchObject({ created: [], deleted: ['az-1'], conflicts: ['shared-d'], failed: [] });
    expect(await row('devices', 'shared-d')).toMatchObject({ name: 'aws device', thing_name: 'thing-d' });
    expect(Number((await row('devices', 'shared-d')).version)).toBe(3);
    expect(await k('device_tag_values').where('device_id', 'shared-d').select('name', 'value')).toEqual([{ name: 'site', value: 'Lyon' }]);
    // Even a plan that names the AWS row as a delete (a stale plan) leaves it.
    const stale: CurrentRecord = { key: 'shared-d', version: 3, fields: {} };
    const again = await inTrx((trx) => applyDevicesPlan(trx, { ...p, create: [], delete: [stale] }, backend));
    expect(again).toMatchObject({ deleted: [], conflicts: ['shared-d'] });
    expect(await row('devices', 'shared-d')).toBeDefined();
  });

  it('an edge pass never updates or deletes an AWS edge row', async () => {
    const p = plan(await loadCurrentEdgeDevices(k), [azureEdge('shared-e', 9, 'hijack')], complete, policy(EDGE_LIVE_FIELDS));
    const outcome = await inTrx((trx) => applyEdgeDevicesPlan(trx, p, backend));
    expect(outcome).toMatchObject({ created: [], deleted: ['az-e'], conflicts: ['shared-e'] });
    expect(await row('edge_devices', 'shared-e')).toMatchObject({ name: 'aws edge', thing_name: 'thing-e' });
  });

  it('the things store loads only AWS rows, of both tables, saying which', async () => {
    const current = await loadCurrentThings(k);
    expect([...current.keys()].sort()).toEqual(['shared-d', 'shared-e']);
    expect(current.get('shared-d')!.fields).toMatchObject({ table: 'device', thing_name: 'thing-d', tags: '{"site":"Lyon"}' });
    expect(current.get('shared-e')!.fields).toMatchObject({ table: 'edge', thing_name: 'thing-e', connection_state: 'Connected' });
  });

  it('a things pass never updates or deletes an Azure row, even under the same id', async () => {
    const current = await loadCurrentThings(k);
    const entries = [thing('az-1', 5, 'thing-az', 'device'), thing('az-e', 5, 'thing-aze', 'edge')];
    const p = plan(current, entries, complete, policy(THING_LIVE_FIELDS));
    expect(p.delete.map((d) => d.key).sort()).toEqual(['shared-d', 'shared-e']);
    const outcome = await inTrx((trx) => applyThingsPlan(trx, p, backend));
    expect(outcome.conflicts.slice().sort()).toEqual(['az-1', 'az-e']);
    expect(outcome.deleted.slice().sort()).toEqual(['shared-d', 'shared-e']);
    expect(await row('devices', 'az-1')).toMatchObject({ name: 'azure device', thing_name: null });
    expect(await row('edge_devices', 'az-e')).toMatchObject({ name: 'azure edge', thing_name: null });
    const stale: CurrentRecord = { key: 'az-1', version: 1, fields: { table: 'device' } };
    const again = await inTrx((trx) => applyThingsPlan(trx, { ...p, create: [], delete: [stale] }, backend));
    expect(again).toMatchObject({ deleted: [], conflicts: ['az-1'] });
    expect(await row('devices', 'az-1')).toBeDefined();
  });

  it('a thing whose type switched moves between the tables with its tags, in one apply', async () => {
    const current = await loadCurrentThings(k);
    const p = plan(current, [thing('shared-d', 4, 'thing-d', 'edge', { site: 'Nice' }), thing('shared-e', 2, 'thing-e', 'device')], complete, policy(THING_LIVE_FIELDS));
    // shared-e switches at the same version: `table` is a live field.
    expect(p.update.map((u) => [u.desired.key, u.cause])).toEqual([
      ['shared-d', 'version'],
      ['shared-e', 'live'],
    ]);
    const outcome = await inTrx((trx) => applyThingsPlan(trx, p, backend));
    expect(outcome).toMatchObject({ created: [], deleted: [], conflicts: [], failed: [] });
    expect(outcome.updated.slice().sort()).toEqual(['shared-d', 'shared-e']);
    expect(await row('devices', 'shared-d')).toBeUndefined();
    expect(await row('edge_devices', 'shared-d')).toMatchObject({ thing_name: 'thing-d', device_model_id: 'e1' });
    expect(await k('edge_device_tag_values').where('edge_device_id', 'shared-d').select('name', 'value')).toEqual([{ name: 'site', value: 'Nice' }]);
    expect(await k('device_tag_values').where('device_id', 'shared-d')).toEqual([]);
    expect(await row('edge_devices', 'shared-e')).toBeUndefined();
    expect(await row('devices', 'shared-e')).toMatchObject({ thing_name: 'thing-e', is_connected: backend === 'sqlite' ? 0 : false });
    const reloaded = await loadCurrentThings(k);
    expect(reloaded.get('shared-d')!.fields.table).toBe('edge');
    expect(reloaded.get('shared-e')!.fields.table).toBe('device');
  });

  it('a thing created again under its name (a new thingId) replaces the old row in the same apply', async () => {
    const current = await loadCurrentThings(k);
    const p = plan(current, [thing('new-id', 1, 'thing-d', 'device'), thing('shared-e', 2, 'thing-e', 'edge')], complete, policy(THING_LIVE_FIELDS));
    const outcome = await inTrx((trx) => applyThingsPlan(trx, p, backend));
    expect(outcome).toMatchObject({ created: ['new-id'], deleted: ['shared-d'], failed: [] });
    expect(await row('devices', 'new-id')).toMatchObject({ thing_name: 'thing-d' });
  });
});
