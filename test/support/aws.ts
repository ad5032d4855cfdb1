/**
 * An emulated AWS (IoT, IoT data plane, Greengrass V2) over a fixture file that a test rewrites
 * between passes, and the SDK clients pointed at it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emulatorOnFile } from './fixture-file.js';
import { GreengrassV2Client } from '@aws-sdk/client-greengrassv2';
import { IoTClient } from '@aws-sdk/client-iot';
import { IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import { startAwsEmulator, type AwsEmulator, type AwsEmulatorOptions, type AwsFixtureInput } from '../../src/emulators/aws/index.js';
import { migrateLatest } from '../../src/store/migrate.js';
import { createTestDatabase, type TestDatabase } from './backends.js';

export interface TestAws {
  readonly emulator: AwsEmulator;
  readonly fixturePath: string;
  readonly dir: string;
  /** AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL_IOT / _IOT_DATA_PLANE / _GREENGRASSV2 (never IoT Hub's). */
  env(): Record<string, string>;
  /** Writes the `aws` section (a whole fleet when it has an `aws` key) with a new mtime. */
  write(fixture: AwsFixtureInput): void;
  close(): Promise<void>;
}

/** `fixture`: the `aws` section, or a whole fleet file holding one. */
export async function startTestAws(fixture: AwsFixtureInput, options: Omit<AwsEmulatorOptions, 'fixture' | 'fixturePath'> = {}): Promise<TestAws> {
  const running = await emulatorOnFile('aws', 'aws', fixture, (fixturePath) => startAwsEmulator({ ...options, fixturePath }));
  return { ...running, env: () => running.emulator.env() };
}

export interface AwsClients {
  iot: IoTClient;
  data: IoTDataPlaneClient;
  greengrass: GreengrassV2Client;
}

/** The real SDK clients, configured from an emulator's env (no retries unless asked: a test sees each answer). */
export function awsClients(env: Record<string, string>, overrides: { accessKeyId?: string; maxAttempts?: number } = {}): AwsClients {
  const config = {
    region: env['AWS_REGION']!,
    credentials: { accessKeyId: overrides.accessKeyId ?? env['AWS_ACCESS_KEY_ID']!, secretAccessKey: env['AWS_SECRET_ACCESS_KEY']! },
    maxAttempts: overrides.maxAttempts ?? 1,
  };
  return {
    iot: new IoTClient({ ...config, endpoint: env['AWS_ENDPOINT_URL_IOT']! }),
    data: new IoTDataPlaneClient({ ...config, endpoint: env['AWS_ENDPOINT_URL_IOT_DATA_PLANE']! }),
    greengrass: new GreengrassV2Client({ ...config, endpoint: env['AWS_ENDPOINT_URL_GREENGRASSV2']! }),
  };
}

/** A SQLite portal with the `sensor` device model, and an emulated AWS holding standard things of that type. */
export interface SensorFleet {
  readonly db: TestDatabase;
  readonly aws: TestAws;
  /** The lock folder of the passes. */
  readonly lockDir: string;
  close(): Promise<void>;
}

/**
 * What a big `things` pass through the CLI needs: `count` things named by `name`, each with a
 * classic shadow, of a non-edge type the portal knows; the emulator's faults and options as given.
 */
export async function startSensorFleet(
  count: number,
  name: (i: number) => string,
  extra: { faults?: unknown[] } = {},
  options: Omit<AwsEmulatorOptions, 'fixture' | 'fixturePath'> = {},
): Promise<SensorFleet> {
  const db = await createTestDatabase('sqlite');
  const k = db.knex();
  await migrateLatest(k);
  await k('device_models').insert({ id: 'dm-sensor', name: 'sensor', support_lora_features: false });
  const things = Array.from({ length: count }, (_, i) => ({ name: name(i), id: `id-${name(i)}`, type: 'sensor', version: 1, shadow: true }));
  const aws = await startTestAws({ thingTypes: [{ name: 'sensor', id: 'tt-sensor', tags: { iotEdge: 'false' } }], things, ...extra } as AwsFixtureInput, options);
  const lockDir = mkdtempSync(join(tmpdir(), 'portal-sync-locks-'));
  return {
    db,
    aws,
    lockDir,
    async close() {
      await aws.close();
      await db.drop();
      rmSync(lockDir, { recursive: true, force: true });
    },
  };
}
