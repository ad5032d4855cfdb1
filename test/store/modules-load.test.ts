/**
 * Every module of the store and the mappings loads: the column lists they build when loaded name
 * only columns that migrations/columns.cjs declares (declaredColumn throws otherwise), and the
 * migrations folder is found. Imported inside the test, so a module that throws while loading
 * fails this test instead of only its importers' collection (mutation testing counts only tests).
 */
import { describe, expect, it } from 'vitest';

describe('loading', () => {
  it('every store and mapping module loads', async () => {
    const modules = await Promise.all([
      import('../../src/store/concentrators.js'),
      import('../../src/store/db.js'),
      import('../../src/store/devices.js'),
      import('../../src/store/edge.js'),
      import('../../src/store/entity.js'),
      import('../../src/store/gateways.js'),
      import('../../src/store/isolate.js'),
      import('../../src/store/migrate.js'),
      import('../../src/store/models.js'),
      import('../../src/store/rows.js'),
      import('../../src/store/runlog.js'),
      import('../../src/store/schema.js'),
      import('../../src/store/sql.js'),
      import('../../src/reconcile/index.js'),
      import('../../src/commands/devices-mapping.js'),
      import('../../src/commands/edge-mapping.js'),
      import('../../src/commands/concentrators-mapping.js'),
    ]);
    for (const module of modules) expect(Object.keys(module).length).toBeGreaterThan(0);
  });
});
