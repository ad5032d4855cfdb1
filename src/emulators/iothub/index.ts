/** The emulated Azure IoT Hub (service-side query, twin and configurations API). See server.ts, fixture.ts and quota.ts. */
export { startIotHubEmulator, type IotHubEmulator, type IotHubEmulatorOptions, type IotHubEmulatorStats } from './server.js';
export {
  loadFixture,
  parseFixture,
  normalizeFixture,
  FixtureError,
  DEFAULT_HOST_NAME,
  DEFAULT_KEY_NAME,
  DEFAULT_SHARED_ACCESS_KEY,
  MAX_EDGE_DEPLOYMENTS,
  MAX_DEVICE_CONFIGURATIONS,
  isDeployment,
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
  type HubConfiguration,
  type ConfigurationContentSection,
  type ConfigurationMetricsSection,
} from './fixture.js';
export { generateFleet, parseGenerateSpec, loraDeviceIds, type GenerateSpec } from './generate.js';
export { parseQuery, executeQuery, QuerySyntaxError, type ParsedQuery, type QuerySource, type Condition, type Selection, type Collection } from './query.js';
export {
  parseRate,
  parseQuotaOption,
  checkQuotaSpec,
  SlidingWindow,
  QuotaError,
  QUOTA_CLASSES,
  type QuotaClass,
  type QuotaSpec,
  type QuotaState,
  type Rate,
} from './quota.js';
export { EmulatedClock, parseTimeScale, TimeScaleError, type RealClock } from './clock.js';
