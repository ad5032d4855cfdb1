import { hostname } from 'node:os';
import { createHash } from 'node:crypto';
import { parseEventHubConnectionString } from '@azure/event-hubs';
import { ConfigError, UsageError, type Env } from '../../config.js';
import { DEFAULT_CONSUMER_GROUP } from './consumer-group.js';

export type StartPosition = 'earliest' | 'latest';

/** The Event Hubs side of `telemetry`: where to read and how. The connection string is a secret: only `describe()` is printable. */
export interface EventHubConfig {
  readonly connectionString: string;
  readonly eventHubName: string;
  /** The namespace's host, as the Endpoint names it (never the key). */
  readonly host: string;
  readonly consumerGroup: string;
  readonly start: StartPosition;
  readonly maxEvents: number | null;
  readonly maxSeconds: number | null;
  readonly batchSize: number;
  readonly maxRetries: number;
}

export interface EventHubOptions {
  eventhubName?: string;
  consumerGroup?: string;
  start?: string;
  maxEvents?: string;
  maxSeconds?: string;
  batchSize?: string;
  maxRetries?: string;
}

const wholeNumber = (option: string, text: string | undefined, min: number, max: number): number | null => {
  if (text === undefined) return null;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${option} must be a whole number from ${min} to ${max}`);
  return n;
};

export function resolveEventHubConfig(opts: EventHubOptions, env: Env): EventHubConfig {
  const connectionString = env.EVENTHUB_CONNECTION_STRING;
  if (!connectionString) throw new ConfigError("EVENTHUB_CONNECTION_STRING is not set (the IoT Hub's Event Hubs-compatible endpoint, from Built-in endpoints)");
  let parsed: ReturnType<typeof parseEventHubConnectionString>;
  try {
    parsed = parseEventHubConnectionString(connectionString);
  } catch (error) {
    // The SDK's message names the missing part; it never quotes the string.
    throw new ConfigError(`EVENTHUB_CONNECTION_STRING is not a valid Event Hubs connection string: ${(error as Error).message}`);
  }
  const eventHubName = opts.eventhubName ?? parsed.eventHubName;
  if (!eventHubName) throw new ConfigError('EVENTHUB_CONNECTION_STRING has no EntityPath: give the Event Hub-compatible name with --eventhub-name');
  if (opts.eventhubName !== undefined && parsed.eventHubName !== undefined && parsed.eventHubName !== opts.eventhubName) {
    throw new UsageError(`--eventhub-name ${opts.eventhubName} differs from the EntityPath of EVENTHUB_CONNECTION_STRING`);
  }
  const start = opts.start ?? 'earliest';
  if (start !== 'earliest' && start !== 'latest') throw new UsageError('--start must be earliest or latest');
  const consumerGroup = opts.consumerGroup ?? DEFAULT_CONSUMER_GROUP;
  if (consumerGroup.trim() === '') throw new UsageError('--consumer-group must not be empty');
  return {
    connectionString,
    eventHubName,
    host: parsed.fullyQualifiedNamespace,
    consumerGroup,
    start,
    maxEvents: wholeNumber('--max-events', opts.maxEvents, 1, Number.MAX_SAFE_INTEGER),
    maxSeconds: wholeNumber('--max-seconds', opts.maxSeconds, 1, 86_400),
    batchSize: wholeNumber('--batch-size', opts.batchSize, 1, 5000) ?? 2500,
    maxRetries: wholeNumber('--max-retries', opts.maxRetries, 0, 20) ?? 3,
  };
}

/**
 * The run's owner id in the ownership table: stable for one host and one lock, so a run that
 * resumes after its predecessor was killed takes its partitions back at once, while runs under
 * different locks (other hosts, other lock folders) are different owners and never share a partition.
 */
export function ownerIdOf(lockScope: string): string {
  const digest = createHash('sha256').update(lockScope).digest('hex').slice(0, 12);
  return `portal-sync@${hostname()}#${digest}`;
}
