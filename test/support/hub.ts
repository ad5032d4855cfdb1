/** An emulated IoT Hub over a fixture file that a test rewrites between passes. */
import { emulatorOnFile } from './fixture-file.js';
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
  const running = await emulatorOnFile('hub', undefined, fixture, (fixturePath) => startIotHubEmulator({ fixturePath }));
  return { ...running, env: () => running.emulator.env() };
}
