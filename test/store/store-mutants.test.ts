/**
 * The store on both databases, table by table: what each apply writes, keeps and refuses, what a
 * load reads back, the run log and the migrations. What `npm run mutate` showed the end-to-end
 * suites alone were checking. One database per backend, emptied before each test.
 */
import type { Knex } from 'knex';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_MASS_DELETE, plan, type CurrentRecord, type Plan, type PlannedUpdate, type RemoteEntry } from '../../src/reconcile/index.js';
import { applyConcentratorsPlan, CONCENTRATOR_LIVE_FIELDS, loadCurrentConcentrators } from '../../src/store/concentrators.js';
import { applyDevicesPlan, DEVICE_LIVE_FIELDS, LORAWAN_COLUMN_NAMES, LORAWAN_SECRET_COLUMNS, loadCurrentDevices } from '../../src/store/devices.js';
import { applyEdgeDevicesPlan, EDGE_LIVE_FIELDS, loadCurrentEdgeDevices } from '../../src/store/edge.js';
import { applyGatewayIdsPlan, gatewayIdProblem, GATEWAY_VERSION, listGatewayIds, loadGatewayIds } from '../../src/store/gateways.js';
import { migrateLatest, migrationsDir, pendingMigrations } from '../../src/store/migrate.js';
import { loadDeviceModels, loadEdgeDeviceModelIds, upsertDeviceModels, upsertEdgeDeviceModels } from '../../src/store/models.js';
import { getRun, listEvents, listRuns, recordRun, type RunRecord } from '../../src/store/runlog.js';
import { deleteRows, insertRows } from '../../src/store/sql.js';
import { BACKENDS, createTestDatabase, type TestDatabase } from '../support/backends.js';

const TABLES = ['sync_events', 'sync_runs', 'lora_gateway_ids', 'concentrators', 'edge_devices', 'devices', 'device_models', 'edge_device_models'];
const complete = { complete: true } as const;
const EMPTY = plan(new Map(), [], complete, { liveFields: [], secretFields: [], massDelete: DEFAULT_MASS_DELETE });
const planOf = (parts: Partial<Plan>): Plan => ({ ...EMPTY, ...parts });
const sorted = (keys: readonly string[]) => [...keys].sort();

describe('live fields', () => {
  it('are the columns that move without a version bump', () => {
    expect(DEVICE_LIVE_FIELDS).toEqual(['is_connected', 'is_enabled', 'status_updated_at', 'last_activity_at']);
    expect(EDGE_LIVE_FIELDS).toEqual(['connection_state', 'is_enabled', 'nb_modules', 'nb_devices', 'modules']);
    expect(CONCENTRATOR_LIVE_FIELDS).toEqual(['is_connected', 'is_enabled']);
    expect(LORAWAN_SECRET_COLUMNS).toEqual(['app_key', 'app_s_key', 'nwk_s_key']);
    expect(LORAWAN_COLUMN_NAMES).not.toContain('id');
    expect(LORAWAN_COLUMN_NAMES).toHaveLength(28);
  });

  it('gateway ids have no version and a key check', () => {
    expect(GATEWAY_VERSION).toBe(0);
    expect(gatewayIdProblem({ key: 'gw', version: 0, fields: {} })).toBeNull();
    expect(gatewayIdProblem({ key: 'g'.repeat(256), version: 0, fields: {} })).toBe('deviceId is 256 characters long; at most 255 fit');
  });
});

