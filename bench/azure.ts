/**
 * The other Azure passes over one generated hub: 20,000 edge devices with 8 modules each (pass 1
 * creates, pass 2 no change), 5,000 concentrators and 5,000 gateway ids, page size 100. Targets
 * (issue 3, SQLite): edge pass 1 <= 10 s, no-change pass <= 6 s, API calls = pages of edge twins +
 * pages of module twins; concentrators and gateway ids <= 3 s each.
 */
import { generateFleet, startIotHubEmulator } from '../src/emulators/iothub/index.js';
import { acrossBackends, figures, runPass, scratchDatabase, scratchDir, seedModels, type Check, type PassFigures } from './support.js';

const EDGE = Number(process.env.BENCH_EDGE ?? 20_000);
const MODULES = 8;
const CONCENTRATORS = Number(process.env.BENCH_CONCENTRATORS ?? 5_000);
const GATEWAYS = Number(process.env.BENCH_GATEWAYS ?? 5_000);
const PAGE_SIZE = 100;
const pages = (n: number) => Math.max(1, Math.ceil(n / PAGE_SIZE));

async function benchBackend(backend: string): Promise<PassFigures[]> {
  const db = await scratchDatabase(backend);
  const locks = scratchDir();
  const emulator = await startIotHubEmulator({
    fixture: generateFleet({ edge: EDGE, modules: MODULES, concentrators: CONCENTRATORS, gateways: GATEWAYS }),
  });
  const out: PassFigures[] = [];
  const args = ['--db', db.url, '--page-size', String(PAGE_SIZE), '--lock-dir', locks.path];
  try {
    await seedModels(db.url, emulator);
    const f = emulator.fixture();
    const edgeTwins = f.twins.filter((t) => t.capabilities?.iotEdge).length;
    const agentAndHub = f.moduleTwins.filter((m) => m.moduleId === '$edgeAgent' || m.moduleId === '$edgeHub').length;
    const gatewayTwins = f.moduleTwins.filter((m) => m.moduleId === 'LoRaWanNetworkSrvModule').length;
    const concentratorTwins = f.twins.filter((t) => t.tags?.deviceType === 'LoRa Concentrator').length;
    for (const pass of ['1 create', '2 no change']) {
      const { seconds, doc } = await runPass('edge', args, emulator.env());
      out.push(figures('edge', backend, pass, seconds, edgeTwins, pages(edgeTwins) + pages(agentAndHub), doc));
    }
    const c = await runPass('concentrators', args, emulator.env());
    out.push(figures('concentrators', backend, '1 create', c.seconds, concentratorTwins, pages(concentratorTwins), c.doc));
    const g = await runPass('gateway-ids', args, emulator.env());
    out.push(figures('gateway-ids', backend, '1 create', g.seconds, gatewayTwins, pages(gatewayTwins), g.doc));
  } finally {
    await emulator.close();
    await db.drop();
    locks.remove();
  }
  return out;
}

export async function benchAzure(): Promise<Check[]> {
  console.log(
    `\nedge, concentrators, gateway-ids: ${EDGE.toLocaleString('en-US')} edge devices x ${MODULES} modules, ` +
      `${CONCENTRATORS.toLocaleString('en-US')} concentrators, ${GATEWAYS.toLocaleString('en-US')} gateways, page size ${PAGE_SIZE}`,
  );
  const { all, checks } = await acrossBackends('edge/concentrators/gateway-ids', benchBackend);
  const get = (bench: string, pass: string) => all.find((f) => f.backend === 'sqlite' && f.bench === bench && f.pass.startsWith(pass));
  const limits: Array<[string, string, number]> = [
    ['edge', '1', 10],
    ['edge', '2', 6],
    ['concentrators', '1', 3],
    ['gateway-ids', '1', 3],
  ];
  for (const [bench, pass, limit] of limits) {
    const f = get(bench, pass);
    if (f) checks.push([`${bench} SQLite pass ${pass} ${f.seconds.toFixed(2)} s <= ${limit} s`, f.seconds <= limit]);
  }
  for (const f of all) checks.push([`${f.bench} ${f.backend} pass ${f.pass}: API calls ${f.apiCalls} = pages ${f.expectedCalls}`, f.apiCalls === f.expectedCalls]);
  return checks;
}
