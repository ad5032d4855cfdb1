import { ProviderError } from '../errors.js';

/** The fleet index of an account's things (AWS IoT fleet indexing). */
export const THING_INDEX = 'AWS_Things';

/**
 * What SearchIndex answers when the index cannot serve a query, whatever is asked of it next:
 * thing indexing off (the index does not exist: ResourceNotFoundException), a field the index does
 * not hold, such as `connectivity.*` without thing connectivity indexing (InvalidQueryException),
 * or an index still being built (IndexNotReadyException).
 */
export const FLEET_INDEX_UNAVAILABLE_ERRORS: ReadonlySet<string> = new Set(['ResourceNotFoundException', 'InvalidQueryException', 'IndexNotReadyException']);

/**
 * The fleet index cannot answer: a fact about the account's configuration, not a failed call (not
 * retried). `code` says which of the three answers it was, so a reader can say how to enable it.
 */
export class FleetIndexUnavailable extends ProviderError {
  constructor(
    readonly code: string,
    message: string,
    status?: number,
  ) {
    super('aws', 'bad-request', message, status);
    this.name = 'FleetIndexUnavailable';
  }
}
