/**
 * Two rules INVENTORIES.md relies on, through the very inventories the passes use (policy, load,
 * apply), on SQLite and PostgreSQL:
 *  - each live field ALONE, at an unchanged twin version, reaches the portal (a device that
 *    disconnects without a version change must not show "connected" for ever);
 *  - a row a concurrent writer changed between planning and applying is kept, and the conflict is
 *    reported once, for every entity store that has the version re-check.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Knex } from 'knex';
import { concentratorsInventory } from '../../src/commands/concentrators.js';
import { mapConcentratorTwin } from '../../src/commands/concentrators-mapping.js';
import { devicesInventory } from '../../src/commands/devices.js';
import { mapDeviceTwin } from '../../src/commands/devices-mapping.js';
import { edgeInventory } from '../../src/commands/edge.js';
import { addModuleTwin, mapEdgeTwin, type ModuleSummary } from '../../src/commands/edge-mapping.js';
import type { IotHubConfig } from '../../src/config.js';
import { DEFAULT_MASS_DELETE, plan, type RemoteEntry } from '../../src/reconcile/index.js';
import type { Inventory } from '../../src/run/inventory.js';
import { migrateLatest } from '../../src/store/migrate.js';
import { upsertDeviceModels, upsertEdgeDeviceModels } from '../../src/store/models.js';
import { BACKENDS, createTestDatabase, type TestDatabase } from '../support/backends.js';

const iothub: IotHubConfig = {
  credentials: { hostName: 'h.azure-devices.net', sharedAccessKeyName: 'k', sharedAccessKey: 'aGVsbG8=' },
  endpoint: undefined,
  pageSize: 100,
  maxRetries: 0,
  requestTimeoutMs: 1000,
  pageBudgetMs: 1000,
} as IotHubConfig;

type Twin = Record<string, any>;
const deviceTwin = (extra: Twin = {}): Twin => ({
  deviceId: 'd1',
  version: 7,
  status: 'enabled',
  connectionState: 'Connected',
  statusUpdateTime: '2026-11-20T10:00:00Z',
  lastActivityTime: '2026-11-20T11:00:00Z',
  tags: { deviceName: 'D', modelId: 'm' },
  ...extra,
});
const edgeTwin = (extra: Twin = {}): Twin => ({ deviceId: 'e1', version: 7, status: 'enabled', connectionState: 'Connected', tags: { deviceName: 'E', modelId: 'em' }, ...extra });
const agent = (modules: Record<string, Twin>) => ({ deviceId: 'e1', moduleId: '$edgeAgent', properties: { desired: { modules }, reported: {} } });
const hub = (clients: string[]) => ({ deviceId: 'e1', moduleId: '$edgeHub', properties: { reported: { clients: Object.fromEntries(clients.map((c) => [c, {}])) } } });
const BASE_MODULES = { a: { status: 'running', version: '1.0', settings: { image: 'img/a:1' } } };
const edgeEntry = (twin: Twin, modules: Record<string, Twin> = BASE_MODULES, clients = ['x']): RemoteEntry => {
  const summaries = new Map<string, ModuleSummary>();
  addModuleTwin(summaries, agent(modules));
  addModuleTwin(summaries, hub(clients));
  return mapEdgeTwin(twin, new Set(['em']), summaries.get('e1'), null);
};
const concentratorTwin = (extra: Twin = {}): Twin => ({ deviceId: 'c1', version: 7, status: 'enabled', connectionState: 'Connected', tags: { loraRegion: 'EU863', deviceName: 'C' }, ...extra });

interface Case {
  readonly name: string;
  readonly inventory: Inventory;
  readonly table: string;
  readonly base: () => RemoteEntry;
  /** One live field changed alone, at the same version, and the column that must show it. */
  readonly live: ReadonlyArray<readonly [string, () => RemoteEntry, string, unknown]>;
}

