/** The emulated Navixy data-forwarding service. See server.ts, fixture.ts, faults.ts and generate.ts. */
export { startForwarderEmulator, DEFAULT_LIMIT, MAX_LIMIT, type ForwarderEmulator, type ForwarderEmulatorOptions, type ForwarderEmulatorStats } from './server.js';
export {
  loadForwarderFixture,
  normalizeForwarderFixture,
  forwarderSection,
  sha256Hex,
  connectionId,
  DEFAULT_FORWARDER_TOKEN,
  DEFAULT_CREATED_AT,
  CONNECTION_STATUSES,
  ACTIVE_STATUSES,
  type ConnectionStatus,
  type ForwarderConnection,
  type ForwarderCustomer,
  type ForwarderFixture,
  type ForwarderFixtureInput,
  type FixtureWithForwarder,
} from './fixture.js';
export { OPERATIONS, FAULT_KINDS, type ForwarderFault, type ForwarderFaultKind, type ForwarderOperation } from './faults.js';
export type { ForwarderStateCounts } from './state.js';
export {
  generateForwarder,
  parseForwarderGenerateSpec,
  splitForwarderSpec,
  seedCustomers,
  isEligible,
  isNavixy,
  customerState,
  customerReference,
  FORWARDER_GENERATE_KEYS,
  DEFAULT_DRIFT,
  AWKWARD_EVERY,
  type ForwarderGenerateSpec,
  type GeneratedForwarder,
  type GeneratedConnection,
  type ForwarderDrift,
} from './generate.js';
