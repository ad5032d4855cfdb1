/**
 * The selector filter a receiver link carries in its source (`apache.org:selector-filter:string`),
 * as `@azure/event-hubs` writes it for an EventPosition (dist/esm/eventPosition.js):
 *
 *   amqp.annotation.x-opt-offset >= '123'            offset, inclusive ('-1': earliest, '@latest': new only)
 *   amqp.annotation.x-opt-offset > '123'             offset, exclusive
 *   amqp.annotation.x-opt-sequence-number >= '5'     sequence number, inclusive / '>' exclusive
 *   amqp.annotation.x-opt-enqueued-time > '1700000000000'   enqueued time (ms); the SDK only writes '>'
 *
 * A reconnecting SDK receiver resumes with `x-opt-sequence-number > '<last received>'`.
 */
import type { StartPosition } from './log.js';

export const SELECTOR_FILTER = 'apache.org:selector-filter:string';

const PATTERN = /^\s*amqp\.annotation\.(x-opt-offset|x-opt-sequence-number|x-opt-enqueued-time)\s*(>=|>)\s*'([^']*)'\s*$/;

export class FilterError extends Error {
  override name = 'FilterError';
}

/** The start position of a selector expression. Throws {@link FilterError}. */
export function parseSelector(expression: string): StartPosition {
  const m = PATTERN.exec(expression);
  if (!m) throw new FilterError(`The selector filter "${expression}" is not supported (expected an offset, sequence number or enqueued time comparison)`);
  const inclusive = m[2] === '>=';
  const value = m[3]!;
  switch (m[1]) {
    case 'x-opt-offset':
      if (value !== '@latest' && !/^-?\d+$/.test(value)) throw new FilterError(`The offset '${value}' is not valid`);
      return { kind: 'offset', value, inclusive };
    case 'x-opt-sequence-number':
      if (!/^-?\d+$/.test(value)) throw new FilterError(`The sequence number '${value}' is not valid`);
      return { kind: 'sequenceNumber', value: Number(value), inclusive };
    default:
      if (!/^-?\d+$/.test(value)) throw new FilterError(`The enqueued time '${value}' is not valid (expected epoch milliseconds)`);
      return { kind: 'enqueuedTime', value: Number(value), inclusive };
  }
}

/** The link source's filter map as rhea decodes it: the selector is the described string. */
export function selectorOf(filter: unknown): string | undefined {
  if (filter === null || typeof filter !== 'object') return undefined;
  const v = (filter as Record<string, unknown>)[SELECTOR_FILTER];
  if (typeof v === 'string') return v;
  // A described value rhea left wrapped: { descriptor, value }.
  if (v !== null && typeof v === 'object' && typeof (v as { value?: unknown }).value === 'string') return (v as { value: string }).value;
  return undefined;
}
