import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FixtureInput } from '../../src/emulators/iothub/index.js';
import { BACKENDS, type TestDatabase } from '../support/backends.js';
import { parseJson, runCli } from '../support/cli.js';
import type { TestHub } from '../support/hub.js';
import { startPortal, type Portal } from '../support/portal.js';
import { fleet, type Twin } from './fleet.js';

type ModuleTwin = NonNullable<FixtureInput['moduleTwins']>[number] & Record<string, any>;

const EDGE_MODELS = [{ id: 'em-gw', name: 'Gateway', description: null, externalIdentifier: 'gw-v1' }];

const edge = (id: string, version = 1, extra: Partial<Twin> = {}): Twin => ({
  deviceId: id,
  version,
  status: 'enabled',
  connectionState: 'Connected',
  capabilities: { iotEdge: true },
  tags: { deviceName: `Edge ${id}`, modelId: 'em-gw', site: 'Lyon' },
  ...extra,
});

const agent = (deviceId: string, modules: Record<string, { version?: string; image?: string; status?: string }>): ModuleTwin => ({
  deviceId,
  moduleId: '$edgeAgent',
  properties: {
    desired: {
      modules: Object.fromEntries(
        Object.entries(modules).map(([name, m]) => [name, { status: m.status ?? 'running', version: m.version ?? '1.0', settings: { image: m.image ?? `acr.io/${name}:1` } }]),
      ),
    },
    reported: {},
  },
});

const hub = (deviceId: string, clients: string[]): ModuleTwin => ({
  deviceId,
  moduleId: '$edgeHub',
  properties: { desired: {}, reported: { clients: Object.fromEntries(clients.map((c) => [c, { status: 'Connected' }])) } },
});

const networkServer = (deviceId: string): ModuleTwin => ({ deviceId, moduleId: 'LoRaWanNetworkSrvModule' });

const concentrator = (id: string, version = 1, extra: Partial<Twin> = {}): Twin => ({
  deviceId: id,
  version,
  connectionState: 'Connected',
  tags: { deviceName: `Conc ${id}`, deviceType: 'LoRa Concentrator', loraRegion: 'EU863' },
  properties: { desired: { clientThumbprint: ['AA11'] }, reported: {} },
  ...extra,
});

