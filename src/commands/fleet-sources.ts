import type { Knex } from 'knex';
import { parseConnectionString } from '../providers/iothub/sas.js';
import { resolveAwsConfig, resolveIotHubConfig, type Env } from '../config.js';
import type { AwsIot } from '../providers/aws/client.js';
import type { ApiCallCounter } from '../providers/errors.js';
import { measureEach, mergeReadings, type FleetReadings } from '../run/fleet-gauges.js';
import type { Logger } from '../run/log.js';
import type { FleetProvider } from '../store/fleet-counts.js';
import { awsClient } from './aws-source.js';
import { awsFleetSource } from './fleet-aws.js';
import { azureFleetSource } from './fleet-azure.js';
import { concentratorMeasurement, dbFleetReadings } from './fleet-db.js';
import { iothubClient } from './iothub-source.js';
import type { MetricsPushOptions, MetricsSource } from './metrics-push.js';

/** Where one run's gauges come from, and the stable label of the fleet they describe. */
export interface FleetSource {
  /** Every gauge the source measures, concentrators (from the portal database) included. */
  measure(db: Knex, calls: ApiCallCounter, log: Logger): Promise<FleetReadings>;
  /** The Pushgateway `instance` label: given, derived from the configuration, or (AWS) from what measure() read; null when none. */
  instance(): string | null;
  /** True when instance() may only be known after measure(). */
  readonly labelAfterMeasure: boolean;
}

/** The hub's host name from IOTHUB_CONNECTION_STRING, when set and well formed; never the key. */
function hubHostName(env: Env): string | null {
  const connectionString = env.IOTHUB_CONNECTION_STRING;
  if (!connectionString) return null;
  try {
    return parseConnectionString(connectionString).hostName;
  } catch {
    return null;
  }
}

export function fleetSourceOf(provider: FleetProvider, source: MetricsSource, opts: MetricsPushOptions, env: Env, label: string | null): FleetSource {
  if (source === 'db') {
    // No API call: the label is given, or the hub's name read from the connection string (Azure).
    const instance = label ?? (provider === 'azure' ? hubHostName(env) : null);
    return { measure: (db) => dbFleetReadings(db, provider), instance: () => instance, labelAfterMeasure: false };
  }
  if (provider === 'aws') {
    const aws = resolveAwsConfig(opts, env);
    let client: AwsIot | null = null;
    return {
      async measure(db, calls, log) {
        client = awsClient(aws, calls, log);
        return mergeReadings(await awsFleetSource(client), await measureEach([concentratorMeasurement(db)]));
      },
      instance: () => label ?? client?.accountAndRegion() ?? null,
      labelAfterMeasure: label === null,
    };
  }
  const iothub = resolveIotHubConfig(opts, env);
  return {
    async measure(db, calls, log) {
      return mergeReadings(await azureFleetSource(iothubClient(iothub, calls, log)), await measureEach([concentratorMeasurement(db)]));
    },
    instance: () => label ?? iothub.credentials.hostName,
    labelAfterMeasure: false,
  };
}
