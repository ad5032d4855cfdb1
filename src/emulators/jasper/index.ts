/** The emulated Cisco Control Center (Jasper) devices API. See server.ts, fixture.ts, faults.ts, state.ts and generate.ts. */
export {
  startJasperEmulator,
  oneYearBefore,
  DEFAULT_PAGE_SIZE,
  MAX_PAGE_SIZE,
  DEVICES_PATH,
  ERROR_CODES,
  type JasperEmulator,
  type JasperEmulatorOptions,
  type JasperEmulatorStats,
  type JasperProviderStats,
  type JasperProviderInfo,
} from './server.js';
export {
  loadJasperFixture,
  normalizeJasperFixture,
  jasperSection,
  parseIsoWithZone,
  apiKeyVariable,
  defaultApiKey,
  DEFAULT_USERNAME,
  type JasperDevice,
  type JasperProvider,
  type JasperFixture,
  type JasperFixtureInput,
  type FixtureWithJasper,
} from './fixture.js';
export { FAULT_KINDS, FLAWS, type JasperFault, type JasperFaultKind, type JasperFlaw } from './faults.js';
export type { ServedDevice, StoredDevice, JasperPage } from './state.js';
export {
  generateJasper,
  parseJasperGenerateSpec,
  splitJasperSpec,
  seedJasperProviders,
  JASPER_GENERATE_KEYS,
  ICCID_PREFIX,
  STATUSES,
  RATE_PLANS,
  COMMUNICATION_PLANS,
  SPREAD_DAYS,
  type JasperGenerateSpec,
  type GeneratedJasper,
  type GeneratedProvider,
  type GeneratedDevice,
  type SeedProvider,
} from './generate.js';
