import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BACKENDS, type TestDatabase } from '../support/backends.js';
import { parseJson, runCli } from '../support/cli.js';
import type { TestHub } from '../support/hub.js';
import { startPortal, type Portal } from '../support/portal.js';
import { BASE_TWINS, fleet, MODELS } from './fleet.js';

describe.each(BACKENDS)('a page that hangs, on %s', (backend) => {
  let portal: Portal;
  let db: TestDatabase;
  let hub: TestHub;
  let lockDir: string;

  beforeEach(async () => {
    portal = await startPortal(backend, fleet(BASE_TWINS), { devices: MODELS });
    ({ db, hub, lockDir } = portal);
  });
  afterEach(() => portal.close());

  const timed = async (...args: string[]) => {
    const started = performance.now();
    const result = await runCli(['devices', '--db', db.url, '--lock-dir', lockDir, '--page-size', '2', ...args], hub.env());
    return { result, elapsedMs: performance.now() - started };
  };

  it('ends the pass within --page-budget: what was read is applied, nothing deleted, exit 3', async () => {
    // What a pass costs here without the hang: starting node, migrations, four pages, the commit.
    const baseline = await timed('--dry-run');
    expect(baseline.result.code).toBe(0);

    hub.write(fleet(BASE_TWINS, [{ operation: 'query:devices', page: 2, hang: true }]));
    const { result, elapsedMs } = await timed('--json', '--request-timeout', '200ms', '--page-budget', '1s');
    const doc = parseJson(result);

    expect(result.code).toBe(3);
    expect(doc.status).toBe('partial');
    expect(doc.failed).toEqual([
      {
        ref: null,
        error: expect.stringMatching(
          /^listing stopped after page 1: IoT Hub test-hub\.azure-devices\.net: page 2 of query:devices gave up after 1 s \(budget\) and \d attempts: timed out after \d+ ms$/,
        ),
      },
    ]);
    // Page 1 (std-1, std-2) is applied; deletes are withheld.
    expect(doc.summary).toMatchObject({ create: 2, delete: 0 });
    expect(await db.knex()('devices').orderBy('id').pluck('id')).toEqual(['std-1', 'std-2']);
    const attempts = hub.emulator.stats().operations['query:devices']! - 4 - 1;
    expect(attempts).toBeGreaterThanOrEqual(2);
    expect(attempts).toBeLessThanOrEqual(5);
    // A bound, not a sleep: the budget on top of what the same pass costs without the hang, and a
    // margin for a loaded machine. Six timeouts and the backoff between them would take seconds more.
    expect(elapsedMs).toBeLessThan(baseline.elapsedMs + 1000 + 750);
  });
});
