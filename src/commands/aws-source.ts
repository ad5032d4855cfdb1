import type { AwsConfig } from '../config.js';
import { AwsIot } from '../providers/aws/client.js';
import type { ApiCallCounter } from '../providers/errors.js';
import type { CurrentRecord } from '../reconcile/index.js';
import type { Logger } from '../run/log.js';

/**
 * The AWS client every AWS inventory uses: one per pass, counting its calls into the pass's counter,
 * so its caches (thing types, edge verdicts, thing groups) and its pacing last exactly one pass.
 */
export function awsClient(aws: AwsConfig, calls: ApiCallCounter, log: Logger): AwsIot {
  return new AwsIot(aws, calls, log);
}

/** A stored model's name (its thing type's, or its deployment's), shown beside its opaque id; or null. */
export function nameField(record: CurrentRecord | undefined): string | null {
  const name = record?.fields.name;
  return typeof name === 'string' ? name : null;
}
