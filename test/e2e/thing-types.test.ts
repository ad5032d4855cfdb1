/**
 * `thing-types` end to end: the built CLI as a separate process, the real AWS SDK clients, the AWS
 * emulator over loopback, on SQLite and PostgreSQL. Deprecation dates are written relative to now
 * (a type deprecated 10 minutes ago, one deprecated 1 minute ago), so the grace period is exercised
 * without sleeping.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { seedModelsOf } from '../../src/emulators/aws/index.js';
import { migrateLatest } from '../../src/store/migrate.js';
import { upsertDeviceModels } from '../../src/store/models.js';
import { BACKENDS, createTestDatabase, type TestDatabase } from '../support/backends.js';
import { startTestAws, type TestAws } from '../support/aws.js';
import { parseJson, runCli, type CliResult } from '../support/cli.js';

const MINUTE = 60_000;
const ago = (ms: number) => new Date(Date.now() - ms).toISOString();
const SECRET = 'emulator/secret/key/not/valid/at/aws/000';

type TypeSpec = Record<string, unknown>;

const SENSOR: TypeSpec = { name: 'sensor', id: 'tt-sensor', description: 'Temperature sensor', tags: { iotEdge: 'false' } };
const METER: TypeSpec = { name: 'meter', id: 'tt-meter', description: 'Power meter', tags: { IOTEDGE: 'False', owner: 'ops' } };
const GATEWAY: TypeSpec = { name: 'gateway', id: 'tt-gateway', description: 'Edge gateway', tags: { iotEdge: 'TRUE' } };
const UNTAGGED: TypeSpec = { name: 'untagged', id: 'tt-untagged', tags: { owner: 'ops' } };
const OLD = (): TypeSpec => ({ name: 'old', id: 'tt-old', tags: { iotEdge: 'false' }, deprecated: true, deprecationDate: ago(10 * MINUTE) });
const FRESH = (): TypeSpec => ({ name: 'fresh', id: 'tt-fresh', tags: { iotEdge: 'false' }, deprecated: true, deprecationDate: ago(1 * MINUTE) });

function fleet(types: TypeSpec[], extra: Record<string, unknown> = {}) {
  return {
    thingTypes: types,
    thingGroups: [
      { name: 'old', queryString: 'thingTypeName:old' },
      { name: 'older', queryString: 'thingTypeName:older' },
      { name: 'fresh', queryString: 'thingTypeName:fresh' },
      { name: 'static-group' },
    ],
    ...extra,
  };
}

const BASE = () => [SENSOR, METER, GATEWAY, UNTAGGED, OLD(), FRESH()];

describe.each(BACKENDS)('thing-types end to end on %s', (backend) => {
  let db: TestDatabase;
  let aws: TestAws;
  let lockDir: string;

  beforeEach(async () => {
    db = await createTestDatabase(backend);
    await migrateLatest(db.knex());
    aws = await startTestAws(fleet(BASE()));
    lockDir = mkdtempSync(join(tmpdir(), 'portal-sync-locks-'));
  });

  afterEach(async () => {
    await aws.close();
    await db.drop();
    rmSync(lockDir, { recursive: true, force: true });
  });

  const run = (args: string[], env: Record<string, string | undefined> = aws.env()): Promise<CliResult> =>
    runCli(['thing-types', '--db', db.url, '--lock-dir', lockDir, ...args], env);
  const runJson = async (...args: string[]) => {
    const result = await run(['--json', ...args]);
    return { result, doc: parseJson(result) };
  };
  const models = async () =>
    (await db.knex()('device_models').orderBy('id').select('id', 'name', 'description', 'support_lora_features')).map((m: Record<string, unknown>) => ({
      ...m,
      support_lora_features: Boolean(m.support_lora_features),
    }));
  /** Models thing-types wrote (owner: the type's name) unless `owner` is null (the Azure fleet's, the portal's own). */
  const seedModels = (rows: Array<{ id: string; name: string; description?: string | null; lora?: boolean; owner?: string | null }>) =>
    db.knex()('device_models').insert(
      rows.map((r) => ({
        id: r.id,
        name: r.name,
        description: r.description ?? null,
        support_lora_features: r.lora ?? false,
        thing_type_name: r.owner === undefined ? r.name : r.owner,
      })),
    );
  const owners = async () => Object.fromEntries((await db.knex()('device_models').orderBy('id').select('id', 'thing_type_name')).map((r: any) => [r.id, r.thing_type_name]));
  const seedDevice = (id: string, model: string) => db.knex()('devices').insert({ id, name: id, device_model_id: model, version: 1 });
  const events = async (runId: number, type: string) =>
    (await db.knex()('sync_events').where({ run_id: runId, type }).orderBy('ref').select('level', 'ref', 'message')) as Array<{ level: string; ref: string; message: string }>;

  it('creates models of standard types, skips edge and untagged ones, deletes a long-deprecated type in AWS and removes its model', async () => {
    await seedModels([
      { id: 'tt-old', name: 'old' },
      { id: 'tt-fresh', name: 'fresh' },
      { id: 'tt-vanished', name: 'vanished' },
    ]);
    const { result, doc } = await runJson();
    expect(result.code, result.stderr).toBe(0);
    expect(doc.status).toBe('ok');
    expect(doc.summary).toMatchObject({ create: 2, update: 0, delete: 3, skipped: 2, failed: 0 });
    expect(await models()).toEqual([
      { id: 'tt-meter', name: 'meter', description: 'Power meter', support_lora_features: false },
      { id: 'tt-sensor', name: 'sensor', description: 'Temperature sensor', support_lora_features: false },
    ]);
    expect(doc.skipped).toEqual([
      { ref: 'tt-gateway', reason: 'thing type gateway is for edge devices (iotEdge true): not a device model' },
      { ref: 'tt-untagged', reason: 'thing type untagged: no iotEdge tag (true or false) says whether it is for edge devices' },
    ]);
    expect(doc.changes.filter((c: any) => c.action === 'delete').map((c: any) => c.ref)).toEqual(['tt-fresh', 'tt-old', 'tt-vanished']);
    expect(doc.remoteActions).toEqual([
      {
        kind: 'delete-thing-type',
        ref: 'old',
        description: 'delete thing type old in AWS, then its dynamic thing group old',
        outcome: 'done',
        message: 'thing type deleted; dynamic thing group deleted',
      },
    ]);
    // In AWS: the old type and its dynamic group are gone; the one within its grace period stays.
    const state = aws.emulator.state();
    expect(state.thingTypes).toEqual(['fresh', 'gateway', 'meter', 'sensor', 'untagged']);
    expect(state.thingGroups).toEqual(['fresh', 'older', 'static-group']);
    // One describe per type, tags only for the types that are not deprecated, one delete each, and
    // for the one type past its grace period, one ListThings (one thing at most) asking whether
    // things still have it (AWS refuses to delete it then).
    expect(doc.apiCalls.operations).toEqual({
      DeleteDynamicThingGroup: 1,
      DeleteThingType: 1,
      DescribeThingType: 6,
      ListTagsForResource: 4,
      ListThings: 1,
      ListThingTypes: 1,
    });
    // The run log: the action under the type's name, the skips, and the run's summary counting the action.
    expect(await events(doc.runId, 'action')).toEqual([
      { level: 'info', ref: 'old', message: 'delete thing type old in AWS, then its dynamic thing group old: thing type deleted; dynamic thing group deleted' },
    ]);
    expect((await events(doc.runId, 'skip')).map((e) => e.ref)).toEqual(['tt-gateway', 'tt-untagged']);
    const runRow = await db.knex()('sync_runs').where('id', doc.runId).first();
    expect(runRow.status).toBe('ok');
    expect(JSON.parse(runRow.summary).actions).toEqual({ planned: 1, done: 1, failed: 0, skipped: 0 });

    // The next pass: nothing left to do, in the portal or in AWS.
    const again = await run(['--detailed-exitcode']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('No changes.');
    expect(aws.emulator.state().thingTypes).toContain('fresh');
  });

  it('shows the remote action with its own marker in the table, and counts it as a change', async () => {
    await run([]);
    // Only a remote action this time: a type deprecated long ago appears (the fixture, rewritten, is
    // the whole account again: without the old type, deleted by the first pass).
    const withoutOld = BASE().filter((t) => t.name !== 'old');
    aws.write(fleet([...withoutOld, { name: 'older', id: 'tt-older', tags: {}, deprecated: true, deprecationDate: ago(60 * MINUTE) }]));
    const result = await run(['--detailed-exitcode']);
    expect(result.code, result.stderr).toBe(2);
    const line = result.stdout.split('\n').find((l) => l.includes('older'));
    expect(line).toMatch(/│ > │ older\s*│ delete thing type older in AWS, then its dynamic thing group older: done, thing type deleted; dynamic thing group deleted/);
    expect(result.stdout).toContain('Plan: 0 to create, 0 to update, 0 to delete, 1 remote action (1 done), 2 unchanged, 2 skipped.');
  });

  it('updates a model whose description changed, leaving its LoRa flag alone', async () => {
    await seedModels([{ id: 'tt-sensor', name: 'sensor', description: 'Old text', lora: true }]);
    const { result, doc } = await runJson();
    expect(result.code, result.stderr).toBe(0);
    const change = doc.changes.find((c: any) => c.ref === 'tt-sensor');
    expect(change).toMatchObject({ action: 'update', cause: 'live', fields: [{ field: 'description', old: 'Old text', new: 'Temperature sensor' }] });
    expect((await models()).find((m: any) => m.id === 'tt-sensor')).toEqual({ id: 'tt-sensor', name: 'sensor', description: 'Temperature sensor', support_lora_features: true });
    const history = await db.knex()('sync_events').where({ type: 'update', ref: 'tt-sensor' }).pluck('message');
    expect(history).toEqual(['updated device model: description: "Old text" -> "Temperature sensor"']);
  });

  it("leaves the Azure fleet's models alone and adopts its own types' models, as emulate --seed-models seeds examples/fleet.json", async () => {
    const example = JSON.parse(readFileSync(new URL('../../examples/fleet.json', import.meta.url), 'utf8'));
    aws.write(example);
    // What `emulate --fixture examples/fleet.json --seed-models` writes: the hub's models and those of the AWS things' types.
    const seeded = [...example.deviceModels, ...seedModelsOf(aws.emulator.fixture()).deviceModels];
    await upsertDeviceModels(
      db.knex(),
      seeded.map((m: any) => ({ id: m.id, name: m.name, description: m.description ?? null, supportLoRaFeatures: m.supportLoRaFeatures === true })),
    );
    await seedDevice('thermo-boiler-room', 'm-thermo');
    const azure = (await models()).filter((m: any) => m.id.startsWith('m-'));
    expect(azure.map((m: any) => m.id)).toEqual(['m-door', 'm-lora-th', 'm-thermo']);

    const { result, doc } = await runJson();
    expect(result.code, result.stderr).toBe(0);
    // The AWS types' models the seeding wrote are adopted (a create each, with a warning saying so); Azure's are not planned at all.
    expect(doc.summary).toMatchObject({ create: 2, update: 0, delete: 0, failed: 0 });
    expect(doc.changes.map((c: any) => [c.action, c.ref])).toEqual([
      ['create', 'tt-door-sensor'],
      ['create', 'tt-thermometer'],
    ]);
    expect(doc.warnings.map((w: any) => w.ref)).toEqual(['tt-door-sensor', 'tt-thermometer']);
    expect(doc.warnings[0].message).toMatch(/^adopts the existing device model tt-door-sensor, which no command owned/);
    // retired-probe, deprecated long ago, is still the type of probe-old: AWS would refuse to delete it, so no deletion is planned.
    expect(doc.remoteActions).toEqual([]);
    expect(doc.skipped).toContainEqual({
      ref: 'retired-probe',
      reason: expect.stringMatching(/^thing type retired-probe, deprecated \d+ days ago, but 1 thing still has this type \(probe-old\): AWS refuses to delete it/),
    });
    expect(aws.emulator.state().thingTypes).toContain('retired-probe');
    expect([...doc.skipped.map((s: any) => s.ref)].filter((r: string) => r.startsWith('m-'))).toEqual([]);
    expect((await models()).filter((m: any) => m.id.startsWith('m-'))).toEqual(azure);
    expect(await owners()).toEqual({ 'm-door': null, 'm-lora-th': null, 'm-thermo': null, 'tt-door-sensor': 'door-sensor', 'tt-thermometer': 'thermometer' });

    // Passes after it: nothing to do, and the Azure models are still there, the LoRa flag of m-lora-th with them.
    const again = await runJson('--detailed-exitcode');
    expect(again.result.code, again.result.stderr).toBe(0);
    expect(again.doc.summary).toMatchObject({ create: 0, update: 0, delete: 0 });
    expect(again.doc.warnings).toEqual([]);
    expect((await models()).filter((m: any) => m.id.startsWith('m-'))).toEqual(azure);
    // Even a listing with no type at all left deletes only the adopted models (devices use none of them).
    aws.write(fleet([]));
    const empty = await runJson();
    expect(empty.result.code, empty.result.stderr).toBe(0);
    expect(empty.doc.changes.map((c: any) => [c.action, c.ref])).toEqual([
      ['delete', 'tt-door-sensor'],
      ['delete', 'tt-thermometer'],
    ]);
    expect(await models()).toEqual(azure);
  });

  it('adopts an unowned model of a listed type (LoRa flag kept), and never touches an unowned one of an unlisted id', async () => {
    await seedModels([
      { id: 'tt-sensor', name: 'sensor (portal)', description: 'Old text', lora: true, owner: null },
      { id: 'tt-stray', name: 'stray', owner: null },
      { id: 'tt-vanished', name: 'vanished' },
    ]);
    const { result, doc } = await runJson();
    expect(result.code, result.stderr).toBe(0);
    expect(doc.changes.map((c: any) => [c.action, c.ref])).toEqual([
      ['create', 'tt-meter'],
      ['create', 'tt-sensor'],
      ['delete', 'tt-vanished'],
    ]);
    expect(doc.warnings).toEqual([
      {
        ref: 'tt-sensor',
        message:
          'adopts the existing device model tt-sensor, which no command owned: thing-types sets its name and description and owns it from now on (its LoRa flag is kept)',
      },
    ]);
    expect(await models()).toEqual([
      { id: 'tt-meter', name: 'meter', description: 'Power meter', support_lora_features: false },
      { id: 'tt-sensor', name: 'sensor', description: 'Temperature sensor', support_lora_features: true },
      { id: 'tt-stray', name: 'stray', description: null, support_lora_features: false },
    ]);
    expect(await owners()).toEqual({ 'tt-meter': 'meter', 'tt-sensor': 'sensor', 'tt-stray': null });
    // The run log tells the model's story: adopted (the warning), then created.
    const story = await db.knex()('sync_events').where({ ref: 'tt-sensor' }).orderBy('id').select('type', 'message');
    expect(story.map((e: any) => e.type).sort()).toEqual(['create', 'warning']);
  });

  it('a renamed type (same thingTypeId) updates its model and the owner mark', async () => {
    await seedModels([{ id: 'tt-sensor', name: 'thermo-sensor', description: 'Temperature sensor' }]);
    const { result, doc } = await runJson();
    expect(result.code, result.stderr).toBe(0);
    expect(doc.changes.find((c: any) => c.ref === 'tt-sensor')).toMatchObject({ action: 'update', fields: [{ field: 'name', old: 'thermo-sensor', new: 'sensor' }] });
    expect((await owners())['tt-sensor']).toBe('sensor');
  });

  it('dry run: shows the deletion in AWS and skips it, leaving AWS and the database untouched', async () => {
    await seedModels([{ id: 'tt-old', name: 'old' }]);
    const { result, doc } = await runJson('--dry-run', '--detailed-exitcode');
    expect(result.code, result.stderr).toBe(2);
    expect(doc.dryRun).toBe(true);
    expect(doc.remoteActions).toEqual([
      { kind: 'delete-thing-type', ref: 'old', description: 'delete thing type old in AWS, then its dynamic thing group old', outcome: 'skipped', reason: 'dry run' },
    ]);
    expect(doc.apiCalls.operations.DeleteThingType).toBeUndefined();
    const table = await run(['--dry-run']);
    expect(table.stdout).toMatch(/│ > │ old\s*│ delete thing type old in AWS, then its dynamic thing group old\s*│/);
    // A model is named by its type's name, its thingTypeId beside it: listed, or stored (a delete).
    // Models have no version of their own: the table shows none.
    expect(table.stdout).toMatch(/│ \+ │ sensor \(tt-sensor\)\s*│ create\s*│/);
    expect(table.stdout).toMatch(/│ - │ old \(tt-old\)\s*│ delete\s*│/);
    expect(table.stdout).toContain('Dry run: nothing was changed.');
    expect(aws.emulator.state().thingTypes).toContain('old');
    expect(aws.emulator.state().thingGroups).toContain('old');
    expect(aws.emulator.stats().requests.DeleteThingType ?? 0).toBe(0);
    expect(await models()).toEqual([{ id: 'tt-old', name: 'old', description: null, support_lora_features: false }]);
    expect(Number((await db.knex()('sync_runs').count({ n: '*' }))[0]!.n)).toBe(0);
  });

  it('one failed deletion makes the pass partial (exit 3); the other deletions and the rows are still done, and recorded', async () => {
    aws.write(
      fleet([...BASE(), { name: 'older', id: 'tt-older', tags: {}, deprecated: true, deprecationDate: ago(60 * MINUTE) }], {
        faults: [{ operation: 'DeleteThingType', kind: 'error', status: 500, times: 1 }],
      }),
    );
    const { result, doc } = await runJson('--max-retries', '0');
    expect(result.code, result.stderr).toBe(3);
    expect(doc.status).toBe('partial');
    expect(doc.remoteActions.map((a: any) => [a.ref, a.outcome])).toEqual([
      ['old', 'failed'],
      ['older', 'done'],
    ]);
    expect(doc.remoteActions[0].error).toMatch(/^AWS DeleteThingType \(thing type old\) failed after 1 attempt: InternalFailureException \(HTTP 500\)/);
    expect(await models()).toHaveLength(2);
    const state = aws.emulator.state();
    expect(state.thingTypes).toContain('old');
    expect(state.thingGroups).toContain('old');
    expect(state.thingTypes).not.toContain('older');
    expect(state.thingGroups).not.toContain('older');
    const recorded = await events(doc.runId, 'action');
    expect(recorded.map((e) => [e.ref, e.level])).toEqual([
      ['old', 'error'],
      ['older', 'info'],
    ]);
    const runRow = await db.knex()('sync_runs').where('id', doc.runId).first();
    expect(runRow.status).toBe('partial');
    expect(Number(runRow.exit_code)).toBe(3);
    expect(JSON.parse(runRow.summary).actions).toEqual({ planned: 2, done: 1, failed: 1, skipped: 0 });
    // The failed one is planned again by the next pass, and done.
    const next = await runJson();
    expect(next.result.code, next.result.stderr).toBe(0);
    expect(next.doc.remoteActions.map((a: any) => [a.ref, a.outcome])).toEqual([['old', 'done']]);
  });

  it('a throttled call is retried and the pass succeeds', async () => {
    aws.write(fleet(BASE(), { faults: [{ operation: 'ListThingTypes', kind: 'throttle', times: 1 }, { operation: 'DescribeThingType', kind: 'throttle', times: 1 }] }));
    const { result, doc } = await runJson();
    expect(result.code, result.stderr).toBe(0);
    expect(doc.apiCalls.operations.ListThingTypes).toBe(2);
    expect(doc.apiCalls.operations.DescribeThingType).toBe(7);
    expect(doc.quota.throttledRequests).toBe(2);
    expect(await models()).toHaveLength(2);
    // Throttling is the quota at work: no warning on stderr, the count ends the table's last line.
    expect(result.stderr).not.toContain('ThrottlingException');
    aws.write(fleet(BASE(), { faults: [{ operation: 'ListThingTypes', kind: 'throttle', times: 1 }, { operation: 'DescribeThingType', kind: 'throttle', times: 1 }] }));
    const table = await run([]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/API calls; 2 throttled, \d+\.\d s waited on the quota\)\./);
  });

  it('a next token that repeats ends the listing with an error, deleting nothing, instead of looping', async () => {
    await seedModels([{ id: 'tt-vanished', name: 'vanished' }]);
    aws.write(fleet(BASE(), { faults: [{ operation: 'ListThingTypes', kind: 'repeat-token' }] }));
    const { result, doc } = await runJson();
    expect(result.code).toBe(3);
    expect(doc.status).toBe('partial');
    expect(doc.failed).toContainEqual({ ref: null, error: expect.stringContaining('gave the next token already used for page 2') });
    expect(aws.emulator.stats().requests.ListThingTypes).toBe(2);
    expect((await models()).map((m: any) => m.id)).toEqual(['tt-meter', 'tt-sensor', 'tt-vanished']);
  });

  it('keeps a model that devices use, and does not delete its deprecated type in AWS either', async () => {
    await seedModels([
      { id: 'tt-old', name: 'old' },
      { id: 'tt-vanished', name: 'vanished' },
    ]);
    await seedDevice('d-1', 'tt-old');
    await seedDevice('d-2', 'tt-vanished');
    await seedDevice('d-3', 'tt-vanished');
    const { result, doc } = await runJson();
    expect(result.code, result.stderr).toBe(0);
    expect(doc.remoteActions).toEqual([]);
    expect(doc.skipped).toEqual(
      expect.arrayContaining([
        {
          ref: 'tt-old',
          reason: 'thing type old is deprecated, but the model is still used by 1 device: not deleted, and the type is not deleted in AWS either',
        },
        { ref: 'tt-vanished', reason: 'no live thing type has this id, but still used by 2 devices: not deleted' },
      ]),
    );
    expect((await models()).map((m: any) => m.id)).toEqual(['tt-meter', 'tt-old', 'tt-sensor', 'tt-vanished']);
    expect(aws.emulator.state().thingTypes).toContain('old');
    expect(aws.emulator.stats().requests.DeleteThingType ?? 0).toBe(0);
  });

  it('does not delete a long-deprecated type that things still have (AWS would refuse), says why, and deletes it once they are gone', async () => {
    await seedModels([{ id: 'tt-old', name: 'old' }]);
    // Things of the old type: one of them, then two; and one of the type deprecated too recently for a check.
    const things = [
      { name: 'probe-1', type: 'old' },
      { name: 'probe-2', type: 'old' },
      { name: 'fresh-1', type: 'fresh' },
      { name: 'sensor-1', type: 'sensor' },
    ];
    aws.write(fleet(BASE(), { things: things.filter((t) => t.name !== 'probe-2') }));
    const { result, doc } = await runJson('--detailed-exitcode');
    // The model still leaves the portal (a deprecated type is no device model): a change, exit 2, not 3.
    expect(result.code, result.stderr).toBe(2);
    expect(doc.status).toBe('ok');
    expect(doc.summary).toMatchObject({ create: 2, delete: 1, skipped: 3, failed: 0 });
    expect(doc.changes.filter((c: any) => c.action === 'delete').map((c: any) => c.ref)).toEqual(['tt-old']);
    expect(doc.remoteActions).toEqual([]);
    expect(doc.skipped).toContainEqual({
      ref: 'old',
      reason: 'thing type old, deprecated 10 min ago, but 1 thing still has this type (probe-1): AWS refuses to delete it; retype or delete that thing first',
    });
    // One ListThings for the one type past its grace period, none for the others; no DeleteThingType at all.
    expect(doc.apiCalls.operations).toEqual({ DescribeThingType: 6, ListTagsForResource: 4, ListThings: 1, ListThingTypes: 1 });
    expect(aws.emulator.state().thingTypes).toContain('old');
    expect(aws.emulator.state().thingGroups).toContain('old');
    expect(aws.emulator.stats().requests.DeleteThingType ?? 0).toBe(0);
    expect(await events(doc.runId, 'skip')).toContainEqual({ level: 'info', ref: 'old', message: doc.skipped.find((s: any) => s.ref === 'old').reason });
    expect((await models()).map((m: any) => m.id)).toEqual(['tt-meter', 'tt-sensor']);

    // Every later pass says it again, and is not partial for it: exit 0, no changes.
    aws.write(fleet(BASE(), { things }));
    const table = await run(['--detailed-exitcode']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toContain('No changes.');
    expect(table.stdout).toMatch(/│ ! │ old\s*│ skipped: thing type old, deprecated 10 min ago, but 1\+ things still have this type \(e\.g\. probe-1\): AWS refuses/);
    const json = await runJson();
    expect(json.result.code, json.result.stderr).toBe(0);
    expect(json.doc.skipped).toContainEqual({
      ref: 'old',
      reason: 'thing type old, deprecated 10 min ago, but 1+ things still have this type (e.g. probe-1): AWS refuses to delete it; retype or delete those things first',
    });
    expect(aws.emulator.state().thingTypes).toContain('old');

    // The things retyped (the fixture rewritten without them): the next pass deletes the type and its group.
    aws.write(fleet(BASE(), { things: things.filter((t) => t.type !== 'old') }));
    const after = await runJson();
    expect(after.result.code, after.result.stderr).toBe(0);
    expect(after.doc.skipped.map((s: any) => s.ref)).not.toContain('old');
    expect(after.doc.remoteActions).toEqual([expect.objectContaining({ ref: 'old', outcome: 'done', message: 'thing type deleted; dynamic thing group deleted' })]);
    expect(aws.emulator.state().thingTypes).not.toContain('old');
    expect(aws.emulator.state().thingGroups).not.toContain('old');
  });

  it('a failed check for things of a long-deprecated type plans no deletion and makes the pass partial', async () => {
    aws.write(fleet(BASE(), { faults: [{ operation: 'ListThings', kind: 'error', status: 500, times: 1 }] }));
    const { result, doc } = await runJson('--max-retries', '0');
    expect(result.code, result.stderr).toBe(3);
    expect(doc.status).toBe('partial');
    expect(doc.remoteActions).toEqual([]);
    expect(doc.failed).toEqual([
      {
        ref: 'old',
        error: expect.stringMatching(
          /^thing type old, deprecated 10 min ago, is not deleted in AWS: whether things still have it could not be read: AWS ListThings \(things of thing type old\) failed after 1 attempt: InternalFailureException \(HTTP 500\)/,
        ),
      },
    ]);
    // The rest of the pass is applied: the models of the standard types are created.
    expect((await models()).map((m: any) => m.id)).toEqual(['tt-meter', 'tt-sensor']);
    expect(aws.emulator.state().thingTypes).toContain('old');
    expect(aws.emulator.stats().requests.DeleteThingType ?? 0).toBe(0);
    expect(await events(doc.runId, 'fail')).toEqual([{ level: 'error', ref: 'old', message: doc.failed[0].error }]);
    const runRow = await db.knex()('sync_runs').where('id', doc.runId).first();
    expect(runRow.status).toBe('partial');
    expect(Number(runRow.exit_code)).toBe(3);
    // The fault spent, the next pass checks again, finds no thing of the type, and deletes it.
    const next = await runJson('--max-retries', '0');
    expect(next.result.code, next.result.stderr).toBe(0);
    expect(next.doc.remoteActions.map((a: any) => [a.ref, a.outcome])).toEqual([['old', 'done']]);
  });

  it('a refused pass (mass-delete guard) deletes nothing in AWS either, and records why', async () => {
    await seedModels(Array.from({ length: 12 }, (_, i) => ({ id: `tt-gone-${i}`, name: `gone-${i}` })));
    const { result, doc } = await runJson();
    expect(result.code).toBe(1);
    expect(doc.status).toBe('refused');
    expect(doc.remoteActions).toEqual([
      expect.objectContaining({ ref: 'old', outcome: 'skipped', reason: 'the mass-delete guard refused the pass' }),
    ]);
    expect(aws.emulator.state().thingTypes).toContain('old');
    expect(await events(doc.runId, 'action')).toEqual([
      { level: 'warn', ref: 'old', message: 'delete thing type old in AWS, then its dynamic thing group old not done: the mass-delete guard refused the pass' },
    ]);
  });
});

