/**
 * Opens the portal database for a command that works on what passes wrote (`history`, `prune`).
 * Such a command never creates a file, a folder or a schema: a typo in `--db` must say so, not
 * answer "No runs recorded yet." from a database it just made.
 */
import type { Knex } from 'knex';
import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConfigError } from '../config.js';
import { copyableDbUrl, describeDbError, openKnex, type DbTarget } from '../store/db.js';
import { pendingMigrations } from '../store/migrate.js';
import { errorCode } from '../run/errors.js';

const RUN_LOG_TABLES = ['sync_runs', 'sync_events'];

/** `read`: SQLite is opened read-only. `write`: rows may change, but nothing is created. */
export async function openExistingStore(target: DbTarget, access: 'read' | 'write'): Promise<Knex> {
  const migrate = `portal-sync migrate --db ${copyableDbUrl(target)}`;
  if (target.client === 'sqlite' && target.filename !== ':memory:') checkSqliteFile(target, migrate);
  const db = openKnex(target, { createFolder: false, readOnly: access === 'read' });
  try {
    await checkSchema(db, target, migrate);
    return db;
  } catch (error) {
    await db.destroy();
    throw error;
  }
}

function checkSqliteFile(target: DbTarget, migrate: string): void {
  const file = target.filename!;
  let isFile: boolean;
  try {
    isFile = statSync(file).isFile();
  } catch (error) {
    const code = errorCode(error);
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw error;
    const folder = dirname(file);
    const where = folderExists(folder) ? (target.display === `sqlite:${file}` ? '' : ` (${file})`) : ` (nor does its folder ${folder})`;
    throw new ConfigError(`${target.display} does not exist${where}: to create it, run \`${migrate}\``);
  }
  if (!isFile) throw new ConfigError(`${target.display} is a folder, not a database file`);
}

function folderExists(folder: string): boolean {
  try {
    return statSync(folder).isDirectory();
  } catch {
    return false;
  }
}

async function checkSchema(db: Knex, target: DbTarget, migrate: string): Promise<void> {
  let state: { hasRunLog: boolean; pending: string[] };
  try {
    state = await schemaState(db);
  } catch (error) {
    // The driver's error stays the cause: the one exit mapping reads it (unreachable 69, wrong role 78).
    throw new Error(`cannot open ${target.display}: ${describeDbError(target, error)}`, { cause: error });
  }
  if (!state.hasRunLog) throw new ConfigError(`${target.display} has no portal-sync schema: run \`${migrate}\``);
  if (state.pending.length > 0) {
    throw new ConfigError(`${target.display} has migrations to apply (${state.pending.join(', ')}): run \`${migrate}\` first`);
  }
}

/** Read-only, unlike knex's own migration listing (it creates its bookkeeping table). */
async function schemaState(db: Knex): Promise<{ hasRunLog: boolean; pending: string[] }> {
  for (const table of RUN_LOG_TABLES) if (!(await db.schema.hasTable(table))) return { hasRunLog: false, pending: [] };
  return { hasRunLog: true, pending: await pendingMigrations(db) };
}
