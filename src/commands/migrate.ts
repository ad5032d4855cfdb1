import { Option, type Command } from 'commander';
import { resolveDb } from '../config.js';
import { describeDbError, openKnex } from '../store/db.js';
import { migrateLatest } from '../store/migrate.js';
import { EXIT } from '../run/exit.js';

export function registerMigrate(program: Command, run: (action: () => Promise<number>) => Promise<void>): void {
  program
    .command('migrate')
    .description('apply pending schema migrations to the portal database (every pass also does this first)')
    .option('--db <url>', 'portal database: sqlite:<path> or postgres://... (env PORTAL_SYNC_DB, then DATABASE_URL)')
    .addOption(new Option('--log-format <format>', 'errors on stderr as text or json lines').choices(['text', 'json']).default('text'))
    .option('--json', 'print {"applied": [...]} on stdout')
    .action((opts: { db?: string; json?: boolean }) =>
      run(async () => {
        const target = resolveDb(opts.db, process.env);
        const db = openKnex(target);
        try {
          const applied = await migrateLatest(db);
          if (opts.json) process.stdout.write(JSON.stringify({ database: target.display, applied }) + '\n');
          else if (applied.length === 0) process.stdout.write(`${target.display}: schema is up to date.\n`);
          else process.stdout.write(`${target.display}: applied ${applied.join(', ')}\n`);
          return EXIT.ok;
        } catch (error) {
          throw new Error(`cannot migrate ${target.display}: ${describeDbError(target, error)}`, { cause: error });
        } finally {
          await db.destroy();
        }
      }),
    );
}
