/**
 * What a run loads: each pass loads its provider's SDK only when it runs, so `--help` and an IoT Hub
 * pass never load the AWS SDK nor Event Hubs' (they once cost every cron run about 25 MB and 0.2 s).
 * A preload module (NODE_OPTIONS=--import) writes, as the CLI exits, the packages it loaded.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';
import { runCli } from '../support/cli.js';

const PROVIDER_SDKS = ['@aws-sdk', '@azure/event-hubs', 'rhea', 'prom-client'];

describe('what a run loads', () => {
  let dir: string;
  let hub: TestHub;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'portal-sync-startup-'));
    // CommonJS packages imported by ESM still go through the CommonJS loader's cache.
    writeFileSync(
      join(dir, 'loaded.mjs'),
      `import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
const require = createRequire(import.meta.url);
process.on('exit', () => {
  const packages = new Set();
  for (const file of Object.keys(require.cache)) {
    const m = /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(file);
    if (m) packages.add(m[1]);
  }
  writeFileSync(process.env.LOADED_OUT, [...packages].sort().join('\\n'));
});
`,
    );
    hub = await startTestHub({ devices: [{ deviceId: 'd1', tags: { deviceType: 'sensor' } }] });
  });

  afterAll(async () => {
    await hub?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function loaded(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string; packages: string[] }> {
    const out = join(dir, `loaded-${args[0]}-${args.length}.txt`);
    const result = await runCli(args, { ...env, NODE_OPTIONS: `--import ${join(dir, 'loaded.mjs')}`, LOADED_OUT: out });
    return { code: result.code, stderr: result.stderr, packages: readFileSync(out, 'utf8').split('\n') };
  }

  const sdks = (packages: string[]) => packages.filter((p) => PROVIDER_SDKS.some((sdk) => p === sdk || p.startsWith(`${sdk}/`)));

  it('--help loads no provider SDK', async () => {
    const { code, packages } = await loaded(['--help']);
    expect(code).toBe(0);
    expect(packages).toContain('commander');
    expect(sdks(packages)).toEqual([]);
  });

  it('a devices pass loads no AWS or Event Hubs SDK', async () => {
    const { code, stderr, packages } = await loaded(['devices', '--db', `sqlite:${join(dir, 'p.db')}`, '--lock-dir', dir], hub.env());
    expect(code, stderr).toBe(0);
    expect(packages).toContain('better-sqlite3');
    expect(sdks(packages)).toEqual([]);
  });

  it('a things pass loads the AWS SDK (when it runs, even to refuse a missing region)', async () => {
    const { code, packages } = await loaded(['things', '--db', `sqlite:${join(dir, 'p.db')}`, '--lock-dir', dir, '--dry-run']);
    expect(code).toBe(78);
    expect(sdks(packages)).toContain('@aws-sdk/client-iot');
    expect(sdks(packages)).not.toContain('@azure/event-hubs');
  });
});
