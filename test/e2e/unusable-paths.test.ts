/**
 * A lock folder or database folder that cannot be created must fail the run at once. Under /proc
 * Node's recursive mkdir spins forever (deaf to SIGTERM in its synchronous form), so every run
 * here has a deadline that kills it: a hang fails the test instead of freezing the suite.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collect, parseJson, spawnCli, type CliResult } from '../support/cli.js';

const HUB = { IOTHUB_CONNECTION_STRING: 'HostName=h.azure-devices.net;SharedAccessKeyName=k;SharedAccessKey=aGVsbG8=' };

async function runWithDeadline(args: string[], ms: number): Promise<CliResult & { elapsedMs: number }> {
  const started = performance.now();
  const child = spawnCli(args, HUB);
  const deadline = setTimeout(() => child.kill('SIGKILL'), ms);
  try {
    const result = await collect(child);
    return { ...result, elapsedMs: performance.now() - started };
  } finally {
    clearTimeout(deadline);
  }
}

describe.runIf(process.platform === 'linux')('folders that cannot be created', () => {
  let scratch: string;
  beforeEach(() => {
    scratch = mkdtempSync(join(tmpdir(), 'portal-sync-paths-'));
  });
  afterEach(() => rmSync(scratch, { recursive: true, force: true }));

  it('--lock-dir under /proc: exit 78 at once, naming the folder', async () => {
    const result = await runWithDeadline(['devices', '--lock-dir', '/proc/nope', '--db', `sqlite:${join(scratch, 'x.db')}`, '--json'], 15_000);
    expect(result.signal, 'the run did not end within 15 s').toBeNull();
    expect(result.code).toBe(78);
    expect(parseJson(result).error).toMatch(/^cannot take the lock of devices on sqlite:\S+: cannot create the directory \/proc\/nope: .*ENOENT/);
    expect(result.elapsedMs).toBeLessThan(5000);
  });

  it('--db sqlite: under /proc: fails at once, naming the folder', async () => {
    const result = await runWithDeadline(['devices', '--lock-dir', join(scratch, 'locks'), '--db', 'sqlite:/proc/nope/x.db'], 15_000);
    expect(result.signal, 'the run did not end within 15 s').toBeNull();
    // A path that cannot hold a database is configuration: 78, as for the lock folder.
    expect(result.code).toBe(78);
    expect(result.stderr).toMatch(/cannot open sqlite:\/proc\/nope\/x.db: cannot create the directory \/proc\/nope: .*ENOENT/);
    expect(result.elapsedMs).toBeLessThan(5000);
  });
});
