/**
 * `jasper` over 100,000 generated SIMs of one service provider, 50 a page (2,000 calls), the Control
 * Center emulated in this process (its answers cost the loopback), the CLI as its own process.
 * Pass 1: the first, full sync (every page staged, then promoted); pass 2: incremental, nothing
 * changed since. Target (issue 14): pass 1 <= 20 s on SQLite, peak RSS <= 300 MB; rows per second
 * reported on SQLite and PostgreSQL. Production must then hold every SIM as the emulator serves it.
 */
import { generateJasper, seedJasperProviders, startJasperEmulator, type JasperEmulator } from '../src/emulators/jasper/index.js';
import { migrateLatest } from '../src/store/migrate.js';
import { acrossBackends, runPass, scratchDatabase, scratchDir, type Check, type PassFigures, withDatabase } from './support.js';

const SIMS = Number(process.env.BENCH_SIMS ?? 100_000);
const PAGE = 50;

/** Production equals what the emulator serves (newest record per ICCID), field by field. */
async function inProduction(dbUrl: string, emulator: JasperEmulator): Promise<string | null> {
  return withDatabase(dbUrl, async (knex) => {
    const rows = (await knex('jasper_devices').where({ provider_id: 'sp1' }).select('iccid', 'status', 'rate_plan', 'communication_plan')) as Array<Record<string, string | null>>;
    const stored = new Map(rows.map((r) => [r.iccid, r]));
    const served = emulator.devices('sp1') ?? [];
    const want = new Map(served.map((d) => [d.iccid.trim(), d]));
    if (stored.size !== want.size) return `${stored.size} SIMs in production, ${want.size} served`;
    for (const [iccid, d] of want) {
      const r = stored.get(iccid);
      if (!r) return `SIM ${iccid} missing`;
      // Stored exactly as sent (INVENTORIES.md: no trimming, no normalising).
      for (const [column, value] of [['status', d.status], ['rate_plan', d.ratePlan], ['communication_plan', d.communicationPlan]] as const) {
        if (r[column] !== value) return `SIM ${iccid} differs: ${column} ${JSON.stringify(r[column])}, served ${JSON.stringify(value)}`;
      }
    }
    return null;
  });
}

async function benchBackend(backend: string): Promise<PassFigures[]> {
  const db = await scratchDatabase(backend);
  const locks = scratchDir();
  const emulator = await startJasperEmulator({ fixture: generateJasper({ sims: SIMS, providers: 1 }).section });
  const out: PassFigures[] = [];
  try {
    await withDatabase(db.url, async (knex) => {
      await migrateLatest(knex);
      await seedJasperProviders(knex, emulator.providers());
    });
    for (const pass of ['1 full', '2 incremental']) {
      emulator.resetStats();
      const { seconds, doc } = await runPass('jasper', ['--db', db.url, '--lock-dir', locks.path], emulator.env());
      const p = doc.providers[0];
      const calls = Object.values(p.apiCalls as Record<string, number>).reduce((a, b) => a + b, 0);
      const f: PassFigures = {
        bench: 'jasper',
        backend,
        pass,
        seconds,
        records: p.staged,
        apiCalls: calls,
        expectedCalls: pass.startsWith('1') ? Math.ceil(SIMS / PAGE) : 1,
        peakRssMb: doc.peakRssBytes / 1024 / 1024,
      };
      const problem = await inProduction(db.url, emulator);
      console.log(
        `jasper         ${backend.padEnd(8)} ${pass.padEnd(14)} ${seconds.toFixed(2).padStart(6)} s  ${Math.round(p.staged / seconds).toLocaleString('en-US').padStart(8)} rows/s  ` +
          `staged ${p.staged}  created ${p.promotion?.create ?? 0} updated ${p.promotion?.update ?? 0} unchanged ${p.promotion?.unchanged ?? 0}  ` +
          `API calls ${calls} (expected ${f.expectedCalls})  production ${problem === null ? 'exact' : `WRONG: ${problem}`}  peak RSS ${f.peakRssMb.toFixed(0)} MB`,
      );
      if (problem !== null) throw new Error(`after pass ${pass}: ${problem}`);
      out.push(f);
    }
  } finally {
    await emulator.close();
    await db.drop();
    locks.remove();
  }
  return out;
}

export async function benchJasper(): Promise<Check[]> {
  console.log(`\njasper: ${SIMS.toLocaleString('en-US')} SIMs of one service provider, ${PAGE} a page`);
  const { all, checks } = await acrossBackends('jasper', benchBackend);
  for (const f of all) {
    const label = `jasper ${f.backend} pass ${f.pass}`;
    if (f.backend === 'sqlite' && f.pass.startsWith('1')) checks.push([`${label} ${f.seconds.toFixed(2)} s <= 20 s`, f.seconds <= 20]);
    checks.push([`${label}: API calls ${f.apiCalls} = pages ${f.expectedCalls}`, f.apiCalls === f.expectedCalls]);
    checks.push([`${label} peak RSS ${f.peakRssMb.toFixed(0)} MB <= 300 MB`, f.peakRssMb <= 300]);
  }
  return checks;
}
