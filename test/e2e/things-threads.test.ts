/**
 * A `things` pass big enough to spill its per-thing calls to the SDK worker threads (past the first
 * 2,000: src/providers/aws/sdk-threads.ts), run as cron runs it: the built CLI, whose threads load
 * the built thread module beside it, against the AWS emulator. Every thing lands, with exactly one
 * DescribeThing and one GetThingShadow each, the same as on one thread; a fault on one thing after
 * the spill fails that thing alone, classified as on the pass's own thread.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CALLS_BEFORE_THREADS } from '../../src/providers/aws/sdk-threads.js';
import { startSensorFleet, type SensorFleet } from '../support/aws.js';
import { parseJson, runCli } from '../support/cli.js';

// Half again past the spill, so about a third of the calls go through the threads.
const THINGS = Math.ceil((CALLS_BEFORE_THREADS * 1.5) / 2) * 2;
const name = (i: number) => `t-${String(i).padStart(5, '0')}`;

describe('things: a pass that spills to the SDK threads', () => {
  let fleet: SensorFleet;

  beforeAll(async () => {
    // The last thing's DescribeThing always fails: it comes long after the spill (names page in order).
    fleet = await startSensorFleet(THINGS, name, { faults: [{ operation: 'DescribeThing', kind: 'thing', thing: name(THINGS - 1) }] });
  });

  afterAll(async () => {
    await fleet?.close();
  });

  it('creates every thing with one DescribeThing and one GetThingShadow each, and fails the one whose call fails', async () => {
    const { db, aws, lockDir } = fleet;
    const result = await runCli(['things', '--db', db.url, '--lock-dir', lockDir, '--json', '--max-retries', '1'], aws.env());
    const doc = parseJson(result);
    expect(result.code, result.stderr).toBe(3);
    expect(doc.summary).toMatchObject({ create: THINGS - 1, failed: 1 });
    expect(doc.failed).toEqual([{ ref: name(THINGS - 1), error: expect.stringContaining(`AWS DescribeThing (thing ${name(THINGS - 1)}) failed after 2 attempts`) }]);
    const requests = aws.emulator.stats().requests as Record<string, number>;
    expect(requests.DescribeThing).toBe(THINGS + 1);
    expect(requests.GetThingShadow).toBe(THINGS - 1);
    const rows = await db.knex()('devices').count({ n: '*' }).first();
    expect(Number(rows!.n)).toBe(THINGS - 1);
  }, 120_000);
});
