import { describe, expect, it } from 'vitest';
import { readAhead } from '../../src/providers/read-ahead.js';

/** A source that logs when each item is asked for and when it is closed. */
function source(items: readonly number[], log: string[], failAt?: number): AsyncIterable<number> {
  return {
    async *[Symbol.asyncIterator]() {
      try {
        for (const [i, item] of items.entries()) {
          log.push(`ask ${i}`);
          await Promise.resolve();
          if (i === failAt) throw new Error(`page ${i} failed`);
          yield item;
        }
      } finally {
        log.push('closed');
      }
    },
  };
}

describe('readAhead', () => {
  it('asks for the next item while the consumer works on the current one, and keeps the order', async () => {
    const log: string[] = [];
    const seen: number[] = [];
    for await (const item of readAhead(source([10, 20, 30], log))) {
      log.push(`work ${item}`);
      await new Promise((r) => setImmediate(r));
      seen.push(item);
    }
    expect(seen).toEqual([10, 20, 30]);
    // Item 1 was asked for before the work on item 0 ended: never more than one ahead.
    expect(log.slice(0, 4)).toEqual(['ask 0', 'ask 1', 'work 10', 'ask 2']);
    expect(log.filter((l) => l === 'closed')).toHaveLength(1);
  });

  it('surfaces a failure of the item asked early only when the consumer reaches it', async () => {
    const log: string[] = [];
    const seen: number[] = [];
    const run = async () => {
      for await (const item of readAhead(source([1, 2, 3], log, 1))) seen.push(item);
    };
    await expect(run()).rejects.toThrow('page 1 failed');
    expect(seen).toEqual([1]);
  });

  it('closes the source when the consumer stops early', async () => {
    const log: string[] = [];
    for await (const item of readAhead(source([1, 2, 3, 4], log))) if (item === 2) break;
    expect(log).toContain('closed');
    expect(log).not.toContain('ask 3');
  });
});
