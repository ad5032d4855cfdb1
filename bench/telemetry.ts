/**
 * `telemetry` over a generated hub: 200,000 events over 4 partitions from 2,000 LoRaWAN devices
 * (100 events each, so the newest-100 rule keeps every row), read by the real SDK from the emulator
 * (its own process) into a portal that holds those devices with their LoRaWAN settings. Run 1 stores
 * everything; run 2 finds nothing new. Target (issue 12): SQLite run 1 <= 20 s, peak RSS <= 300 MB;
 * events per second reported on SQLite and PostgreSQL. BENCH_EVENTS and BENCH_EVENT_DEVICES size it.
 */
import { loraDeviceIds } from '../src/emulators/iothub/index.js';
import { migrateLatest } from '../src/store/migrate.js';
import { chunks } from '../src/store/rows.js';
import { acrossBackends, emulatorChild, runPass, scratchDatabase, scratchDir, type Check, type PassFigures, withDatabase } from './support.js';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 200_000);
const DEVICES = Number(process.env.BENCH_EVENT_DEVICES ?? 2_000);
const PARTITIONS = 4;
/** Extra options of the runs, e.g. BENCH_TELEMETRY_ARGS='--batch-size 5000'. */
const EXTRA_ARGS = (process.env.BENCH_TELEMETRY_ARGS ?? '').split(' ').filter((a) => a !== '');

/** The generated fleet's LoRaWAN devices, as the `devices` pass would have stored them. */
async function seedDevices(dbUrl: string): Promise<void> {
  await withDatabase(dbUrl, async (knex) => {
    await migrateLatest(knex);
    await knex('device_models').insert({ id: 'm-lora', name: 'LoRaWAN sensor', support_lora_features: true });
    for (const ids of chunks(loraDeviceIds({ devices: DEVICES, lora: DEVICES }), 500)) {
      await knex('devices').insert(ids.map((id) => ({ id, name: id, device_model_id: 'm-lora', version: 1 })));
      await knex('lorawan_devices').insert(ids.map((id) => ({ id })));
    }
  });
}

async function benchBackend(backend: string): Promise<PassFigures[]> {
  const db = await scratchDatabase(backend);
  const locks = scratchDir();
  const emulator = await emulatorChild(`devices=${DEVICES},lora=${DEVICES},events=${EVENTS},partitions=${PARTITIONS}`);
  const out: PassFigures[] = [];
  try {
    await seedDevices(db.url);
    for (const pass of ['1 all new', '2 nothing new']) {
      const { seconds, doc } = await runPass('telemetry', ['--db', db.url, '--lock-dir', locks.path, ...EXTRA_ARGS], {});
      const f: PassFigures = {
        bench: 'telemetry',
        backend,
        pass,
        seconds,
        records: doc.totals.read,
        apiCalls: doc.apiCalls.total,
        expectedCalls: 1 + PARTITIONS,
        peakRssMb: doc.peakRssBytes / 1024 / 1024,
      };
      console.log(
        `telemetry      ${backend.padEnd(8)} ${pass.padEnd(14)} ${seconds.toFixed(2).padStart(6)} s  ${Math.round(doc.totals.read / seconds).toLocaleString('en-US').padStart(8)} events/s  ` +
          `read ${doc.totals.read} stored ${doc.totals.stored} skipped ${doc.totals.skipped} pruned ${doc.totals.pruned}  management calls ${doc.apiCalls.total}  peak RSS ${f.peakRssMb.toFixed(0)} MB`,
      );
      if (pass.startsWith('1') && doc.totals.stored !== EVENTS) throw new Error(`run 1 stored ${doc.totals.stored} of ${EVENTS} events`);
      if (pass.startsWith('2') && doc.totals.read !== 0) throw new Error(`run 2 read ${doc.totals.read} events again`);
      out.push(f);
    }
  } finally {
    await emulator.stop();
    await db.drop();
    locks.remove();
  }
  return out;
}

export async function benchTelemetry(): Promise<Check[]> {
  console.log(`\ntelemetry: ${EVENTS.toLocaleString('en-US')} events over ${PARTITIONS} partitions from ${DEVICES.toLocaleString('en-US')} LoRaWAN devices`);
  const { all, checks } = await acrossBackends('telemetry', benchBackend);
  const s1 = all.find((f) => f.backend === 'sqlite' && f.pass.startsWith('1'));
  if (s1) {
    checks.push([`telemetry SQLite run 1: ${EVENTS.toLocaleString('en-US')} events in ${s1.seconds.toFixed(2)} s <= 20 s (${Math.round(s1.records / s1.seconds).toLocaleString('en-US')} events/s)`, s1.seconds <= 20]);
    checks.push([`telemetry SQLite peak RSS ${s1.peakRssMb.toFixed(0)} MB <= 300 MB`, s1.peakRssMb <= 300]);
  }
  const p1 = all.find((f) => f.backend === 'postgres' && f.pass.startsWith('1'));
  if (p1) checks.push([`telemetry PostgreSQL run 1: ${p1.seconds.toFixed(2)} s (${Math.round(p1.records / p1.seconds).toLocaleString('en-US')} events/s), reported`, true]);
  for (const f of all) checks.push([`telemetry ${f.backend} run ${f.pass}: management calls ${f.apiCalls} = ${f.expectedCalls} (partition ids + one per partition)`, f.apiCalls === f.expectedCalls]);
  return checks;
}
