/**
 * The `things` pass over a generated AWS account: 50,000 things (10% Greengrass core devices)
 * across 20 thing types, the portal's models seeded as `thing-types` and `greengrass` would have
 * written them. Pass 1: all new; pass 2: no change; pass 3: churn (1% version bumps, 1% deleted,
 * 1% new). Targets (issue 10): pass 1 <= 30 s, no-change pass <= 8 s, peak RSS <= 300 MB; at steady
 * state the calls are the listing pages plus a constant per thing type, with zero DescribeThing and
 * zero GetThingShadow. The emulator answers from this process; the CLI runs as its own process.
 */
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateAwsFleet, seedModelsOf, startAwsEmulator, type AwsFixture } from '../src/emulators/aws/index.js';
import { migrateLatest } from '../src/store/migrate.js';
import { upsertDeviceModels, upsertEdgeDeviceModels } from '../src/store/models.js';
import { acrossBackends, figures, runPass, scratchDatabase, scratchDir, type Check, type PassFigures, withDatabase } from './support.js';

const THINGS = Number(process.env.BENCH_THINGS ?? 50_000);
const EDGE = Math.round(THINGS / 10);
const TYPES = 20;
const LIST_PAGE = 250;
const CORE_PAGE = 100;
/** Per type and pass: DescribeThingType and ListTagsForResource (its edge verdict), one each. */
const CALLS_PER_TYPE = 2;

type Thing = Record<string, unknown> & { name: string; version: number; type: string; shadow?: boolean };
type Fleet = Record<string, unknown> & { things: Thing[]; coreDevices: Array<Record<string, unknown>> };

/** 1% version bumps (changed attribute), 1% deleted, 1% new things (as many edge as standard share). */
function churn(fleet: Fleet): { bumped: Thing[]; added: Thing[] } {
  const bumped: Thing[] = [];
  const kept: Thing[] = [];
  fleet.things.forEach((t, i) => {
    if (i % 100 === 0) {
      t.version += 1;
      t.attributes = { ...(t.attributes as object), floor: `changed-${i}` };
      bumped.push(t);
    }
    if (i % 100 !== 1) kept.push(t);
  });
  const added: Thing[] = [];
  const templates = fleet.things.filter((_, i) => i % 100 === 2);
  templates.forEach((template, j) => {
    const name = `new-${String(j + 1).padStart(6, '0')}`;
    const t: Thing = { ...template, name, version: 1 };
    added.push(t);
    if (template.shadow !== true) fleet.coreDevices.push({ thingName: name, status: 'HEALTHY' });
  });
  fleet.things = [...kept, ...added];
  return { bumped, added };
}

/** Per-thing calls of a set of things: DescribeThing each, GetThingShadow for the standard ones. */
const perThing = (things: readonly Thing[]) => things.length + things.filter((t) => t.shadow === true).length;
const pages = (n: number, size: number) => Math.max(1, Math.ceil(n / size));

async function seed(dbUrl: string, fixture: AwsFixture): Promise<void> {
  await withDatabase(dbUrl, async (knex) => {
    await migrateLatest(knex);
    const models = seedModelsOf(fixture);
    await upsertDeviceModels(knex, models.deviceModels);
    await upsertEdgeDeviceModels(knex, models.edgeDeviceModels);
  });
}

