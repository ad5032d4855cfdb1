/**
 * The devices pass over a generated fleet of 100,000 twins (10% LoRaWAN, 3 tag values each), page
 * size 100: pass 1 all creates; pass 2 no change; pass 3 1% updated, 1% connection-only changes,
 * 1% deleted. Targets (issue 2, 2-core machine): SQLite pass 1 <= 15 s, pass 2 <= 8 s, peak RSS
 * <= 300 MB; PostgreSQL within 2x of SQLite; API calls = pages, exactly.
 */
import { generateFleet, startIotHubEmulator, type IotHubEmulator } from '../src/emulators/iothub/index.js';
import { acrossBackends, figures, runPass, scratchDatabase, scratchDir, seedModels, type Check, type PassFigures } from './support.js';

const DEVICES = Number(process.env.BENCH_DEVICES ?? 100_000);
const LORA = Number(process.env.BENCH_LORA ?? Math.round(DEVICES / 10));
const PAGE_SIZE = 100;

function matchingTwins(emulator: IotHubEmulator): number {
  return emulator.fixture().twins.filter((t) => !t.capabilities?.iotEdge && t.tags?.deviceType !== 'LoRa Concentrator').length;
}

/** 1% version bumps with a changed tag, 1% connection flips without a version bump, 1% removed. */
function churn(emulator: IotHubEmulator): void {
  emulator.mutate((f) => {
    f.twins.forEach((twin, i) => {
      if (i % 100 === 0) {
        twin.version = (twin.version ?? 1) + 1;
        twin.tags = { ...twin.tags, floor: `changed-${i}` };
      } else if (i % 100 === 1) {
        twin.connectionState = twin.connectionState === 'Connected' ? 'Disconnected' : 'Connected';
      }
    });
    f.twins = f.twins.filter((_, i) => i % 100 !== 2);
  });
}

async function benchBackend(backend: string): Promise<PassFigures[]> {
  const db = await scratchDatabase(backend);
  const locks = scratchDir();
  const emulator = await startIotHubEmulator({ fixture: generateFleet({ devices: DEVICES, lora: LORA }) });
  const out: PassFigures[] = [];
  try {
    await seedModels(db.url, emulator);
    for (const pass of ['1 create', '2 no change', '3 churn']) {
      if (pass === '3 churn') churn(emulator);
      const records = matchingTwins(emulator);
      emulator.resetStats();
      const { seconds, doc } = await runPass('devices', ['--db', db.url, '--page-size', String(PAGE_SIZE), '--lock-dir', locks.path], emulator.env());
      out.push(figures('devices', backend, pass, seconds, records, Math.ceil(records / PAGE_SIZE), doc));
    }
  } finally {
    await emulator.close();
    await db.drop();
    locks.remove();
  }
  return out;
}

export async function benchDevices(): Promise<Check[]> {
  console.log(`devices: ${DEVICES.toLocaleString('en-US')} twins (${LORA.toLocaleString('en-US')} LoRaWAN, 3 tag values each), page size ${PAGE_SIZE}`);
  const { all, checks } = await acrossBackends('devices', benchBackend);
  const get = (backend: string, pass: string) => all.find((f) => f.backend === backend && f.pass.startsWith(pass));
  const s1 = get('sqlite', '1');
  const s2 = get('sqlite', '2');
  if (s1) checks.push([`devices SQLite pass 1 ${s1.seconds.toFixed(2)} s <= 15 s`, s1.seconds <= 15]);
  if (s2) checks.push([`devices SQLite pass 2 ${s2.seconds.toFixed(2)} s <= 8 s`, s2.seconds <= 8]);
  const sqlite = all.filter((f) => f.backend === 'sqlite');
  if (sqlite.length > 0) {
    const rss = Math.max(...sqlite.map((f) => f.peakRssMb));
    checks.push([`devices SQLite peak RSS ${rss.toFixed(0)} MB <= 300 MB`, rss <= 300]);
  }
  for (const pass of ['1', '2', '3']) {
    const s = get('sqlite', pass);
    const p = get('postgres', pass);
    if (s && p) checks.push([`devices PostgreSQL pass ${pass} ${p.seconds.toFixed(2)} s within 2x of SQLite ${s.seconds.toFixed(2)} s`, p.seconds <= 2 * s.seconds]);
  }
  for (const f of all) checks.push([`devices ${f.backend} pass ${f.pass}: API calls ${f.apiCalls} = pages ${f.expectedCalls}`, f.apiCalls === f.expectedCalls]);
  return checks;
}
