/**
 * Remote actions in the shared pass, with an inventory whose remote side is a list in memory and
 * whose rows are real `device_models` rows, on SQLite and PostgreSQL: when actions run (after the
 * commit, never on a dry run or a refused pass), one at a time, a failure not stopping the others,
 * and what the run log, the result and the output say about them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolvePassConfig, type CommonOptions } from '../../src/config.js';
import { ApiCallCounter } from '../../src/providers/errors.js';
import { hasChanges, type RemoteAction, type RemoteEntry } from '../../src/reconcile/index.js';
import type { Inventory } from '../../src/run/inventory.js';
import { NO_INTERRUPTION, type Interruption } from '../../src/run/interrupt.js';
import { createLogger } from '../../src/run/log.js';
import { renderTable, writeJson } from '../../src/run/output.js';
import { runPass } from '../../src/run/pass.js';
import { applyDeviceModelsPlan, DEVICE_MODEL_FIELDS, loadCurrentDeviceModels } from '../../src/store/device-models.js';
import { migrateLatest } from '../../src/store/migrate.js';
import { listEvents, getRun } from '../../src/store/runlog.js';
import { BACKENDS, createTestDatabase, type TestDatabase } from '../support/backends.js';

const action = (ref: string): RemoteAction => ({ kind: 'poke', ref, description: `poke ${ref}` });
const model = (id: string): RemoteEntry => ({ kind: 'desired', key: id, version: 1, fields: { name: id, description: null } });

interface Script {
  entries: RemoteEntry[];
  actions: RemoteAction[];
  /** Refs whose action fails. */
  failing?: string[];
  /** Called as each action starts. */
  onAction?: (ref: string) => void;
  /** No performAction at all. */
  cannotAct?: boolean;
}

function inventory(script: Script, performed: string[]): Inventory {
  return {
    command: 'test-actions',
    noun: 'device model',
    calls: new ApiCallCounter(),
    policy: { liveFields: DEVICE_MODEL_FIELDS, secretFields: [] },
    async *remote(ctx) {
      for (const a of script.actions) ctx.planAction(a);
      yield script.entries;
    },
    validate: () => null,
    loadCurrent: loadCurrentDeviceModels,
    apply: applyDeviceModelsPlan,
    performAction: script.cannotAct
      ? undefined
      : async (a, ctx) => {
          script.onAction?.(a.ref);
          // The data transaction has committed by now: the rows are visible outside it.
          const stored = await ctx.db('device_models').count({ n: '*' });
          performed.push(`${a.ref}@${Number(stored[0]!.n)}`);
          if (script.failing?.includes(a.ref)) throw new Error(`${a.ref} refused`);
          return `${a.ref} poked`;
        },
  };
}

