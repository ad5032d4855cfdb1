/**
 * A `things` pass big enough to spill its per-thing calls to the SDK worker threads (past the first
 * 2,000: src/providers/aws/sdk-threads.ts), run as cron runs it: the built CLI, whose threads load
 * the built thread module beside it, against the AWS emulator. Every thing lands, with exactly one
 * DescribeThing and one GetThingShadow each, the same as on one thread; a fault on one thing after
 * the spill fails that thing alone, classified as on the pass's own thread.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CALLS_BEFORE_THREADS } from '../../src/providers/aws/sdk-threads.js';
import { migrateLatest } from '../../src/store/migrate.js';
import { startTestAws, type TestAws } from '../support/aws.js';
import { createTestDatabase, type TestDatabase } from '../support/backends.js';
import { parseJson, runCli } from '../support/cli.js';

// Half again past the spill, so about a third of the calls go through the threads.
const THINGS = Math.ceil((CALLS_BEFORE_THREADS * 1.5) / 2) * 2;
const name = (i: number) => `t-${String(i).padStart(5, '0')}`;

describe('things: a pass that spills to the SDK threads', () => {
  let db: TestDatabase;
  let aws: TestAws;
  let lockDir: string;

  beforeAll(async () => {
    db = await createTestDatabase('sqlite');
    const k = db.knex();
    await migrateLatest(k);
    await k('device_models').insert({ id: 'dm-sensor', name: 'sensor', support_lora_features: false });
    const things = Array.from({ length: THINGS }, (_, i) => ({ name: name(i), id: `id-${name(i)}`, type: 'sensor', version: 1, shadow: true }));
    // The last thing's DescribeThing always fails: it comes long after the spill (names page in order).
    aws = await startTestAws({
      thingTypes: [{ name: 'sensor', id: 'tt-sensor', tags: { iotEdge: 'false' } }],
      things,
      faults: [{ operation: 'DescribeThing', kind: 'thing', thing: name(THINGS - 1) }],
    });
    lockDir = mkdtempSync(join(tmpdir(), 'portal-sync-locks-'));
  });

  afterAll(async () => {
    await aws?.close();
    await db?.drop();
    rmSync(lockDir, { recursive: true, force: true });
  });

  it('creates every thing with one DescribeThing and one GetThingShadow each, and fails the one whose call fails', async () => {
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
