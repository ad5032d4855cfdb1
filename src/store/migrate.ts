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
function migrationsDir(): string {
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
      .filter((f) => f.endsWith('.cjs'))
      .sort();
  }
  getMigrationName(name: string): string {
    return name;
  }
  async getMigration(name: string): Promise<Knex.Migration> {
    return require(join(this.dir, name)) as MigrationModule;
  }
}

const config: Knex.MigratorConfig = {
  migrationSource: new PackageMigrations(),
  tableName: 'portal_sync_migrations',
};

/** Applies pending migrations; returns the names applied now. */
export async function migrateLatest(knex: Knex): Promise<string[]> {
  const [, applied] = (await knex.migrate.latest(config)) as [number, string[]];
  return applied;
}

export async function pendingMigrations(knex: Knex): Promise<string[]> {
  const [, pending] = (await knex.migrate.list(config)) as [unknown, Array<{ file: string } | string>];
  return pending.map((p) => (typeof p === 'string' ? p : p.file));
}
