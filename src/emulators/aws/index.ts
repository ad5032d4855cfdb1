/** The emulated AWS IoT Core, IoT data plane and Greengrass V2. See server.ts, fixture.ts, faults.ts and quota.ts. */
export { startAwsEmulator, type AwsEmulator, type AwsEmulatorOptions, type AwsEmulatorStats } from './server.js';
export {
  loadAwsFixture,
  normalizeAwsFixture,
  awsSection,
  derivedId,
  derivedUuid,
  DEFAULT_REGION,
  DEFAULT_ACCOUNT_ID,
  DEFAULT_ACCESS_KEY_ID,
  DEFAULT_SECRET_ACCESS_KEY,
  type AwsFixture,
  type AwsFixtureInput,
  type FixtureWithAws,
  type AwsThing,
  type AwsThingType,
  type AwsThingGroup,
  type AwsCoreDevice,
  type AwsDeployment,
} from './fixture.js';
export { type AwsFault, type AwsFaultKind } from './faults.js';
export { PUBLISHED_QUOTA, parseAwsQuotaOption, checkAwsQuotaSpec, isAwsQuotaItem, type AwsQuotaSpec } from './quota.js';
export { OPERATIONS, OPERATION_NAMES, type AwsOperation, type AwsService } from './operations.js';
export { DELETE_AFTER_DEPRECATION_MS } from './iot.js';
export type { AwsStateSnapshot, AwsStateCounts } from './state.js';
export { generateAwsFleet, parseAwsGenerateSpec, splitGenerateSpec, completeSpec, GenerateSpecError, AWS_GENERATE_KEYS, type AwsGenerateSpec } from './generate.js';
export { seedModelsOf, edgeTag, type SeedModels } from './models.js';
