import type { Knex } from 'knex';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface MigrationModule {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

const require = createRequire(import.meta.url);

/** The package's `migrations/` folder, found from this file whether it runs from `src/` or `dist/src/`. */
export function migrationsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'migrations'))) return join(dir, 'migrations');
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the migrations folder of portal-sync');
    dir = parent;
  }
}

class PackageMigrations implements Knex.MigrationSource<string> {
  private readonly dir = migrationsDir();
  async getMigrations(): Promise<string[]> {
    return readdirSync(this.dir)
      // Numbered files only: `columns.cjs` beside them is the column declaration they share.
      .filter((f) => /^\d+_.+\.cjs$/.test(f))
      .sort();
  }
  getMigrationName(name: string): string {
    return name;
  }
  async getMigration(name: string): Promise<Knex.Migration> {
    return require(join(this.dir, name)) as MigrationModule;
  }
}

const MIGRATIONS_TABLE = 'portal_sync_migrations';

const config: Knex.MigratorConfig = {
  migrationSource: new PackageMigrations(),
  tableName: MIGRATIONS_TABLE,
};

/** Applies pending migrations; returns the names applied now. */
export async function migrateLatest(knex: Knex): Promise<string[]> {
  const [, applied] = (await knex.migrate.latest(config)) as [number, string[]];
  return applied;
}

/**
 * Migrations not applied yet, found without writing anything (knex's own `migrate.list` creates its
 * bookkeeping table): a dry run must not change the database, not even its schema.
 */
export async function pendingMigrations(knex: Knex): Promise<string[]> {
  const all = await new PackageMigrations().getMigrations();
  if (!(await knex.schema.hasTable(MIGRATIONS_TABLE))) return all;
  const done = new Set(((await knex(MIGRATIONS_TABLE).pluck('name')) as unknown[]).map(String));
  return all.filter((name) => !done.has(name));
}