describe.each(BACKENDS)('remote actions in the pass on %s', (backend) => {
  let db: TestDatabase;
  let lockDir: string;
  const logs: string[] = [];
  const log = createLogger({ format: 'text', write: (l) => logs.push(l) });

  beforeEach(async () => {
    db = await createTestDatabase(backend);
    await migrateLatest(db.knex());
    lockDir = mkdtempSync(join(tmpdir(), 'portal-sync-locks-'));
    logs.length = 0;
  });
  afterEach(async () => {
    await db.drop();
    rmSync(lockDir, { recursive: true, force: true });
  });

  const config = (opts: CommonOptions = {}) => resolvePassConfig('test-actions', { db: db.url, lockDir, ...opts }, {}, false);
  const pass = (script: Script, performed: string[], opts: CommonOptions = {}, interruption: Interruption = NO_INTERRUPTION) =>
    runPass(inventory(script, performed), config(opts), log, interruption);

  it('runs the actions one by one after the commit; a failed one makes the pass partial and the others still run', async () => {
    const performed: string[] = [];
    const result = await pass({ entries: [model('m1'), model('m2')], actions: [action('a'), action('b'), action('c')], failing: ['b'] }, performed);
    // Each action saw both rows: they ran after the data transaction committed.
    expect(performed).toEqual(['a@2', 'b@2', 'c@2']);
    expect(result.status).toBe('partial');
    expect(result.exitCode).toBe(3);
    expect(result.error).toBe('1 of 3 remote actions not done');
    expect(result.actions.map((r) => r.outcome)).toEqual([
      { status: 'done', message: 'a poked' },
      { status: 'failed', error: 'b refused' },
      { status: 'done', message: 'c poked' },
    ]);
    const run = await getRun(db.knex(), result.runId!);
    expect(run).toMatchObject({ status: 'partial', exitCode: 3, error: '1 of 3 remote actions not done' });
    expect((run!.summary as Record<string, unknown>).actions).toEqual({ planned: 3, done: 2, failed: 1, skipped: 0 });
    expect((run!.summary as Record<string, unknown>).create).toBe(2);
    const events = await listEvents(db.knex(), { runId: result.runId!, type: 'action' });
    expect(events.map((e) => [e.ref, e.level, e.message]).reverse()).toEqual([
      ['a', 'info', 'poke a: a poked'],
      ['b', 'error', 'poke b failed: b refused'],
      ['c', 'info', 'poke c: c poked'],
    ]);
    expect(logs).toContain('error: poke b failed: b refused');
  });

  it('a pass whose only change is an action has changes (exit 2 with --detailed-exitcode) and stays ok when it succeeds', async () => {
    const performed: string[] = [];
    const result = await pass({ entries: [], actions: [action('a')] }, performed, { detailedExitcode: true });
    expect(result.status).toBe('ok');
    expect(result.exitCode).toBe(2);
    expect(hasChanges(result.plan!)).toBe(true);
    expect((await getRun(db.knex(), result.runId!))!.exitCode).toBe(2);
    const quiet = await pass({ entries: [], actions: [] }, performed, { detailedExitcode: true });
    expect(quiet.exitCode).toBe(0);
    // A run without actions keeps its summary as it was, with no `actions` key.
    expect((await getRun(db.knex(), quiet.runId!))!.summary).not.toHaveProperty('actions');
  });

  it('a dry run shows the actions and carries out none of them', async () => {
    const performed: string[] = [];
    const result = await pass({ entries: [model('m1')], actions: [action('a')] }, performed, { dryRun: true });
    expect(performed).toEqual([]);
    expect(result.actions).toEqual([{ action: action('a'), outcome: { status: 'skipped', reason: 'dry run' } }]);
    const table = renderTable(result, { color: false, maxRows: 50 });
    expect(table).toMatch(/│ > │ a\s+│ poke a\s+│/);
    expect(table).toContain('Plan: 1 to create, 0 to update, 0 to delete, 1 remote action, 0 unchanged, 0 skipped.');
    let json = '';
    writeJson(result, (c) => (json += c));
    expect(JSON.parse(json).remoteActions).toEqual([{ kind: 'poke', ref: 'a', description: 'poke a', outcome: 'skipped', reason: 'dry run' }]);
  });

  it('a refused pass carries out none, and records them as not done', async () => {
    // Models thing-types wrote (an owner mark): the only ones its store loads, so the ones the guard counts.
    await db.knex()('device_models').insert(
      Array.from({ length: 12 }, (_, i) => ({ id: `old-${i}`, name: `old-${i}`, support_lora_features: false, thing_type_name: `old-${i}` })),
    );
    const performed: string[] = [];
    const result = await pass({ entries: [], actions: [action('a')] }, performed);
    expect(result.status).toBe('refused');
    expect(performed).toEqual([]);
    const events = await listEvents(db.knex(), { runId: result.runId!, type: 'action' });
    expect(events.map((e) => [e.ref, e.level, e.message])).toEqual([['a', 'warn', 'poke a not done: the mass-delete guard refused the pass']]);
    expect((await getRun(db.knex(), result.runId!))!.summary).toMatchObject({ actions: { planned: 1, done: 0, failed: 0, skipped: 1 } });
  });

  it('a signal during the actions lets the one in flight finish and skips the rest: partial', async () => {
    let signal: NodeJS.Signals | null = null;
    const interruption: Interruption = { received: () => signal, signal: new AbortController().signal };
    const performed: string[] = [];
    const result = await pass({ entries: [], actions: [action('a'), action('b')], onAction: () => (signal = 'SIGTERM') }, performed, {}, interruption);
    expect(performed).toEqual(['a@0']);
    expect(result.status).toBe('partial');
    expect(result.exitCode).toBe(3);
    expect(result.actions[1]!.outcome).toEqual({ status: 'skipped', reason: 'not run: interrupted by SIGTERM' });
    const table = renderTable(result, { color: false, maxRows: 50 });
    expect(table).toContain('poke b: not done (not run: interrupted by SIGTERM)');
    expect(table).toContain('2 remote actions (1 done, 1 not done)');
  });

  it('plans an action listed twice once, and refuses actions from an inventory that cannot carry them out', async () => {
    const performed: string[] = [];
    const twice = await pass({ entries: [], actions: [action('a'), action('a')] }, performed);
    expect(performed).toEqual(['a@0']);
    expect(twice.plan!.remoteActions).toEqual([action('a')]);
    const cannot = await pass({ entries: [model('m1')], actions: [action('a')], cannotAct: true }, performed);
    expect(cannot.status).toBe('failed');
    expect(cannot.error).toBe('test-actions planned a remote action it cannot carry out');
    expect(await db.knex()('device_models').count({ n: '*' }).then((r) => Number(r[0]!.n))).toBe(0);
  });
});
