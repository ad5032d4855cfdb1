/** The emulated Azure IoT Hub (service-side query API). See server.ts and fixture.ts. */
export { startIotHubEmulator, type IotHubEmulator, type IotHubEmulatorOptions, type IotHubEmulatorStats } from './server.js';
export {
  loadFixture,
  parseFixture,
  normalizeFixture,
  FixtureError,
  DEFAULT_HOST_NAME,
  DEFAULT_KEY_NAME,
  DEFAULT_SHARED_ACCESS_KEY,
  type Fixture,
  type FixtureInput,
  type FaultSpec,
  type FaultOperation,
  type DeviceModel,
  type EdgeDeviceModel,
  type DeviceTwin,
  type ModuleTwin,
  type TwinProperties,
  type TwinCollection,
} from './fixture.js';
export { generateFleet, parseGenerateSpec, type GenerateSpec } from './generate.js';
export { parseQuery, executeQuery, QuerySyntaxError, type ParsedQuery, type QuerySource, type Condition, type Selection, type Collection } from './query.js';
