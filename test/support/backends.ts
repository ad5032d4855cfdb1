/** The same suites run on SQLite and on PostgreSQL; each test gets a fresh, empty database. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Knex } from 'knex';
import { openKnex, parseDbUrl } from '../../src/store/db.js';
import { createTempPostgresDatabase, postgresAvailable, requireOrSkip } from './services.js';

export type BackendName = 'sqlite' | 'postgres';

export interface TestDatabase {
  readonly backend: BackendName;
  readonly url: string;
  /** A knex handle for assertions; closed by `drop()`. */
  knex(): Knex;
  drop(): Promise<void>;
}

const pg = await postgresAvailable();
const havePg = requireOrSkip('PostgreSQL suites', pg);

/** Backends to run on: SQLite always, PostgreSQL when it answers (required in CI). */
export const BACKENDS: BackendName[] = havePg ? ['sqlite', 'postgres'] : ['sqlite'];

export async function createTestDatabase(backend: BackendName): Promise<TestDatabase> {
  let url: string;
  let cleanup: () => Promise<void>;
  if (backend === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'portal-sync-db-'));
    url = `sqlite:${join(dir, 'portal.db')}`;
    cleanup = async () => rmSync(dir, { recursive: true, force: true });
  } else {
    const db = await createTempPostgresDatabase();
    url = db.url;
    cleanup = () => db.drop();
  }
  let handle: Knex | null = null;
  return {
    backend,
    url,
    knex: () => (handle ??= openKnex(parseDbUrl(url))),
    async drop() {
      await handle?.destroy();
      handle = null;
      await cleanup();
    },
  };
}
