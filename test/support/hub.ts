/** An emulated IoT Hub over a fixture file that a test rewrites between passes. */
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startIotHubEmulator, type FixtureInput, type IotHubEmulator } from '../../src/emulators/iothub/index.js';

export interface TestHub {
  readonly emulator: IotHubEmulator;
  readonly fixturePath: string;
  readonly dir: string;
  env(): Record<string, string>;
  write(fixture: FixtureInput): void;
  close(): Promise<void>;
}

export async function startTestHub(fixture: FixtureInput): Promise<TestHub> {
  const dir = mkdtempSync(join(tmpdir(), 'portal-sync-hub-'));
  const fixturePath = join(dir, 'fleet.json');
  let mtime = Math.floor(Date.now() / 1000);
  const write = (f: FixtureInput) => {
    writeFileSync(fixturePath, JSON.stringify(f, null, 2));
    // A distinct mtime on every write, so the emulator sees the change even within one clock tick.
    mtime += 2;
    utimesSync(fixturePath, mtime, mtime);
  };
  write(fixture);
  const emulator = await startIotHubEmulator({ fixturePath });
  return {
    emulator,
    fixturePath,
    dir,
    env: () => emulator.env(),
    write,
    async close() {
      await emulator.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