const DEVICE_MODELS = new Map([['m', { id: 'm', name: 'M', description: null, supportLoRaFeatures: false }]]);
const CASES: Case[] = [
  {
    name: 'devices',
    inventory: devicesInventory(iothub),
    table: 'devices',
    base: () => mapDeviceTwin(deviceTwin(), DEVICE_MODELS),
    live: [
      ['connection state', () => mapDeviceTwin(deviceTwin({ connectionState: 'Disconnected' }), DEVICE_MODELS), 'is_connected', false],
      ['enablement', () => mapDeviceTwin(deviceTwin({ status: 'disabled' }), DEVICE_MODELS), 'is_enabled', false],
      ['status time', () => mapDeviceTwin(deviceTwin({ statusUpdateTime: '2026-11-21T09:00:00Z' }), DEVICE_MODELS), 'status_updated_at', '2026-11-21T09:00:00.000Z'],
      ['last activity', () => mapDeviceTwin(deviceTwin({ lastActivityTime: '2026-11-21T12:00:00Z' }), DEVICE_MODELS), 'last_activity_at', '2026-11-21T12:00:00.000Z'],
    ],
  },
  {
    name: 'edge',
    inventory: edgeInventory(iothub),
    table: 'edge_devices',
    base: () => edgeEntry(edgeTwin()),
    live: [
      ['connection state', () => edgeEntry(edgeTwin({ connectionState: 'Disconnected' })), 'connection_state', 'Disconnected'],
      ['enablement', () => edgeEntry(edgeTwin({ status: 'disabled' })), 'is_enabled', false],
      ['module count', () => edgeEntry(edgeTwin(), { ...BASE_MODULES, b: { status: 'running' } }), 'nb_modules', 2],
      ['connected leaf devices', () => edgeEntry(edgeTwin(), BASE_MODULES, ['x', 'y', 'z']), 'nb_devices', 3],
      ['a module image', () => edgeEntry(edgeTwin(), { a: { status: 'running', version: '1.0', settings: { image: 'img/a:2' } } }), 'modules', 'img/a:2'],
    ],
  },
  {
    name: 'concentrators',
    inventory: concentratorsInventory(iothub),
    table: 'concentrators',
    base: () => mapConcentratorTwin(concentratorTwin()),
    live: [
      ['connection state', () => mapConcentratorTwin(concentratorTwin({ connectionState: 'Disconnected' })), 'is_connected', false],
      ['enablement', () => mapConcentratorTwin(concentratorTwin({ status: 'disabled' })), 'is_enabled', false],
    ],
  },
];

describe.each(BACKENDS)('live fields and the version re-check on %s', (backend) => {
  let db: TestDatabase;
  let k: Knex;
  beforeEach(async () => {
    db = await createTestDatabase(backend);
    k = db.knex();
    await migrateLatest(k);
    await upsertDeviceModels(k, [{ id: 'm', name: 'M', description: null, supportLoRaFeatures: false }]);
    await upsertEdgeDeviceModels(k, [{ id: 'em', name: 'EM', description: null, externalIdentifier: null }]);
  });
  afterEach(() => db.drop());

  const pass = async (inventory: Inventory, entries: RemoteEntry[], beforeApply?: () => Promise<unknown>) => {
    const p = plan(await inventory.loadCurrent(k), entries, { complete: true }, { ...inventory.policy, massDelete: DEFAULT_MASS_DELETE });
    await beforeApply?.();
    return { p, outcome: await k.transaction((trx) => inventory.apply(trx, p, backend)) };
  };
  /** A column as stored, normalised (SQLite's 0/1, PostgreSQL's Date) the way the store reads it. */
  const stored = async (c: Case, column: string) => {
    const current = await c.inventory.loadCurrent(k);
    return [...current.values()][0]!.fields[column];
  };

  for (const c of CASES) {
    for (const [what, changed, column, expected] of c.live) {
      it(`${c.name}: ${what} alone, at the same version, is updated`, async () => {
        await pass(c.inventory, [c.base()]);
        const { p, outcome } = await pass(c.inventory, [changed()]);
        expect(p.update.map((u) => u.cause)).toEqual(['live']);
        expect(outcome.updated).toHaveLength(1);
        const value = await stored(c, column);
        if (column === 'modules') expect(String(value)).toContain(String(expected));
        else expect(value).toEqual(expected);
      });
    }

    it(`${c.name}: a newer row written between planning and applying is kept, the conflict reported once`, async () => {
      await pass(c.inventory, [c.base()]);
      const base = c.base() as Extract<RemoteEntry, { kind: 'desired' }>;
      const bumped: RemoteEntry = { ...base, version: base.version + 1, fields: { ...base.fields, name: 'mine' } };
      const { outcome } = await pass(c.inventory, [bumped], () => k(c.table).update({ version: base.version + 5, name: 'theirs' }));
      expect(outcome.updated).toEqual([]);
      expect(outcome.conflicts).toEqual([base.key]);
      expect(await k(c.table).first()).toMatchObject({ name: 'theirs', version: base.version + 5 });
    });

    it(`${c.name}: a live change planned at the same version is not written over a newer row`, async () => {
      await pass(c.inventory, [c.base()]);
      const [, changed] = c.live[0]!;
      const { outcome } = await pass(c.inventory, [changed()], () => k(c.table).update({ version: (c.base() as { version: number }).version + 1 }));
      expect(outcome.updated).toEqual([]);
      expect(outcome.conflicts).toHaveLength(1);
    });
  }
});
