/**
 * A first `things` pass against the AWS emulator metering DescribeThing per second, as AWS does, with
 * no --rate: the pass learns the rate from the first 429s and stays under it. The pacer once halved
 * and crept straight back to the rate that was throttled (unpaced again), so every other second
 * brought a burst of 429s; now and then one thing met six in a row and failed past --max-retries.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSensorFleet, type SensorFleet } from '../support/aws.js';
import { parseJson, runCli } from '../support/cli.js';

const THINGS = 1_200;
const DESCRIBE_THING_PER_S = 200;
const name = (i: number) => `q-${String(i).padStart(5, '0')}`;

describe('things under a per-second DescribeThing rate', () => {
  let fleet: SensorFleet;

  beforeAll(async () => {
    fleet = await startSensorFleet(THINGS, name, {}, { quota: { DescribeThing: `${DESCRIBE_THING_PER_S}/s` } });
  });

  afterAll(async () => {
    await fleet?.close();
  });

  it('creates every thing, throttled by the first burst and by its probes only', async () => {
    const { db, aws, lockDir } = fleet;
    const result = await runCli(['things', '--db', db.url, '--lock-dir', lockDir, '--json'], aws.env());
    const doc = parseJson(result);
    expect(result.code, result.stderr).toBe(0);
    expect(doc.summary).toMatchObject({ create: THINGS, failed: 0 });
    const stats = aws.emulator.stats();
    const throttled = (stats.throttledOperations as Record<string, number>).DescribeThing ?? 0;
    expect(doc.quota.throttledRequests).toBe(throttled);
    // At least the first burst met the rate; at most a few 429s a second of the pass (6 s at the
    // rate): halving and creeping back got about 12 a second.
    expect(throttled).toBeGreaterThan(0);
    expect(throttled).toBeLessThanOrEqual(THINGS / DESCRIBE_THING_PER_S * 3);
    expect((stats.requests as Record<string, number>).DescribeThing).toBe(THINGS + throttled);
  }, 120_000);
});
