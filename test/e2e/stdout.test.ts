import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BACKENDS, type TestDatabase } from '../support/backends.js';
import { collect, spawnCli } from '../support/cli.js';
import type { TestHub } from '../support/hub.js';
import { startPortal, type Portal } from '../support/portal.js';
import { fleet, MODELS, standard } from './fleet.js';

// Enough devices that the --json document (about 50 bytes a create) is several times a pipe's
// 64 KiB buffer: the CLI is still writing when the reader goes away.
const DEVICES = 4000;

describe.each(BACKENDS)('a closed stdout on %s', (backend) => {
  let portal: Portal;
  let db: TestDatabase;
  let hub: TestHub;
  let lockDir: string;

  beforeEach(async () => {
    const twins = Array.from({ length: DEVICES }, (_, i) => standard(`dev-${String(i + 1).padStart(5, '0')}`));
    portal = await startPortal(backend, fleet(twins), { devices: MODELS });
    ({ db, hub, lockDir } = portal);
  });
  afterEach(() => portal.close());

  it('is not a failure of the pass: `devices --json | head -1` keeps exit 0, prints no EPIPE, and the pass is committed', async () => {
    const child = spawnCli(['devices', '--db', db.url, '--lock-dir', lockDir, '--page-size', '1000', '--json'], hub.env());
    let firstChunk = '';
    // What `head -1` does: read the first chunk, then close the pipe.
    child.stdout!.once('data', (chunk: Buffer) => {
      firstChunk = chunk.toString();
      child.stdout!.destroy();
    });
    const result = await collect(child);

    expect(firstChunk).toMatch(/^\{\n {2}"schemaVersion": 1,/);
    expect(result.stderr).not.toMatch(/EPIPE/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.code).toBe(0);
    expect(await db.knex()('devices').count({ n: '*' })).toEqual([{ n: DEVICES }]);
    const runs = await db.knex()('sync_runs').select('command', 'status', 'exit_code');
    expect(runs).toEqual([{ command: 'devices', status: 'ok', exit_code: 0 }]);
  });
});