async function benchBackend(backend: string): Promise<PassFigures[]> {
  const db = await scratchDatabase(backend);
  const locks = scratchDir();
  const dir = mkdtempSync(join(tmpdir(), 'portal-sync-bench-aws-'));
  const fixturePath = join(dir, 'fleet.json');
  let mtime = Math.floor(Date.now() / 1000);
  const write = (f: Fleet) => {
    writeFileSync(fixturePath, JSON.stringify({ aws: f }));
    mtime += 2;
    utimesSync(fixturePath, mtime, mtime);
  };
  const fleet = generateAwsFleet({ things: THINGS, thingTypes: TYPES, edge: EDGE }) as Fleet;
  write(fleet);
  const emulator = await startAwsEmulator({ fixturePath });
  const out: PassFigures[] = [];
  try {
    await seed(db.url, emulator.fixture());
    const listing = () => pages(fleet.things.length, LIST_PAGE) + pages(fleet.coreDevices.length, CORE_PAGE) + CALLS_PER_TYPE * TYPES;
    for (const pass of ['1 create', '2 no change', '3 churn']) {
      let expected = listing();
      if (pass === '1 create') expected += perThing(fleet.things);
      if (pass === '3 churn') {
        const { bumped, added } = churn(fleet);
        write(fleet);
        expected = listing() + perThing(bumped.filter((t) => !t.name.startsWith('new-'))) + perThing(added);
      }
      emulator.resetStats();
      const { seconds, doc } = await runPass('things', ['--db', db.url, '--lock-dir', locks.path], emulator.env());
      const f = figures('things', backend, pass, seconds, fleet.things.length, expected, doc);
      console.log(`${''.padEnd(36)}calls per operation: ${JSON.stringify(doc.apiCalls.operations)}`);
      out.push({ ...f, operations: doc.apiCalls.operations } as PassFigures & { operations: Record<string, number> });
    }
  } finally {
    await emulator.close();
    await db.drop();
    locks.remove();
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

export async function benchAws(): Promise<Check[]> {
  console.log(`\nthings: ${THINGS.toLocaleString('en-US')} AWS things (${EDGE.toLocaleString('en-US')} Greengrass core devices) across ${TYPES} thing types`);
  const { all, checks } = await acrossBackends('things', benchBackend);
  for (const f of all) {
    const ops = (f as PassFigures & { operations: Record<string, number> }).operations;
    const label = `things ${f.backend} pass ${f.pass}`;
    if (f.pass.startsWith('1')) checks.push([`${label} ${f.seconds.toFixed(2)} s <= 30 s`, f.seconds <= 30]);
    if (f.pass.startsWith('2')) {
      checks.push([`${label} ${f.seconds.toFixed(2)} s <= 8 s`, f.seconds <= 8]);
      const perThingCalls = (ops.DescribeThing ?? 0) + (ops.GetThingShadow ?? 0);
      checks.push([`${label}: ${perThingCalls} DescribeThing + GetThingShadow = 0`, perThingCalls === 0]);
    }
    checks.push([`${label}: API calls ${f.apiCalls} = listing pages + ${CALLS_PER_TYPE} per type + per-thing calls ${f.expectedCalls}`, f.apiCalls === f.expectedCalls]);
    checks.push([`${label} peak RSS ${f.peakRssMb.toFixed(0)} MB <= 300 MB`, f.peakRssMb <= 300]);
  }
  return checks;
}

/** Things of the pass under AWS's published rates: DescribeThing (350 a second) bounds it. */
const QUOTA_THINGS = Number(process.env.BENCH_QUOTA_THINGS ?? 5_000);
const DESCRIBE_THING_PER_S = 350;

/**
 * A first `things` pass against the emulator enforcing AWS's published per-API rates (`--quota aws`),
 * on SQLite: how close the client's pacing gets to the rate that bounds it. Target: within twice
 * the time DescribeThing's rate alone takes (a pacer that over-reacts to a burst of 429s took seven
 * times it).
 */
export async function benchAwsQuota(): Promise<Check[]> {
  const edge = Math.round(QUOTA_THINGS / 10);
  console.log(`\nthings under AWS's published rates: ${QUOTA_THINGS.toLocaleString('en-US')} things, DescribeThing at ${DESCRIBE_THING_PER_S}/s`);
  const db = await scratchDatabase('sqlite');
  const locks = scratchDir();
  const emulator = await startAwsEmulator({ fixture: generateAwsFleet({ things: QUOTA_THINGS, thingTypes: TYPES, edge }), quota: 'aws' });
  try {
    await seed(db.url, emulator.fixture());
    const { seconds, doc } = await runPass('things', ['--db', db.url, '--lock-dir', locks.path], emulator.env());
    const floor = QUOTA_THINGS / DESCRIBE_THING_PER_S;
    const throttled = doc.quota.throttledRequests as number;
    console.log(
      `things         sqlite   1 create under quota ${seconds.toFixed(2)} s (DescribeThing's rate alone: ${floor.toFixed(1)} s)  API calls ${doc.apiCalls.total}  throttled ${throttled}  status ${doc.status}`,
    );
    return [
      [`things under AWS's rates: pass 1 ${seconds.toFixed(2)} s <= 2 x ${floor.toFixed(1)} s`, seconds <= 2 * floor],
      [`things under AWS's rates: every thing created (${doc.summary.create} of ${QUOTA_THINGS})`, doc.summary.create === QUOTA_THINGS],
    ];
  } finally {
    await emulator.close();
    await db.drop();
    locks.remove();
  }
}
