/**
 * A quota-bound pass (issue 9): 100,000 devices, page size 100 (1,000 queries), against the IoT Hub
 * emulator throttling at S1's 20 queries a minute, run 120 times faster than real time (the client
 * on the same time scale). With --rate 20/min the pass must take within 10% of the floor (pages /
 * quota: 50 emulated minutes) and never be throttled.
 */
import { generateFleet, startIotHubEmulator } from '../src/emulators/iothub/index.js';
import { runPass, scratchDatabase, scratchDir, seedModels, type Check } from './support.js';

const DEVICES = Number(process.env.BENCH_DEVICES ?? 100_000);
const PAGE_SIZE = 100;
const QUOTA_PER_MIN = 20;
const SCALE = Number(process.env.BENCH_TIME_SCALE ?? 120);

export async function benchQuota(): Promise<Check[]> {
  console.log(`\nquota: ${DEVICES.toLocaleString('en-US')} devices against ${QUOTA_PER_MIN} queries/min, time scale ${SCALE}, --rate ${QUOTA_PER_MIN}/min`);
  const db = await scratchDatabase('sqlite');
  const locks = scratchDir();
  const emulator = await startIotHubEmulator({
    fixture: generateFleet({ devices: DEVICES, lora: 0 }),
    quota: { queries: `${QUOTA_PER_MIN}/min` },
    timeScale: SCALE,
  });
  try {
    await seedModels(db.url, emulator);
    const listed = emulator.fixture().twins.filter((t) => !t.capabilities?.iotEdge && t.tags?.deviceType !== 'LoRa Concentrator').length;
    const pages = Math.ceil(listed / PAGE_SIZE);
    emulator.resetStats();
    const { seconds, doc } = await runPass(
      'devices',
      ['--db', db.url, '--page-size', String(PAGE_SIZE), '--lock-dir', locks.path, '--rate', `${QUOTA_PER_MIN}/min`],
      { ...emulator.env(), PORTAL_SYNC_TIME_SCALE: String(SCALE) },
    );
    // The listing's span as the hub saw it, first query to last: what the quota bounds (the pass's
    // own CPU work, a few real seconds, would count 120 times over at this time scale).
    const { firstRequestMs, lastRequestMs } = emulator.stats();
    const emulatedMin = (lastRequestMs! - firstRequestMs!) / 60_000;
    // The first query is free; each further one costs a slot of the per-minute quota.
    const floorMin = (pages - 1) / QUOTA_PER_MIN;
    const throttled = emulator.stats().throttled;
    console.log(
      `quota          sqlite   1 create    ${seconds.toFixed(2).padStart(6)} s real, listing ${emulatedMin.toFixed(1)} emulated min (floor ${floorMin.toFixed(1)} min), ` +
        `API calls ${doc.apiCalls.total} (pages ${pages}), throttled ${throttled}, quota wait ${doc.quota.waitSeconds.toFixed(0)} s emulated`,
    );
    return [
      [`quota pass ${emulatedMin.toFixed(1)} emulated min within 10% of the floor ${floorMin.toFixed(1)} min`, emulatedMin <= floorMin * 1.1 && emulatedMin >= floorMin * 0.99],
      [`quota pass throttled requests ${throttled} = 0 with --rate at the quota`, throttled === 0],
      [`quota pass API calls ${doc.apiCalls.total} = pages ${pages}`, doc.apiCalls.total === pages],
      [`quota pass ${seconds.toFixed(1)} s real < 60 s`, seconds < 60],
    ];
  } finally {
    await emulator.close();
    await db.drop();
    locks.remove();
  }
}