describe('thing-types configuration and reachability', () => {
  let db: TestDatabase;
  let aws: TestAws;
  let lockDir: string;
  let home: string;

  beforeEach(async () => {
    db = await createTestDatabase('sqlite');
    await migrateLatest(db.knex());
    aws = await startTestAws(fleet([SENSOR]));
    lockDir = mkdtempSync(join(tmpdir(), 'portal-sync-locks-'));
    // No ~/.aws of the developer's, and no instance metadata to wait for: the chain finds nothing.
    home = mkdtempSync(join(tmpdir(), 'portal-sync-home-'));
  });

  afterEach(async () => {
    await aws.close();
    await db.drop();
    rmSync(lockDir, { recursive: true, force: true });
    rmSync(home, { recursive: true, force: true });
  });

  const run = (env: Record<string, string | undefined>, ...args: string[]) =>
    runCli(['thing-types', '--db', db.url, '--lock-dir', lockDir, ...args], { HOME: home, AWS_EC2_METADATA_DISABLED: 'true', ...env });
  const errorLines = (result: CliResult) => result.stderr.split('\n').filter((l) => l.trim() !== '');

  it('--deprecation-grace sets the grace period: a type deprecated 10 minutes ago stays in AWS under a 20m grace', async () => {
    aws.write(fleet([SENSOR, OLD()]));
    const result = await run(aws.env(), '--deprecation-grace', '20m', '--json');
    expect(result.code, result.stderr).toBe(0);
    expect(parseJson(result).remoteActions).toEqual([]);
    expect(aws.emulator.state().thingTypes).toEqual(['old', 'sensor']);
    const bad = await run(aws.env(), '--deprecation-grace', '5');
    expect(bad.code).toBe(64);
    expect(bad.stderr).toContain('--deprecation-grace');
  });

  it('missing region: exit 78, one line saying so', async () => {
    const result = await run({ ...aws.env(), AWS_REGION: undefined });
    expect(result.code).toBe(78);
    expect(errorLines(result)).toEqual(['error: no AWS region: set AWS_REGION (or a region in the AWS_PROFILE profile of the AWS config file)']);
    expect(aws.emulator.stats().total).toBe(0);
  });

  it('missing credentials: exit 78, one line saying so', async () => {
    const result = await run({ ...aws.env(), AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined });
    expect(result.code).toBe(78);
    const lines = errorLines(result);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^error: no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE/);
    expect(aws.emulator.stats().total).toBe(0);
  });

  it('a bad endpoint URL is a configuration error naming the variable', async () => {
    const result = await run({ ...aws.env(), AWS_ENDPOINT_URL_IOT: 'localhost:1234' });
    expect(result.code).toBe(78);
    expect(errorLines(result)).toEqual(['error: AWS_ENDPOINT_URL_IOT must be an http(s) URL']);
  });

  it('an unreachable endpoint: exit 69', async () => {
    const dead = aws.emulator.url;
    await aws.close();
    aws = await startTestAws(fleet([SENSOR]));
    const result = await run({ ...aws.env(), AWS_ENDPOINT_URL_IOT: dead }, '--max-retries', '1');
    expect(result.code).toBe(69);
    expect(result.stderr).toContain(`AWS ListThingTypes failed after 2 attempts: AWS IoT at ${dead} is unreachable (ECONNREFUSED)`);
  });

  it('a wrong access key id: exit 78, naming the operation, never printing a key', async () => {
    const result = await run({ ...aws.env(), AWS_ACCESS_KEY_ID: 'AKIAWRONGKEY00000000' });
    expect(result.code).toBe(78);
    expect(result.stderr).toContain('AWS ListThingTypes was refused: AccessDeniedException (HTTP 403)');
    for (const output of [result.stdout, result.stderr]) {
      expect(output).not.toContain(SECRET);
      expect(output).not.toContain('AKIAWRONGKEY00000000');
    }
    const runRow = await db.knex()('sync_runs').orderBy('id', 'desc').first();
    expect(Number(runRow.exit_code)).toBe(78);
    expect(runRow.error).not.toContain(SECRET);
  });
});
