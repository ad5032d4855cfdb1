/** An end-to-end test's world: a fresh portal database with the fleet's models, an emulated hub, a lock dir. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FixtureInput } from '../../src/emulators/iothub/index.js';
import { migrateLatest } from '../../src/store/migrate.js';
import { upsertDeviceModels, upsertEdgeDeviceModels, type DeviceModel, type EdgeDeviceModel } from '../../src/store/models.js';
import { createTestDatabase, type BackendName, type TestDatabase } from './backends.js';
import { startTestHub, type TestHub } from './hub.js';

export interface Portal {
  readonly db: TestDatabase;
  readonly hub: TestHub;
  readonly lockDir: string;
  close(): Promise<void>;
}

export async function startPortal(
  backend: BackendName,
  fixture: FixtureInput,
  models: { devices?: DeviceModel[]; edge?: EdgeDeviceModel[] } = {},
): Promise<Portal> {
  const db = await createTestDatabase(backend);
  await migrateLatest(db.knex());
  await upsertDeviceModels(db.knex(), models.devices ?? []);
  await upsertEdgeDeviceModels(db.knex(), models.edge ?? []);
  const hub = await startTestHub(fixture);
  const lockDir = mkdtempSync(join(tmpdir(), 'portal-sync-locks-'));
  return {
    db,
    hub,
    lockDir,
    async close() {
      await hub.close();
      await db.drop();
      rmSync(lockDir, { recursive: true, force: true });
    },
  };
}
