/**
 * The entity apply on both databases: rows the database refuses are isolated (savepoints) and
 * reported while the rest lands; the outcome counts what the statements changed.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_MASS_DELETE, plan, type RemoteEntry } from '../../src/reconcile/index.js';
import { applyDevicesPlan, DEVICE_LIVE_FIELDS, loadCurrentDevices } from '../../src/store/devices.js';
import { migrateLatest } from '../../src/store/migrate.js';
import { BACKENDS, createTestDatabase, type TestDatabase } from '../support/backends.js';

const policy = { liveFields: DEVICE_LIVE_FIELDS, secretFields: [], massDelete: { ...DEFAULT_MASS_DELETE, allow: true } };
const device = (id: string, version = 1, fields: Record<string, unknown> = {}): RemoteEntry => ({
  kind: 'desired',
  key: id,
  version,
  fields: {
    name: `Device ${id}`,
    device_model_id: 'm',
    layer_id: null,
    is_enabled: true,
    is_connected: false,
    status_updated_at: null,
    last_activity_at: null,
    kind: 'standard',
    tags: JSON.stringify({ site: 'Lyon' }),
    ...fields,
  } as never,
});

describe.each(BACKENDS)('entity apply on %s', (backend) => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createTestDatabase(backend);
    await migrateLatest(db.knex());
  });
  afterEach(() => db.drop());

  const applyPlan = async (remote: RemoteEntry[]) => {
    const k = db.knex();
    const p = plan(await loadCurrentDevices(k), remote, { complete: true }, policy);
    return { p, outcome: await k.transaction((trx) => applyDevicesPlan(trx, p, backend)) };
  };

  it('isolates the rows the database refuses, applies every other one, in the same transaction', async () => {
    const good = Array.from({ length: 1000 }, (_, i) => device(`good-${i}`));
    // NOT NULL violations: the one kind of refusal both databases share, standing in for any value
    // validation did not catch.
    const bad = [device('bad-a', 1, { name: null }), device('bad-b', 1, { device_model_id: null })];
    const { outcome } = await applyPlan([...good.slice(0, 500), bad[0]!, ...good.slice(500), bad[1]!]);
    expect(outcome.created).toHaveLength(1000);
    expect(outcome.failed.map((f) => f.key).sort()).toEqual(['bad-a', 'bad-b']);
    expect(outcome.failed[0]!.error).toMatch(/^the database refused the row: .*(null|NOT NULL)/i);
    expect(outcome.conflicts).toEqual([]);
    const k = db.knex();
    expect(await k('devices').count({ n: '*' }).first()).toMatchObject({ n: 1000 });
    expect(await k('device_tag_values').count({ n: '*' }).first()).toMatchObject({ n: 1000 });
  });

  it('reports a row changed between planning and applying as a conflict, once, and keeps it', async () => {
    await applyPlan([device('a'), device('b'), device('c')]);
    const k = db.knex();
    const current = await loadCurrentDevices(k);
    const p = plan(current, [device('a', 2, { name: 'mine' }), device('c')], { complete: true }, policy);
    // Another writer moves a to version 5 and b to version 3 after the plan was made.
    await k('devices').where('id', 'a').update({ version: 5, name: 'theirs' });
    await k('devices').where('id', 'b').update({ version: 3 });
    const outcome = await k.transaction((trx) => applyDevicesPlan(trx, p, backend));
    expect(outcome.updated).toEqual([]);
    expect(outcome.deleted).toEqual([]);
    expect([...outcome.conflicts].sort()).toEqual(['a', 'b']);
    expect(await k('devices').where('id', 'a').first()).toMatchObject({ name: 'theirs' });
    expect(await k('devices').where('id', 'b').first()).toBeDefined();
  });

  it('counts deletes the statements made, not the ones planned', async () => {
    await applyPlan([device('a'), device('b')]);
    const k = db.knex();
    const p = plan(await loadCurrentDevices(k), [], { complete: true }, policy);
    await k('devices').where('id', 'a').del();
    const outcome = await k.transaction((trx) => applyDevicesPlan(trx, p, backend));
    expect(outcome.deleted).toEqual(['b']);
    expect(outcome.conflicts).toEqual(['a']);
  });
});
