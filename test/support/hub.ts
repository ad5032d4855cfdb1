/** An emulated IoT Hub over a fixture file that a test rewrites between passes. */
import { fixtureFile } from './fixture-file.js';
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
  const file = fixtureFile<FixtureInput>('hub');
  const { dir, path: fixturePath, write } = file;
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
      file.remove();
    },
  };
}
