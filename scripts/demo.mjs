// `npm run demo`: the main job on the embedded default. Starts the emulated IoT Hub with the sample
// fleet, seeds its device models into a fresh SQLite file, and runs `devices` twice: the first pass
// creates the fleet, the second shows "No changes".
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { startIotHubEmulator } = await import(join(root, 'dist/src/emulators/iothub/index.js'));

const dbFile = join(root, '.portal-sync', 'demo.db');
mkdirSync(dirname(dbFile), { recursive: true });
for (const suffix of ['', '-wal', '-shm']) rmSync(dbFile + suffix, { force: true });
const db = `sqlite:${dbFile}`;

const emulator = await startIotHubEmulator({ fixturePath: join(root, 'examples', 'fleet.json') });
const cli = join(root, 'bin', 'portal-sync');
const env = { ...process.env, ...emulator.env(), PORTAL_SYNC_LOCK_DIR: join(root, '.portal-sync', 'locks') };
const run = (title, args) => {
  console.log(`\n$ portal-sync ${args.join(' ')}    # ${title}`);
  // Asynchronous on purpose: the emulator serves from this process's event loop.
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { env, stdio: 'inherit' });
    child.on('exit', (code) => {
      console.log(`(exit ${code})`);
      resolve(code);
    });
  });
};

let failed = false;
try {
  console.log(`Emulated IoT Hub on ${emulator.url}; portal database ${db}`);
  failed ||= (await run('create the portal schema', ['migrate', '--db', db])) !== 0;
  const { openKnex, parseDbUrl } = await import(join(root, 'dist/src/store/db.js'));
  const { upsertDeviceModels } = await import(join(root, 'dist/src/store/models.js'));
  const knex = openKnex(parseDbUrl(db));
  await upsertDeviceModels(knex, emulator.fixture().deviceModels.map((m) => ({ ...m, description: m.description ?? null, supportLoRaFeatures: !!m.supportLoRaFeatures })));
  await knex.destroy();
  console.log(`Seeded ${emulator.fixture().deviceModels.length} device models, as the portal's UI would have created them.`);
  failed ||= (await run('first pass: creates the fleet', ['devices', '--db', db])) !== 0;
  failed ||= (await run('second pass: nothing changed remotely', ['devices', '--db', db])) !== 0;
  failed ||= (await run('what was recorded', ['history', '--db', db])) !== 0;
} finally {
  await emulator.close();
}
process.exitCode = failed ? 1 : 0;