describe.each(BACKENDS)('the store on %s', (backend) => {
  let db: TestDatabase;
  let k: Knex;
  beforeAll(async () => {
    db = await createTestDatabase(backend);
    k = db.knex();
    expect(await pendingMigrations(k)).toEqual(['001_devices_and_run_log.cjs', '002_edge_concentrators_gateways.cjs', '003_column_limits.cjs', '004_aws.cjs', '005_telemetry.cjs', '006_navixy_customers.cjs', '007_jasper.cjs']);
    // Finding them wrote nothing, not even knex's bookkeeping table.
    expect(await k.schema.hasTable('portal_sync_migrations')).toBe(false);
    expect(await migrateLatest(k)).toEqual(['001_devices_and_run_log.cjs', '002_edge_concentrators_gateways.cjs', '003_column_limits.cjs', '004_aws.cjs', '005_telemetry.cjs', '006_navixy_customers.cjs', '007_jasper.cjs']);
  });
  afterAll(() => db.drop());
  beforeEach(async () => {
    for (const table of TABLES) await k(table).del();
  });
  const inTrx = <T>(fn: (trx: Knex.Transaction) => Promise<T>) => k.transaction(fn);

  it('has nothing pending once migrated, and migrating again applies nothing', async () => {
    expect(await pendingMigrations(k)).toEqual([]);
    expect(await migrateLatest(k)).toEqual([]);
    expect(migrationsDir()).toMatch(/\/migrations$/);
    const last = await k('portal_sync_migrations').where('name', '003_column_limits.cjs').first();
    await k('portal_sync_migrations').where('name', '003_column_limits.cjs').del();
    try {
      expect(await pendingMigrations(k)).toEqual(['003_column_limits.cjs']);
    } finally {
      await k('portal_sync_migrations').insert(last);
    }
    expect(await pendingMigrations(k)).toEqual([]);
  });

  describe('gateway ids', () => {
    const ids = (...keys: string[]): RemoteEntry[] => keys.map((key) => ({ kind: 'desired', key, version: 0, fields: {} }));
    const gatewayPlan = async (...keys: string[]) => plan(await loadGatewayIds(k), ids(...keys), complete, { liveFields: [], secretFields: [], massDelete: { ...DEFAULT_MASS_DELETE, allow: true } });

    it('replaces the set, counting what the statements did', async () => {
      const p1 = await gatewayPlan('b', 'a', 'c');
      const first = await inTrx((trx) => applyGatewayIdsPlan(trx, p1, backend));
      expect(first).toEqual({ created: expect.any(Array), updated: [], deleted: [], conflicts: [], failed: [] });
      expect(sorted(first.created)).toEqual(['a', 'b', 'c']);
      expect(await listGatewayIds(k)).toEqual(['a', 'b', 'c']);
      expect([...(await loadGatewayIds(k)).values()].sort((x, y) => (x.key < y.key ? -1 : 1))).toEqual([
        { key: 'a', version: 0, fields: {} },
        { key: 'b', version: 0, fields: {} },
        { key: 'c', version: 0, fields: {} },
      ]);
      const p2 = await gatewayPlan('c', 'd');
      const second = await inTrx((trx) => applyGatewayIdsPlan(trx, p2, backend));
      expect(second).toEqual({ created: ['d'], updated: [], deleted: expect.any(Array), conflicts: [], failed: [] });
      expect(sorted(second.deleted)).toEqual(['a', 'b']);
      expect(await listGatewayIds(k)).toEqual(['c', 'd']);
    });

    it('reports ids another writer added or removed meanwhile as conflicts', async () => {
      const before = await gatewayPlan('a', 'b');
      await inTrx((trx) => applyGatewayIdsPlan(trx, before, backend));
      const p = await gatewayPlan('b', 'new');
      await k('lora_gateway_ids').insert({ id: 'new' });
      await k('lora_gateway_ids').where('id', 'a').del();
      const outcome = await inTrx((trx) => applyGatewayIdsPlan(trx, p, backend));
      expect(outcome).toEqual({ created: [], updated: [], deleted: [], conflicts: ['new', 'a'], failed: [] });
    });

    it('lists the stored ids sorted, whatever order they were written in', async () => {
      for (const id of ['z', 'b', 'y', 'a']) await k('lora_gateway_ids').insert({ id });
      expect(await listGatewayIds(k)).toEqual(['a', 'b', 'y', 'z']);
    });

    it('isolates an id the database refuses', async () => {
      const p = await gatewayPlan('ok', 'x'.repeat(300));
      const outcome = await inTrx((trx) => applyGatewayIdsPlan(trx, p, backend));
      if (backend === 'postgres') {
        expect(outcome.created).toEqual(['ok']);
        expect(outcome.failed).toEqual([{ key: 'x'.repeat(300), error: expect.stringMatching(/^the database refused the row: /) }]);
        expect(outcome.conflicts).toEqual([]);
      } else {
        // SQLite does not enforce varchar lengths: validation is what stops such an id there.
        expect(sorted(outcome.created)).toEqual(['ok', 'x'.repeat(300)]);
      }
    });
  });

  describe('concentrators', () => {
    const policy = { liveFields: CONCENTRATOR_LIVE_FIELDS, secretFields: [], massDelete: { ...DEFAULT_MASS_DELETE, allow: true } };
    const concentrator = (key: string, version: number, fields: Record<string, unknown> = {}): RemoteEntry => ({
      kind: 'desired',
      key,
      version,
      fields: { name: `C ${key}`, lora_region: 'EU863', device_type: null, client_thumbprint: 'T', is_connected: false, is_enabled: true, ...fields } as never,
    });
    const sync = async (...remote: RemoteEntry[]) => {
      const p = plan(await loadCurrentConcentrators(k), remote, complete, policy);
      return { p, outcome: await inTrx((trx) => applyConcentratorsPlan(trx, p, backend)) };
    };

    it('reads back what it wrote, typed as the plan compares it', async () => {
      await sync(concentrator('c1', 3, { device_type: 'LoRa', is_connected: true, is_enabled: false }), concentrator('c2', 1));
      const current = await loadCurrentConcentrators(k);
      expect(current.get('c1')).toEqual({
        key: 'c1',
        version: 3,
        fields: { name: 'C c1', lora_region: 'EU863', device_type: 'LoRa', client_thumbprint: 'T', is_connected: true, is_enabled: false },
      });
      const again = await sync(concentrator('c1', 3, { device_type: 'LoRa', is_connected: true, is_enabled: false }), concentrator('c2', 1));
      expect(again.p.unchanged).toBe(2);
      expect(again.outcome).toEqual({ created: [], updated: [], deleted: [], conflicts: [], failed: [] });
    });

    it('updates on a newer version, and at the same version only where a live field really moved', async () => {
      await sync(concentrator('c1', 1), concentrator('c2', 1));
      const { outcome } = await sync(concentrator('c1', 2, { name: 'renamed' }), concentrator('c2', 1, { is_connected: true }));
      expect(outcome).toEqual({ created: [], updated: ['c1', 'c2'], deleted: [], conflicts: [], failed: [] });
      const current = await loadCurrentConcentrators(k);
      expect(current.get('c1')).toMatchObject({ version: 2, fields: { name: 'renamed' } });
      expect(current.get('c2')).toMatchObject({ version: 1, fields: { is_connected: true } });
    });

    it('never overwrites a row another writer changed after the plan was made', async () => {
      await sync(concentrator('c1', 1), concentrator('c2', 1), concentrator('c3', 1));
      const p = plan(
        await loadCurrentConcentrators(k),
        [concentrator('c1', 2, { name: 'mine' }), concentrator('c2', 1, { is_connected: true }), concentrator('c3', 1, { is_enabled: false })],
        complete,
        policy,
      );
      // Another writer: c1 to the same version 2, c2 connected as this pass wanted, c3 to version 4.
      await k('concentrators').where('id', 'c1').update({ version: 2, name: 'theirs' });
      await k('concentrators').where('id', 'c2').update({ is_connected: true });
      await k('concentrators').where('id', 'c3').update({ version: 4 });
      const outcome = await inTrx((trx) => applyConcentratorsPlan(trx, p, backend));
      expect(outcome.updated).toEqual([]);
      expect(sorted(outcome.conflicts)).toEqual(['c1', 'c2', 'c3']);
      expect((await loadCurrentConcentrators(k)).get('c1')!.fields.name).toBe('theirs');
    });

    it('deletes only rows still at the version the plan read', async () => {
      await sync(concentrator('c1', 1), concentrator('c2', 1));
      const p = plan(await loadCurrentConcentrators(k), [], complete, policy);
      await k('concentrators').where('id', 'c2').update({ version: 2 });
      const outcome = await inTrx((trx) => applyConcentratorsPlan(trx, p, backend));
      expect(outcome).toEqual({ created: [], updated: [], deleted: ['c1'], conflicts: ['c2'], failed: [] });
      expect([...(await loadCurrentConcentrators(k)).keys()]).toEqual(['c2']);
    });

    it('reads a table larger than one batch whole, in id order', async () => {
      const n = 5_003;
      const rows = Array.from({ length: n }, (_, i) => [`c${String(i).padStart(5, '0')}`, 1, 'n', 'EU863', null, null, false, true]);
      await insertRows(k, backend, 'concentrators', [
        { name: 'id', pgType: 'text' },
        { name: 'version', pgType: 'bigint' },
        { name: 'name', pgType: 'text' },
        { name: 'lora_region', pgType: 'text' },
        { name: 'device_type', pgType: 'text' },
        { name: 'client_thumbprint', pgType: 'text' },
        { name: 'is_connected', pgType: 'boolean' },
        { name: 'is_enabled', pgType: 'boolean' },
      ], rows as never);
      const current = await loadCurrentConcentrators(k);
      expect(current.size).toBe(n);
      const keys = [...current.keys()];
      expect(keys[0]).toBe('c00000');
      expect(keys[4_999]).toBe('c04999');
      expect(keys[5_000]).toBe('c05000');
      expect(keys[n - 1]).toBe('c05002');
    });
  });

  describe('edge devices', () => {
    const policy = { liveFields: EDGE_LIVE_FIELDS, secretFields: [], massDelete: { ...DEFAULT_MASS_DELETE, allow: true } };
    const modules = (...names: string[]) => JSON.stringify(names.map((name) => ({ name, status: 'running', version: null, image: null })));
    const edge = (key: string, version: number, fields: Record<string, unknown> = {}): RemoteEntry => ({
      kind: 'desired',
      key,
      version,
      fields: {
        name: `E ${key}`,
        device_model_id: 'em',
        connection_state: 'Connected',
        is_enabled: true,
        nb_modules: 1,
        nb_devices: 0,
        modules: modules('m1'),
        tags: '{"site":"Lyon"}',
        ...fields,
      } as never,
    });
    const sync = async (...remote: RemoteEntry[]) => {
      const p = plan(await loadCurrentEdgeDevices(k), remote, complete, policy);
      return { p, outcome: await inTrx((trx) => applyEdgeDevicesPlan(trx, p, backend)) };
    };

    it('writes modules and tags as child rows and reads them back as their encodings', async () => {
      await sync(edge('e1', 1, { modules: modules('b', 'a'), nb_modules: 2, tags: '{"a":"1","b":"2"}' }), edge('e2', 1, { modules: '[]', nb_modules: 0, tags: '{}' }));
      const current = await loadCurrentEdgeDevices(k);
      expect(current.get('e1')).toEqual({
        key: 'e1',
        version: 1,
        fields: {
          name: 'E e1',
          device_model_id: 'em',
          connection_state: 'Connected',
          is_enabled: true,
          nb_modules: 2,
          nb_devices: 0,
          modules: modules('a', 'b'),
          tags: '{"a":"1","b":"2"}',
        },
      });
      expect(current.get('e2')!.fields).toMatchObject({ modules: '[]', tags: '{}' });
      expect(await k('edge_device_modules').where('edge_device_id', 'e1').orderBy('name').pluck('name')).toEqual(['a', 'b']);
    });

    it('replaces the modules of a device whose module twins moved, at the same version, and only those', async () => {
      await sync(edge('e1', 1), edge('e2', 1));
      const { p, outcome } = await sync(edge('e1', 1, { modules: modules('m2', 'm3'), nb_modules: 2 }), edge('e2', 1));
      expect(p.update.map((u) => u.cause)).toEqual(['live']);
      expect(outcome).toEqual({ created: [], updated: ['e1'], deleted: [], conflicts: [], failed: [] });
      expect(await k('edge_device_modules').orderBy(['edge_device_id', 'name']).select('edge_device_id', 'name')).toEqual([
        { edge_device_id: 'e1', name: 'm2' },
        { edge_device_id: 'e1', name: 'm3' },
        { edge_device_id: 'e2', name: 'm1' },
      ]);
      expect(await k('edge_device_tag_values').orderBy('edge_device_id').select('edge_device_id', 'name', 'value')).toEqual([
        { edge_device_id: 'e1', name: 'site', value: 'Lyon' },
        { edge_device_id: 'e2', name: 'site', value: 'Lyon' },
      ]);
    });

    it('replaces tags on a newer version, and keeps a newer stored row over a module change', async () => {
      await sync(edge('e1', 1), edge('e2', 1));
      const p = plan(await loadCurrentEdgeDevices(k), [edge('e1', 2, { tags: '{"site":"Paris"}' }), edge('e2', 1, { modules: modules('m9') })], complete, policy);
      await k('edge_devices').where('id', 'e2').update({ version: 5 });
      const outcome = await inTrx((trx) => applyEdgeDevicesPlan(trx, p, backend));
      expect(outcome).toEqual({ created: [], updated: ['e1'], deleted: [], conflicts: ['e2'], failed: [] });
      const current = await loadCurrentEdgeDevices(k);
      expect(current.get('e1')!.fields.tags).toBe('{"site":"Paris"}');
      expect(current.get('e2')!.fields.modules).toBe(modules('m1'));
    });

    it('refuses a newer-version write with new modules when another writer already stored that version', async () => {
      await sync(edge('e1', 1));
      const p = plan(await loadCurrentEdgeDevices(k), [edge('e1', 2, { modules: modules('m2') })], complete, policy);
      expect(p.update.map((u) => u.cause)).toEqual(['version']);
      await k('edge_devices').where('id', 'e1').update({ version: 2, name: 'theirs' });
      const outcome = await inTrx((trx) => applyEdgeDevicesPlan(trx, p, backend));
      expect(outcome).toEqual({ created: [], updated: [], deleted: [], conflicts: ['e1'], failed: [] });
      expect((await loadCurrentEdgeDevices(k)).get('e1')!.fields).toMatchObject({ name: 'theirs', modules: modules('m1') });
    });

    it('writes a module change at the same version even when another writer already set its live columns', async () => {
      await sync(edge('e1', 1));
      const p = plan(await loadCurrentEdgeDevices(k), [edge('e1', 1, { connection_state: 'Disconnected', modules: modules('m2') })], complete, policy);
      expect(p.update[0]!.changes.map((c) => c.field).sort()).toEqual(['connection_state', 'modules']);
      await k('edge_devices').where('id', 'e1').update({ connection_state: 'Disconnected' });
      const outcome = await inTrx((trx) => applyEdgeDevicesPlan(trx, p, backend));
      expect(outcome.updated).toEqual(['e1']);
      expect((await loadCurrentEdgeDevices(k)).get('e1')!.fields.modules).toBe(modules('m2'));
    });

    it('writes a module change at the same version even when the stored row already equals it otherwise', async () => {
      await sync(edge('e1', 1));
      const current = (await loadCurrentEdgeDevices(k)).get('e1')!;
      // A plan whose only change is the module set: the SQL gate cannot compare sets, the version re-check lets it through.
      const desired = { key: 'e1', version: 1, fields: { ...current.fields, modules: modules('other') } };
      const update: PlannedUpdate = { desired, current, changes: [{ field: 'modules', old: current.fields.modules, new: desired.fields.modules, secret: false }], cause: 'live' };
      const outcome = await inTrx((trx) => applyEdgeDevicesPlan(trx, planOf({ update: [update] }), backend));
      expect(outcome.updated).toEqual(['e1']);
      expect((await loadCurrentEdgeDevices(k)).get('e1')!.fields.modules).toBe(modules('other'));
    });
  });

  describe('devices and their LoRaWAN rows', () => {
    const policy = { liveFields: DEVICE_LIVE_FIELDS, secretFields: LORAWAN_SECRET_COLUMNS, massDelete: { ...DEFAULT_MASS_DELETE, allow: true } };
    const device = (key: string, version: number, fields: Record<string, unknown> = {}): RemoteEntry => ({
      kind: 'desired',
      key,
      version,
      fields: {
        name: `D ${key}`,
        device_model_id: 'm',
        layer_id: null,
        is_enabled: true,
        is_connected: false,
        status_updated_at: '2026-01-01T00:00:00.000Z',
        last_activity_at: null,
        kind: 'standard',
        tags: '{}',
        ...fields,
      } as never,
    });
    const lora = (key: string, version: number, fields: Record<string, unknown> = {}) =>
      device(key, version, { kind: 'lora', app_eui: 'E', app_key: 'K', rx_delay: 1, downlink: true, use_otaa: true, already_logged_in_once: false, ...fields });
    const sync = async (...remote: RemoteEntry[]) => {
      const p = plan(await loadCurrentDevices(k), remote, complete, policy);
      return { p, outcome: await inTrx((trx) => applyDevicesPlan(trx, p, backend)) };
    };

    it('reads a LoRa device back with every LoRaWAN column, a standard one with none', async () => {
      await sync(lora('l1', 1), device('s1', 1));
      const current = await loadCurrentDevices(k);
      const fields = current.get('l1')!.fields;
      expect(Object.keys(fields).sort()).toEqual(
        ['name', 'device_model_id', 'layer_id', 'is_enabled', 'is_connected', 'status_updated_at', 'last_activity_at', 'tags', 'kind', ...LORAWAN_COLUMN_NAMES].sort(),
      );
      expect(fields).toMatchObject({ kind: 'lora', app_eui: 'E', app_key: 'K', rx_delay: 1, downlink: true, use_otaa: true, already_logged_in_once: false, nwk_s_key: null });
      expect(current.get('s1')!.fields).toEqual({
        name: 'D s1',
        device_model_id: 'm',
        layer_id: null,
        is_enabled: true,
        is_connected: false,
        status_updated_at: '2026-01-01T00:00:00.000Z',
        last_activity_at: null,
        tags: '{}',
        kind: 'standard',
      });
      expect(await k('lorawan_devices').pluck('id')).toEqual(['l1']);
    });

    it('keeps a stored LoRaWAN value the twin does not carry, and writes the ones that changed', async () => {
      await sync(lora('l1', 1, { nwk_s_key: 'imported' }));
      await sync(lora('l1', 2, { app_key: undefined, nwk_s_key: undefined, rx_delay: 5 }));
      expect((await loadCurrentDevices(k)).get('l1')!.fields).toMatchObject({ app_key: 'K', nwk_s_key: 'imported', rx_delay: 5 });
    });

    it('writes the one LoRaWAN column that changed on a twin that carries them all', async () => {
      const all = Object.fromEntries(LORAWAN_COLUMN_NAMES.map((c) => [c, null])) as Record<string, unknown>;
      await sync(lora('l1', 1, { ...all, app_key: 'K1', rx_delay: 1, use_otaa: true, already_logged_in_once: false }));
      await sync(lora('l1', 2, { ...all, app_key: 'K1', rx_delay: 2, use_otaa: true, already_logged_in_once: false }));
      expect((await loadCurrentDevices(k)).get('l1')!.fields).toMatchObject({ app_key: 'K1', rx_delay: 2, app_eui: null });
    });

    it('writes a LoRaWAN change that comes with a live change only', async () => {
      await sync(lora('l1', 1));
      const { p } = await sync(lora('l1', 1, { is_connected: true, rx_delay: 9 }));
      expect(p.update.map((u) => u.cause)).toEqual(['live']);
      expect((await loadCurrentDevices(k)).get('l1')!.fields).toMatchObject({ is_connected: true, rx_delay: 9 });
    });

    it('creates the LoRaWAN row of a device that becomes LoRa, and removes it when it stops being one', async () => {
      await sync(device('d1', 1), lora('d2', 1));
      await sync(lora('d1', 2), device('d2', 2));
      let current = await loadCurrentDevices(k);
      expect(current.get('d1')!.fields).toMatchObject({ kind: 'lora', app_key: 'K' });
      expect(current.get('d2')!.fields.kind).toBe('standard');
      expect(await k('lorawan_devices').pluck('id')).toEqual(['d1']);
      await sync(device('d1', 3), device('d2', 2));
      current = await loadCurrentDevices(k);
      expect(current.get('d1')!.fields.kind).toBe('standard');
      expect(await k('lorawan_devices').count({ n: '*' }).first()).toMatchObject({ n: 0 });
    });

    it('replaces the tags of the devices whose tags changed', async () => {
      await sync(device('d1', 1, { tags: '{"a":"1","b":"2"}' }), device('d2', 1, { tags: '{"x":"y"}' }));
      await sync(device('d1', 2, { tags: '{"b":"3"}' }), device('d2', 2, { tags: '{"x":"y"}' }));
      expect(await k('device_tag_values').orderBy(['device_id', 'name']).select('device_id', 'name', 'value')).toEqual([
        { device_id: 'd1', name: 'b', value: '3' },
        { device_id: 'd2', name: 'x', value: 'y' },
      ]);
      const current = await loadCurrentDevices(k);
      expect(current.get('d1')!.fields.tags).toBe('{"b":"3"}');
    });

    it('deletes a device with its LoRaWAN row and tags', async () => {
      await sync(lora('l1', 1, { tags: '{"a":"1"}' }), device('s1', 1));
      const { outcome } = await sync(device('s1', 1));
      expect(outcome.deleted).toEqual(['l1']);
      expect(await k('lorawan_devices').count({ n: '*' }).first()).toMatchObject({ n: 0 });
      expect(await k('device_tag_values').count({ n: '*' }).first()).toMatchObject({ n: 0 });
    });
  });

  describe('bulk statements', () => {
    it('inserts more rows than one statement takes, returning every id', async () => {
      const n = backend === 'postgres' ? 10_001 : 30_001;
      const returned = await insertRows(k, backend, 'lora_gateway_ids', [{ name: 'id', pgType: 'text' }], Array.from({ length: n }, (_, i) => [`g${i}`]), {
        returning: 'id',
      });
      expect(returned).toHaveLength(n);
      expect(returned[n - 1]).toEqual({ id: `g${n - 1}` });
      expect(await k('lora_gateway_ids').count({ n: '*' }).first()).toMatchObject({ n });
    });

    it('skips a conflicting row with an empty SET, and deletes by id without a version', async () => {
      await insertRows(k, backend, 'lora_gateway_ids', [{ name: 'id', pgType: 'text' }], [['a'], ['b']]);
      const returned = await insertRows(k, backend, 'lora_gateway_ids', [{ name: 'id', pgType: 'text' }], [['a'], ['c']], {
        upsert: { target: ['id'], set: {}, where: 'false' },
        returning: 'id',
      });
      expect(returned).toEqual([{ id: 'c' }]);
      const deleted = await deleteRows(k, backend, 'lora_gateway_ids', [{ key: 'a', version: 99 }, { key: 'zz', version: 0 }], { checkVersion: false });
      expect(deleted).toEqual(['a']);
      expect(await deleteRows(k, backend, 'lora_gateway_ids', [], { checkVersion: true })).toEqual([]);
      expect(sorted(await k('lora_gateway_ids').pluck('id'))).toEqual(['b', 'c']);
    });

    it('deletes more rows than one SQLite statement takes', async () => {
      const rows = Array.from({ length: 1_201 }, (_, i) => [`g${i}`]);
      await insertRows(k, backend, 'lora_gateway_ids', [{ name: 'id', pgType: 'text' }], rows);
      const deleted = await deleteRows(k, backend, 'lora_gateway_ids', rows.map(([key]) => ({ key: key!, version: 0 })), { checkVersion: false });
      expect(deleted).toHaveLength(1_201);
      expect(await k('lora_gateway_ids').count({ n: '*' }).first()).toMatchObject({ n: 0 });
    });
  });

  describe('models', () => {
    it('upserts device models and reads them back', async () => {
      expect(await upsertDeviceModels(k, [])).toBe(0);
      expect(
        await upsertDeviceModels(k, [
          { id: 'm1', name: 'One', description: null, supportLoRaFeatures: true },
          { id: 'm2', name: 'Two', description: 'second', supportLoRaFeatures: false },
        ]),
      ).toBe(2);
      await upsertDeviceModels(k, [{ id: 'm1', name: 'One again', description: 'd', supportLoRaFeatures: false }]);
      const models = await loadDeviceModels(k);
      expect([...models.keys()].sort()).toEqual(['m1', 'm2']);
      expect(models.get('m1')).toEqual({ id: 'm1', name: 'One again', description: 'd', supportLoRaFeatures: false });
      expect(models.get('m2')).toEqual({ id: 'm2', name: 'Two', description: 'second', supportLoRaFeatures: false });
      await upsertDeviceModels(k, [{ id: 'm2', name: 'Two', description: null, supportLoRaFeatures: true }]);
      expect((await loadDeviceModels(k)).get('m2')).toEqual({ id: 'm2', name: 'Two', description: null, supportLoRaFeatures: true });
    });

    it('upserts edge device models and reads their ids', async () => {
      expect(await upsertEdgeDeviceModels(k, [])).toBe(0);
      expect(await upsertEdgeDeviceModels(k, [{ id: 'em1', name: 'E', description: null, externalIdentifier: 'x' }, { id: 'em2', name: 'F', description: 'd', externalIdentifier: null }])).toBe(2);
      await upsertEdgeDeviceModels(k, [{ id: 'em1', name: 'E2', description: null, externalIdentifier: null }]);
      expect([...(await loadEdgeDeviceModelIds(k))].sort()).toEqual(['em1', 'em2']);
      expect(await k('edge_device_models').where('id', 'em1').first()).toMatchObject({ name: 'E2', external_identifier: null });
    });
  });

  describe('the run log', () => {
    const run = (command: string, startedAt: string, extra: Partial<RunRecord> = {}): RunRecord => ({
      command,
      status: 'ok',
      dryRun: false,
      startedAt: new Date(startedAt),
      finishedAt: new Date(new Date(startedAt).getTime() + 1500),
      exitCode: 0,
      summary: { create: 1 },
      error: null,
      ...extra,
    });

    it('records a run and its events, and reads them back', async () => {
      const id = await recordRun(k, run('devices', '2026-03-01T10:00:00.000Z', { status: 'partial', dryRun: true, exitCode: 3, error: 'bad\u0000byte' }), [
        { level: 'warn', type: 'skipped', ref: 'd\u00001', message: 'no\u0000model' },
        { level: 'info', type: 'created', ref: null, message: 'ok' },
        { level: 'error', type: 'failed', ref: 'k'.repeat(300), message: 'long key' },
      ]);
      expect(typeof id).toBe('number');
      expect(await getRun(k, id)).toEqual({
        id,
        command: 'devices',
        status: 'partial',
        dryRun: true,
        startedAt: '2026-03-01T10:00:00.000Z',
        finishedAt: '2026-03-01T10:00:01.500Z',
        exitCode: 3,
        summary: { create: 1 },
        error: 'bad\\0byte',
      });
      expect(await getRun(k, id + 1)).toBeNull();
      const events = await listEvents(k, { runId: id });
      // Newest first, like every list of the run log.
      expect(events.map(({ id: _id, ...e }) => e)).toEqual([
        { runId: id, at: '2026-03-01T10:00:01.500Z', level: 'error', type: 'failed', ref: 'k'.repeat(254) + '…', message: 'long key' },
        { runId: id, at: '2026-03-01T10:00:01.500Z', level: 'info', type: 'created', ref: null, message: 'ok' },
        { runId: id, at: '2026-03-01T10:00:01.500Z', level: 'warn', type: 'skipped', ref: 'd\\01', message: 'no\\0model' },
      ]);
      expect(events[0]!.id).toBeGreaterThan(events[1]!.id);
    });

    it('lists runs newest first, filtered by command and start time, up to a limit', async () => {
      const a = await recordRun(k, run('devices', '2026-03-01T00:00:00.000Z'), []);
      const b = await recordRun(k, run('edge', '2026-03-02T00:00:00.000Z', { summary: null }), []);
      const c = await recordRun(k, run('devices', '2026-03-03T00:00:00.000Z'), []);
      const ids = async (filter: Parameters<typeof listRuns>[1]) => (await listRuns(k, filter)).map((r) => r.id);
      expect(await ids({})).toEqual([c, b, a]);
      expect(await ids({ command: 'devices' })).toEqual([c, a]);
      expect(await ids({ since: new Date('2026-03-02T00:00:00.000Z') })).toEqual([c, b]);
      expect(await ids({ until: new Date('2026-03-02T00:00:00.000Z') })).toEqual([a]);
      expect(await ids({ limit: 1 })).toEqual([c]);
      expect((await listRuns(k, { command: 'edge' }))[0]).toMatchObject({ summary: null, dryRun: false, error: null });
    });

    it('lists events newest first, filtered by run, command, ref, type and time, up to a limit', async () => {
      const ev = (type: string, ref: string | null) => ({ level: 'info' as const, type, ref, message: type });
      const r1 = await recordRun(k, run('devices', '2026-03-01T00:00:00.000Z'), [ev('created', 'a'), ev('deleted', 'b')]);
      const r2 = await recordRun(k, run('edge', '2026-03-05T00:00:00.000Z'), [ev('created', 'a'), ev('updated', null)]);
      const pick = async (filter: Parameters<typeof listEvents>[1]) => (await listEvents(k, filter)).map((e) => `${e.runId === r1 ? 1 : 2}:${e.type}`);
      expect(await pick({})).toEqual(['2:updated', '2:created', '1:deleted', '1:created']);
      expect(await pick({ runId: r2 })).toEqual(['2:updated', '2:created']);
      expect(await pick({ command: 'devices' })).toEqual(['1:deleted', '1:created']);
      expect(await pick({ ref: 'a' })).toEqual(['2:created', '1:created']);
      expect(await pick({ type: 'updated' })).toEqual(['2:updated']);
      expect(await pick({ since: new Date('2026-03-05T00:00:01.500Z') })).toEqual(['2:updated', '2:created']);
      expect(await pick({ until: new Date('2026-03-05T00:00:01.500Z') })).toEqual(['1:deleted', '1:created']);
      expect(await pick({ limit: 3 })).toEqual(['2:updated', '2:created', '1:deleted']);
    });
  });
});

/** A plan's lists are what they are: keep the helper honest. */
describe('planOf', () => {
  it('starts from an empty plan', () => {
    const current: CurrentRecord = { key: 'x', version: 1, fields: {} };
    expect(planOf({ delete: [current] })).toMatchObject({ create: [], update: [], delete: [current] });
  });
});
