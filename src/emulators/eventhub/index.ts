/** The emulated Event Hubs endpoint of IoT Hub (AMQP 1.0). See server.ts, amqp.ts, fixture.ts, faults.ts and generate.ts. */
export { startEventHubEmulator, type EventHubEmulator, type EventHubEmulatorOptions } from './server.js';
export {
  normalizeEventHubFixture,
  loadEventHubFixture,
  eventHubSection,
  DEFAULT_HUB_NAME,
  DEFAULT_PARTITIONS,
  DEFAULT_CONSUMER_GROUPS,
  DEFAULT_KEY_NAME,
  DEFAULT_KEY,
  type EventHubFixtureInput,
  type EventHubEventInput,
  type EventHubFixture,
  type EventList,
  type HubEvent,
} from './fixture.js';
export { type EventHubFaults } from './faults.js';
export { type EventHubEmulatorStats } from './stats.js';
export { generateEvents, parseEventHubGenerateSpec, splitEventHubSpec, EVENTHUB_GENERATE_KEYS, type EventHubGenerateSpec } from './generate.js';
export { partitionForKey } from './partitioner.js';
