/**
 * BENCH_ONLY=aws-client: the CPU the AWS client itself spends per request (SDK middleware, signing,
 * HTTP, our pacing/retry/counting), the cost that bounds a large `things` pass once the per-thing
 * calls are in flight. The AWS emulator runs in a CHILD process (`portal-sync emulate --generate`),
 * so `process.cpuUsage()` of this process is the client's alone. N DescribeThing then N
 * GetThingShadow through AwsIot with --concurrency 8, after a warm-up; prints CPU ms per call and
 * the wall time. BENCH_AWS_CALLS sets N (default 20000).
 */
import { resolveAwsConfig } from '../src/config.js';
import { AwsIot } from '../src/providers/aws/client.js';
import type { SdkThreadOptions } from '../src/providers/aws/sdk-threads.js';
import { mapConcurrent } from '../src/providers/concurrency.js';
import { ApiCallCounter } from '../src/providers/errors.js';
import { emulatorChild, type Check } from './support.js';

const CONCURRENCY = 8;
const WARM_UP = 1000;

/** The budget per call that lets ~95k calls of a 50k-thing `things` pass fit its 30 s with the database's share. */
const CPU_MS_PER_CALL_TARGET = 0.35;

export async function benchAwsClient(): Promise<Check[]> {
  const n = Number(process.env.BENCH_AWS_CALLS ?? 20_000);
  const emulator = await emulatorChild(`things=${n + WARM_UP}`);
  try {
    console.log(`aws-client: AwsIot against the emulator in process ${emulator.pid}, concurrency ${CONCURRENCY}`);
    // The SDK's cost per call on the pass's own thread (the figure the target is about), then with the
    // worker threads a big pass spills to (sdk-threads.ts): their CPU counts too, so their overhead shows.
    const single = await measureClient(n, { threads: 0 }, 'one thread');
    const threaded = await measureClient(n, {}, 'SDK threads');
    console.log(`  the threads cost ${((threaded.perCall / single.perCall - 1) * 100).toFixed(0)}% more CPU per call, and took ${(threaded.wall / 1000).toFixed(2)} s instead of ${(single.wall / 1000).toFixed(2)} s`);
    return [
      [`aws-client: ${single.perCall.toFixed(3)} ms of client CPU per AWS call on one thread (target <= ${CPU_MS_PER_CALL_TARGET})`, single.perCall <= CPU_MS_PER_CALL_TARGET],
      ...[single, threaded].map((m): Check => [`aws-client (${m.label}): ${m.counted} calls counted for ${2 * n} made, ${m.warnings} retried`, m.counted === 2 * n && m.warnings === 0]),
    ];
  } finally {
    await emulator.stop();
  }
}

async function measureClient(n: number, sdkThreads: SdkThreadOptions, label: string) {
  const calls = new ApiCallCounter();
  let warnings = 0;
  const aws = new AwsIot(resolveAwsConfig({ concurrency: String(CONCURRENCY) }, process.env), calls, { warn: () => warnings++, debug: () => undefined }, { sdkThreads });
  try {
    // `generate` names its standard things thing-000001..; each has a classic shadow.
    const name = (i: number) => `thing-${String(i + 1).padStart(6, '0')}`;
    const warm = Array.from({ length: WARM_UP }, (_, i) => name(n + i));
    await mapConcurrent(warm, CONCURRENCY, (t) => aws.describeThing(t));
    await mapConcurrent(warm, CONCURRENCY, (t) => aws.hasClassicShadow(t));
    const names = Array.from({ length: n }, (_, i) => name(i));
    const before = calls.total;
    const measure = async (what: string, fn: (thing: string) => Promise<unknown>) => {
      const cpu = process.cpuUsage();
      const started = process.hrtime.bigint();
      await mapConcurrent(names, CONCURRENCY, fn);
      const wall = Number(process.hrtime.bigint() - started) / 1e6;
      const used = process.cpuUsage(cpu);
      const cpuMs = (used.user + used.system) / 1000;
      console.log(`  ${label.padEnd(12)} ${what.padEnd(15)} ${n} calls: ${(cpuMs / n).toFixed(3)} ms CPU/call (user ${(used.user / 1000 / n).toFixed(3)}, system ${(used.system / 1000 / n).toFixed(3)}), wall ${(wall / 1000).toFixed(2)} s`);
      return { cpuMs, wall };
    };
    const describe = await measure('DescribeThing', (t) => aws.describeThing(t));
    const shadow = await measure('GetThingShadow', async (t) => {
      if (!(await aws.hasClassicShadow(t))) throw new Error(`${t} has no classic shadow`);
    });
    const perCall = (describe.cpuMs + shadow.cpuMs) / (2 * n);
    console.log(`  ${label.padEnd(12)} both: ${perCall.toFixed(3)} ms CPU/call, wall ${((describe.wall + shadow.wall) / 1000).toFixed(2)} s`);
    return { label, perCall, wall: describe.wall + shadow.wall, counted: calls.total - before, warnings };
  } finally {
    await aws.close();
  }
}