describe.each(BACKENDS)('Azure edge, concentrators and gateway ids on %s', (backend) => {
  let portal: Portal;
  let db: TestDatabase;
  let emulated: TestHub;
  let lockDir: string;

  beforeEach(async () => {
    portal = await startPortal(backend, fleet([]), { edge: EDGE_MODELS });
    ({ db, hub: emulated, lockDir } = portal);
  });
  afterEach(() => portal.close());

  const setFleet = (twins: Twin[], moduleTwins: ModuleTwin[] = [], faults: FixtureInput['faults'] = []) =>
    emulated.write({ ...fleet(twins, faults), moduleTwins });
  const pass = async (command: string, ...args: string[]) => {
    const result = await runCli([command, '--db', db.url, '--lock-dir', lockDir, '--page-size', '2', '--json', ...args], emulated.env());
    return { result, doc: parseJson(result) };
  };
  const k = () => db.knex();

  describe('edge', () => {
    const baseTwins = () => [
      edge('e1', 3),
      edge('e2', 1, { connectionState: 'Disconnected' }),
      edge('e3'),
      edge('e-no-model', 1, { tags: { deviceName: 'x' } }),
      edge('e-unknown', 1, { tags: { deviceName: 'x', modelId: 'em-gone' } }),
      { deviceId: 'plain', version: 1, tags: { deviceName: 'not edge', modelId: 'em-gw' } },
    ];
    const baseModules = () => [
      agent('e1', { mod1: {}, mod2: { version: '2.0' }, LoRaWanNetworkSrvModule: { image: 'loraedge/ns:2.2' } }),
      hub('e1', ['e1/mod1', 'leaf-1', 'leaf-2']),
      agent('e2', { mod1: {} }),
      hub('e2', []),
      agent('e3', {}),
      hub('e3', ['leaf-9']),
    ];

    it('creates edge devices with modules from a few paged module queries, and skips with reasons', async () => {
      setFleet(baseTwins(), baseModules());
      const { result, doc } = await pass('edge');
      expect(result.code).toBe(0);
      expect(doc.summary).toMatchObject({ create: 3, skipped: 2, failed: 0 });
      expect(doc.skipped).toEqual([
        { ref: 'e-no-model', reason: 'no modelId tag' },
        { ref: 'e-unknown', reason: 'unknown edge device model "em-gone"' },
      ]);
      const e1 = await k()('edge_devices').where('id', 'e1').first();
      expect(e1).toMatchObject({ name: 'Edge e1', device_model_id: 'em-gw', connection_state: 'Connected', nb_modules: 3, nb_devices: 3 });
      expect(await k()('edge_device_modules').where('edge_device_id', 'e1').orderBy('name').select('name', 'status', 'version', 'image')).toEqual([
        { name: 'LoRaWanNetworkSrvModule', status: 'running', version: '1.0', image: 'loraedge/ns:2.2' },
        { name: 'mod1', status: 'running', version: '1.0', image: 'acr.io/mod1:1' },
        { name: 'mod2', status: 'running', version: '2.0', image: 'acr.io/mod2:1' },
      ]);
      expect(await k()('edge_device_tag_values').where('edge_device_id', 'e1').select('name', 'value')).toEqual([{ name: 'site', value: 'Lyon' }]);
      // 6 module twins and 5 edge twins at 2 per page: 3 + 3 requests, whatever the number of devices.
      expect(doc.apiCalls.operations).toEqual({ 'query:devices': 3, 'query:devices.modules': 3 });
      expect(emulated.emulator.stats().total).toBe(6);
      expect((await pass('edge')).doc.summary).toMatchObject({ create: 0, update: 0, unchanged: 3 });
    });

    it('updates on a version bump, on a connection change and on a module change without a version bump', async () => {
      setFleet(baseTwins(), baseModules());
      await pass('edge');
      const twins = baseTwins();
      twins[0] = edge('e1', 4, { tags: { deviceName: 'Renamed', modelId: 'em-gw' } });
      twins[1] = edge('e2', 1, { connectionState: 'Connected' });
      const modules = baseModules();
      modules[4] = agent('e3', { newmod: { version: '3.1' } });
      setFleet(twins, modules);
      const { doc } = await pass('edge');
      expect(doc.summary).toMatchObject({ update: 3, create: 0, delete: 0 });
      const byRef = Object.fromEntries(doc.changes.map((c: any) => [c.ref, c]));
      expect(byRef.e1.cause).toBe('version');
      expect(byRef.e2.cause).toBe('live');
      expect(byRef.e2.fields).toEqual([{ field: 'connection_state', old: 'Disconnected', new: 'Connected' }]);
      expect(byRef.e3.cause).toBe('live');
      expect(byRef.e3.fields.map((f: any) => f.field)).toEqual(['nb_modules', 'modules']);
      expect((await k()('edge_devices').where('id', 'e1').first()).name).toBe('Renamed');
      expect((await k()('edge_devices').where('id', 'e2').first()).connection_state).toBe('Connected');
      expect(await k()('edge_device_modules').where('edge_device_id', 'e3').pluck('name')).toEqual(['newmod']);
      expect(await k()('edge_device_tag_values').where('edge_device_id', 'e1').count({ n: '*' })).toEqual([{ n: 0 }]);
    });

    it('a dry run shows which module changed and how, not two cut-off JSON strings', async () => {
      setFleet(baseTwins(), baseModules());
      await pass('edge');
      const modules = baseModules();
      modules[0] = agent('e1', { mod1: { image: 'acr.io/mod1:2' }, LoRaWanNetworkSrvModule: { image: 'loraedge/ns:2.2' }, mod3: {} });
      setFleet(baseTwins(), modules);
      const table = await runCli(['edge', '--db', db.url, '--lock-dir', lockDir, '--dry-run'], emulated.env());
      expect(table.stdout).toContain('modules: ~ mod1 image "acr.io/mod1:1" -> "acr.io/mod1:2"');
      expect(table.stdout).toContain('modules: + mod3 (status "running", version "1.0", image "acr.io/mod3:1")');
      expect(table.stdout).toContain('modules: - mod2');
      expect(table.stdout).not.toContain('[{');
    });

    it('deletes an edge device gone from the hub, with its modules and tags', async () => {
      setFleet(baseTwins(), baseModules());
      await pass('edge');
      setFleet(baseTwins().filter((t) => t.deviceId !== 'e1'), baseModules().filter((m) => m.deviceId !== 'e1'));
      const { doc } = await pass('edge');
      expect(doc.changes.filter((c: any) => c.action === 'delete').map((c: any) => c.ref)).toEqual(['e1']);
      expect(await k()('edge_device_modules').where('edge_device_id', 'e1').count({ n: '*' })).toEqual([{ n: 0 }]);
      expect(await k()('edge_device_tag_values').where('edge_device_id', 'e1').count({ n: '*' })).toEqual([{ n: 0 }]);
    });

    it('a failed module page: devices read in full are synced, the others fail, nothing is deleted (exit 3)', async () => {
      setFleet(baseTwins(), baseModules());
      await pass('edge');
      // e1 is gone remotely, but the module listing fails on page 2: its absence proves nothing.
      const twins = baseTwins().filter((t) => t.deviceId !== 'e1');
      twins.push(edge('e4'));
      setFleet(twins, [...baseModules().filter((m) => m.deviceId !== 'e1'), agent('e4', { m: {} }), hub('e4', [])], [
        { operation: 'query:devices.modules', page: 2, status: 500 },
      ]);
      const { result, doc } = await pass('edge', '--max-retries', '0');
      expect(result.code).toBe(3);
      expect(doc.status).toBe('partial');
      expect(doc.summary.delete).toBe(0);
      expect(doc.deletesWithheld).toMatch(/module twins/);
      // Page 1 held e2's two module twins: e2 is synced; e3 and e4 were on the failed page.
      expect(doc.failed.filter((f: any) => f.ref).map((f: any) => f.ref)).toEqual(['e3', 'e4']);
      expect(await k()('edge_devices').orderBy('id').pluck('id')).toEqual(['e1', 'e2', 'e3']);
    });

    it('an edge device with missing or malformed module twins is synced with a warning', async () => {
      setFleet(baseTwins(), [
        { deviceId: 'e1', moduleId: '$edgeAgent', properties: { desired: { modules: 'oops' }, reported: {} } },
        hub('e1', ['x']),
        agent('e2', { a: {} }),
        { deviceId: 'e2', moduleId: '$edgeHub', properties: { desired: {}, reported: { clients: [1, 2] } } },
      ]);
      const { result, doc } = await pass('edge');
      expect(result.code).toBe(0);
      expect(doc.summary.create).toBe(3);
      expect(doc.warnings).toEqual([
        { ref: 'e1', message: 'malformed module twin: $edgeAgent desired.modules is not an object; 0 modules' },
        { ref: 'e2', message: 'malformed module twin: $edgeHub reported.clients is not an object; 0 connected devices' },
        { ref: 'e3', message: 'no $edgeAgent module twin: 0 modules' },
        { ref: 'e3', message: 'no $edgeHub module twin: 0 connected devices' },
      ]);
      expect(await k()('edge_devices').where('id', 'e1').first()).toMatchObject({ nb_modules: 0, nb_devices: 1 });
      const warnings = await k()('sync_events').where({ run_id: doc.runId, type: 'warning' }).count({ n: '*' });
      expect(warnings).toEqual([{ n: 4 }]);
    });
  });

  describe('concentrators', () => {
    it('creates, updates a connection change, deletes, and skips a twin without a region', async () => {
      setFleet([
        concentrator('c1', 2),
        concentrator('c-missing', 1, { properties: { desired: {}, reported: {} } }),
        concentrator('c-empty', 1, { properties: { desired: { clientThumbprint: [] }, reported: {} } }),
        concentrator('c-string', 1, { properties: { desired: { clientThumbprint: 'AA11' }, reported: {} } }),
        concentrator('c-no-region', 1, { tags: { deviceName: 'x', deviceType: 'LoRa Concentrator' } }),
        { deviceId: 'not-a-concentrator', version: 1, tags: { deviceName: 'x', modelId: 'm' } },
      ]);
      const first = await pass('concentrators');
      expect(first.result.code).toBe(0);
      expect(first.doc.summary).toMatchObject({ create: 4, skipped: 1 });
      expect(first.doc.skipped).toEqual([{ ref: 'c-no-region', reason: 'no loraRegion tag' }]);
      const rows = await k()('concentrators').orderBy('id').select('id', 'client_thumbprint', 'lora_region', 'device_type', 'name');
      expect(rows).toEqual([
        { id: 'c-empty', client_thumbprint: null, lora_region: 'EU863', device_type: 'LoRa Concentrator', name: 'Conc c-empty' },
        { id: 'c-missing', client_thumbprint: null, lora_region: 'EU863', device_type: 'LoRa Concentrator', name: 'Conc c-missing' },
        { id: 'c-string', client_thumbprint: null, lora_region: 'EU863', device_type: 'LoRa Concentrator', name: 'Conc c-string' },
        { id: 'c1', client_thumbprint: 'AA11', lora_region: 'EU863', device_type: 'LoRa Concentrator', name: 'Conc c1' },
      ]);

      setFleet([concentrator('c1', 2, { connectionState: 'Disconnected' }), concentrator('c-missing', 2, { tags: { deviceName: 'n', deviceType: 'LoRa Concentrator', loraRegion: 'US902' } })]);
      const second = await pass('concentrators', '--allow-mass-delete');
      expect(second.doc.summary).toMatchObject({ update: 2, delete: 2 });
      expect(second.doc.changes.find((c: any) => c.ref === 'c1')).toMatchObject({ cause: 'live', fields: [{ field: 'is_connected', old: true, new: false }] });
      expect(await k()('concentrators').orderBy('id').pluck('lora_region')).toEqual(['US902', 'EU863']);
    });
  });

  describe('gateway-ids', () => {
    const edges = (n: number) => Array.from({ length: n }, (_, i) => `gw-${String(i).padStart(2, '0')}`);

    it('replaces the set in the database and writes a sorted JSON file atomically', async () => {
      const out = join(lockDir, 'out', 'gateway-ids.json');
      setFleet([], ['gw-b', 'gw-a', 'gw-c'].map(networkServer).concat([agent('gw-a', {})]));
      const first = await pass('gateway-ids', '--out', out);
      expect(first.result.code).toBe(0);
      expect(first.doc.summary.create).toBe(3);
      expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual(['gw-a', 'gw-b', 'gw-c']);
      // 3 rows at 2 per page: every page is read (the portal read only the first).
      expect(first.doc.apiCalls.total).toBe(2);

      setFleet([], ['gw-a', 'gw-d', 'gw-c'].map(networkServer));
      const table = await runCli(['gateway-ids', '--db', db.url, '--lock-dir', lockDir, '--out', out], emulated.env());
      expect(table.stdout).toMatch(/\+ +│ gw-d +│ add/);
      expect(table.stdout).toMatch(/- +│ gw-b +│ remove/);
      expect(await k()('lora_gateway_ids').orderBy('id').pluck('id')).toEqual(['gw-a', 'gw-c', 'gw-d']);
      expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual(['gw-a', 'gw-c', 'gw-d']);
    });

    it('an empty listing from a hub that had gateways is refused by the mass-delete guard', async () => {
      const out = join(lockDir, 'gw.json');
      setFleet([], edges(12).map(networkServer));
      await pass('gateway-ids', '--out', out);
      setFleet([], []);
      const { result, doc } = await pass('gateway-ids', '--out', out);
      expect(result.code).toBe(1);
      expect(doc.status).toBe('refused');
      expect(await k()('lora_gateway_ids').count({ n: '*' })).toEqual([{ n: 12 }]);
      expect(JSON.parse(readFileSync(out, 'utf8'))).toHaveLength(12);
    });

    it('a failed page deletes nothing and leaves the file alone (exit 3)', async () => {
      const out = join(lockDir, 'gw.json');
      setFleet([], edges(6).map(networkServer), [{ operation: 'query:devices.modules', page: 2, status: 503 }]);
      const { result, doc } = await pass('gateway-ids', '--out', out, '--max-retries', '0');
      expect(result.code).toBe(3);
      expect(doc.summary.create).toBe(2);
      expect(existsSync(out)).toBe(false);
    });
  });
});
