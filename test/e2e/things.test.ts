/**
 * `things` end to end: the built CLI as a separate process, the real AWS SDK clients, the AWS
 * emulator over loopback, on SQLite and PostgreSQL. Calls are counted by the emulator itself
 * (reset before each pass), so "no per-thing call at steady state" is what AWS would have seen.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrateLatest } from '../../src/store/migrate.js';
import { BACKENDS, createTestDatabase, type TestDatabase } from '../support/backends.js';
import { startTestAws, type TestAws } from '../support/aws.js';
import { parseJson, runCli, type CliResult } from '../support/cli.js';

type Spec = Record<string, unknown>;

const TYPES: Spec[] = [
  { name: 'sensor', id: 'tt-sensor', tags: { iotEdge: 'false' } },
  { name: 'gateway', id: 'tt-gateway', tags: { iotEdge: 'true' } },
  { name: 'untagged', id: 'tt-untagged', tags: { owner: 'ops' } },
  { name: 'meter', id: 'tt-meter', tags: { iotEdge: 'false' } },
];

/** Things with explicit ids (`id-<name>`), so rows and refs are readable. */
const thing = (name: string, type: string | null, version: number, extra: Spec = {}): Spec => ({
  name,
  id: `id-${name}`,
  ...(type ? { type } : {}),
  version,
  ...extra,
});

const BASE_THINGS = (): Spec[] => [
  thing('s1', 'sensor', 1, { shadow: true, attributes: { site: 'Lyon' } }),
  thing('s2', 'sensor', 2, { shadow: false }),
  thing('g1', 'gateway', 1, { attributes: { site: 'Nice' } }),
  thing('g2', 'gateway', 1),
  thing('n1', null, 1, { shadow: true }),
  thing('u1', 'untagged', 1, { shadow: true }),
  thing('m1', 'meter', 1, { shadow: true }),
];
const BASE_CORES = (): Spec[] => [
  { thingName: 'g1', status: 'HEALTHY' },
  { thingName: 'g2', status: 'UNHEALTHY' },
];

function fleet(things: Spec[] = BASE_THINGS(), extra: Spec = {}): Spec {
  return { thingTypes: TYPES, things, coreDevices: BASE_CORES(), ...extra };
}

describe.each(BACKENDS)('things end to end on %s', (backend) => {
  let db: TestDatabase;
  let aws: TestAws;
  let lockDir: string;

  beforeEach(async () => {
    db = await createTestDatabase(backend);
    const k = db.knex();
    await migrateLatest(k);
    await k('device_models').insert([
      { id: 'dm-sensor', name: 'sensor', support_lora_features: false },
      { id: 'dm-untagged', name: 'untagged', support_lora_features: false },
    ]);
    await k('edge_device_models').insert({ id: 'em-gateway', name: 'gateway' });
    // Azure's rows, which no things pass may touch.
    await k('devices').insert({ id: 'az-1', version: 7, name: 'azure device', device_model_id: 'dm-sensor' });
    await k('edge_devices').insert({ id: 'az-e', version: 7, name: 'azure edge', device_model_id: 'em-gateway', connection_state: 'Connected' });
    aws = await startTestAws(fleet());
    lockDir = mkdtempSync(join(tmpdir(), 'portal-sync-locks-'));
  });

  afterEach(async () => {
    await aws.close();
    await db.drop();
    rmSync(lockDir, { recursive: true, force: true });
  });

  const run = (args: string[] = []): Promise<CliResult> => {
    aws.emulator.resetStats();
    return runCli(['things', '--db', db.url, '--lock-dir', lockDir, ...args], aws.env());
  };
  const runJson = async (...args: string[]) => {
    const result = await run(['--json', ...args]);
    return { result, doc: parseJson(result) };
  };
  /** What the emulator answered, per operation, since the pass started. */
  const calls = () => aws.emulator.stats().requests;
  const devices = async () =>
    (await db.knex()('devices').orderBy('id').select('id', 'version', 'name', 'device_model_id', 'thing_name')).map((r: any) => ({ ...r, version: Number(r.version) }));
  const edges = async () =>
    (await db.knex()('edge_devices').orderBy('id').select('id', 'version', 'name', 'device_model_id', 'connection_state', 'thing_name')).map((r: any) => ({ ...r, version: Number(r.version) }));
  const facts = async () =>
    (await db.knex()('aws_thing_facts').orderBy('thing_name').select('thing_name', 'thing_id', 'version', 'has_classic_shadow')).map((r: any) => ({
      ...r,
      version: Number(r.version),
      has_classic_shadow: r.has_classic_shadow === null ? null : Boolean(r.has_classic_shadow),
    }));
  const AZURE_DEVICE = { id: 'az-1', version: 7, name: 'azure device', device_model_id: 'dm-sensor', thing_name: null };
  const AZURE_EDGE = { id: 'az-e', version: 7, name: 'azure edge', device_model_id: 'em-gateway', connection_state: 'Connected', thing_name: null };
  const S1 = { id: 'id-s1', version: 1, name: 's1', device_model_id: 'dm-sensor', thing_name: 's1' };
  const G1 = { id: 'id-g1', version: 1, name: 'g1', device_model_id: 'em-gateway', connection_state: 'Connected', thing_name: 'g1' };
  const G2 = { id: 'id-g2', version: 1, name: 'g2', device_model_id: 'em-gateway', connection_state: 'Disconnected', thing_name: 'g2' };

  it('imports standard things with a shadow and edge things by the rules, skips the rest with reasons, and asks nothing per thing at steady state', async () => {
    const { result, doc } = await runJson();
    expect(result.code, result.stderr).toBe(0);
    expect(doc.summary).toMatchObject({ create: 3, update: 0, delete: 0, skipped: 4, failed: 0 });
    expect(await devices()).toEqual([AZURE_DEVICE, S1]);
    expect(await edges()).toEqual([AZURE_EDGE, G1, G2]);
    expect(await db.knex()('device_tag_values').where('device_id', 'id-s1').select('name', 'value')).toEqual([{ name: 'site', value: 'Lyon' }]);
    expect(await db.knex()('edge_device_tag_values').where('edge_device_id', 'id-g1').select('name', 'value')).toEqual([{ name: 'site', value: 'Nice' }]);
    expect(doc.skipped).toEqual([
      { ref: 'id-s2', reason: 'the thing has no classic shadow: not imported' },
      { ref: 'm1', reason: 'thing type meter is unknown to the portal: no device model or edge device model is named meter' },
      { ref: 'n1', reason: 'the thing has no thing type' },
      { ref: 'u1', reason: 'thing type untagged: no iotEdge tag (true or false) says whether it is for edge devices' },
    ]);
    // Per thing: DescribeThing for the four importable things, GetThingShadow for the two standard
    // ones; per type: its verdict once (three types have a portal model); one ListCoreDevices.
    expect(calls()).toEqual({ ListThings: 1, DescribeThing: 4, GetThingShadow: 2, DescribeThingType: 3, ListTagsForResource: 3, ListCoreDevices: 1 });
    expect(await facts()).toEqual([
      { thing_name: 'g1', thing_id: 'id-g1', version: 1, has_classic_shadow: null },
      { thing_name: 'g2', thing_id: 'id-g2', version: 1, has_classic_shadow: null },
      { thing_name: 's1', thing_id: 'id-s1', version: 1, has_classic_shadow: true },
      { thing_name: 's2', thing_id: 'id-s2', version: 2, has_classic_shadow: false },
    ]);

    const again = await run(['--detailed-exitcode']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('No changes.');
    expect(calls()).toEqual({ ListThings: 1, DescribeThingType: 3, ListTagsForResource: 3, ListCoreDevices: 1 });
    expect(await devices()).toEqual([AZURE_DEVICE, S1]);
  });

  it('a dry run writes nothing, not even facts; the real pass then asks again', async () => {
    const dry = await run(['--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    // The table names a thing by its name, its thingId beside it (the JSON keeps the thingId alone).
    expect(dry.stdout).toContain('s1 (id-s1)');
    expect(await devices()).toEqual([AZURE_DEVICE]);
    expect(await edges()).toEqual([AZURE_EDGE]);
    expect(await facts()).toEqual([]);
    expect(await db.knex()('sync_runs').select('id')).toEqual([]);
    const { doc } = await runJson();
    expect(doc.summary.create).toBe(3);
    expect(calls().DescribeThing).toBe(4);
  });

  it('a version bump asks DescribeThing for that thing only; --full asks every importable thing', async () => {
    await run();
    const things = BASE_THINGS();
    things[0] = thing('s1', 'sensor', 2, { shadow: true, attributes: { site: 'Paris' } });
    aws.write(fleet(things));
    const { result, doc } = await runJson();
    expect(result.code, result.stderr).toBe(0);
    expect(doc.summary).toMatchObject({ create: 0, update: 1, delete: 0 });
    expect(calls()).toMatchObject({ DescribeThing: 1, GetThingShadow: 1 });
    expect((await devices()).find((d) => d.id === 'id-s1')).toMatchObject({ version: 2 });
    expect(await db.knex()('device_tag_values').where('device_id', 'id-s1').select('value')).toEqual([{ value: 'Paris' }]);

    const full = await run(['--full']);
    expect(full.code, full.stderr).toBe(0);
    expect(calls()).toMatchObject({ DescribeThing: 4, GetThingShadow: 2 });
  });

  it('a core device status change updates connection_state at the same version, with no per-thing call', async () => {
    await run();
    aws.write(fleet(BASE_THINGS(), { coreDevices: [{ thingName: 'g1', status: 'UNHEALTHY' }, { thingName: 'g2', status: 'HEALTHY' }] }));
    const { result, doc } = await runJson();
    expect(result.code, result.stderr).toBe(0);
    expect(doc.summary).toMatchObject({ update: 2 });
    expect(calls().DescribeThing).toBeUndefined();
    expect(await edges()).toEqual([AZURE_EDGE, { ...G1, connection_state: 'Disconnected' }, { ...G2, connection_state: 'Connected' }]);
  });

  it('a thing whose type switches between standard and edge moves between the tables', async () => {
    await run();
    const things = BASE_THINGS();
    things[0] = thing('s1', 'gateway', 2, { attributes: { site: 'Lyon' } });
    things[2] = thing('g1', 'sensor', 2, { shadow: true, attributes: { site: 'Nice' } });
    aws.write(fleet(things));
    const { result, doc } = await runJson();
    expect(result.code, result.stderr).toBe(0);
    expect(doc.summary).toMatchObject({ create: 0, update: 2, delete: 0, failed: 0 });
    expect(await devices()).toEqual([AZURE_DEVICE, { id: 'id-g1', version: 2, name: 'g1', device_model_id: 'dm-sensor', thing_name: 'g1' }]);
    expect(await edges()).toEqual([AZURE_EDGE, G2, { id: 'id-s1', version: 2, name: 's1', device_model_id: 'em-gateway', connection_state: 'Disconnected', thing_name: 's1' }]);
    expect(await db.knex()('edge_device_tag_values').where('edge_device_id', 'id-s1').select('value')).toEqual([{ value: 'Lyon' }]);
    expect(await db.knex()('device_tag_values').where('device_id', 'id-g1').select('value')).toEqual([{ value: 'Nice' }]);
  });

  it('removes devices and edge devices of vanished things, never Azure rows, and forgets their facts', async () => {
    await run();
    aws.write(fleet(BASE_THINGS().filter((t) => t.name !== 's1' && t.name !== 'g2')));
    const { result, doc } = await runJson();
    expect(result.code, result.stderr).toBe(0);
    expect(doc.summary).toMatchObject({ delete: 2 });
    expect(await devices()).toEqual([AZURE_DEVICE]);
    expect(await edges()).toEqual([AZURE_EDGE, G1]);
    expect((await facts()).map((f) => f.thing_name)).toEqual(['g1', 's2']);
  });

  it('never writes over an Azure row whose id is a thingId: a conflict, left as it is', async () => {
    const things = BASE_THINGS();
    things[0] = { ...things[0], id: 'az-1' };
    aws.write(fleet(things));
    const { result, doc } = await runJson();
    expect(result.code, result.stderr).toBe(0);
    expect(doc.applied.conflicts).toEqual(['az-1']);
    expect(await devices()).toEqual([AZURE_DEVICE]);
  });

  it('a throttled DescribeThing is retried and then succeeds', async () => {
    aws.write(fleet(BASE_THINGS(), { faults: [{ operation: 'DescribeThing', kind: 'throttle', times: 1, retryAfterSeconds: 0 }] }));
    const { result, doc } = await runJson();
    expect(result.code, result.stderr).toBe(0);
    expect(doc.summary).toMatchObject({ create: 3, failed: 0 });
    expect(aws.emulator.stats().faults).toEqual({ DescribeThing: 1 });
    expect(calls().DescribeThing).toBe(5);
  });

  it('a thing whose DescribeThing fails is failed, not deleted; the others go on; exit 3', async () => {
    await run();
    const things = BASE_THINGS();
    things[0] = thing('s1', 'sensor', 2, { shadow: true });
    things.push(thing('s3', 'sensor', 1, { shadow: true }));
    aws.write(fleet(things, { faults: [{ operation: 'DescribeThing', kind: 'thing', thing: 's1' }] }));
    const { result, doc } = await runJson('--max-retries', '0');
    expect(result.code, result.stderr).toBe(3);
    expect(doc.status).toBe('partial');
    expect(doc.failed.map((f: any) => f.ref)).toEqual(['id-s1']);
    expect(doc.summary).toMatchObject({ create: 1, delete: 0, failed: 1 });
    expect(await devices()).toEqual([AZURE_DEVICE, S1, { id: 'id-s3', version: 1, name: 's3', device_model_id: 'dm-sensor', thing_name: 's3' }]);
    // Its fact stays at the old version: the next pass asks again.
    expect((await facts()).find((f) => f.thing_name === 's1')).toMatchObject({ version: 1 });
  });

  it('a next token that repeats ends the listing with an error, deletes nothing, and does not hang', async () => {
    await run();
    aws.write(fleet(BASE_THINGS().filter((t) => t.name !== 's1'), { faults: [{ operation: 'ListThings', kind: 'repeat-token' }] }));
    const { result, doc } = await runJson();
    expect(result.code, result.stderr).toBe(3);
    expect(doc.deletesWithheld).toMatch(/next token already used/);
    expect(doc.summary.delete).toBe(0);
    expect(await devices()).toEqual([AZURE_DEVICE, S1]);
    // Facts are forgotten only after a complete listing.
    expect((await facts()).map((f) => f.thing_name)).toContain('s1');
  });

  it('when ListCoreDevices fails, edge things fail (not guessed disconnected), standard things go on, nothing is deleted', async () => {
    await run();
    const things = BASE_THINGS().filter((t) => t.name !== 'g2');
    things.push(thing('s3', 'sensor', 1, { shadow: true }));
    aws.write(fleet(things, { faults: [{ operation: 'ListCoreDevices', kind: 'error', status: 500 }] }));
    const { result, doc } = await runJson('--max-retries', '0');
    expect(result.code, result.stderr).toBe(3);
    expect(doc.failed.map((f: any) => f.ref)).toEqual(['id-g1', null]);
    expect(doc.deletesWithheld).toMatch(/Greengrass core devices not listed/);
    expect(doc.failed[0].error).toMatch(/^its core device status was not read: /);
    expect(doc.summary).toMatchObject({ create: 1, delete: 0 });
    expect(await edges()).toEqual([AZURE_EDGE, G1, G2]);
    expect((await devices()).map((d) => d.id)).toEqual(['az-1', 'id-s1', 'id-s3']);
  });

  it('refuses a pass that would delete most of the imported rows (mass-delete guard)', async () => {
    const many = Array.from({ length: 12 }, (_, i) => thing(`t${i}`, 'sensor', 1, { shadow: true }));
    aws.write(fleet(many));
    expect((await run()).code).toBe(0);
    aws.write(fleet(many.slice(0, 2)));
    const refused = await run();
    expect(refused.code).toBe(1);
    expect(refused.stdout + refused.stderr).toMatch(/mass-delete guard/);
    expect((await devices()).length).toBe(13);
    expect((await run(['--allow-mass-delete'])).code).toBe(0);
    expect((await devices()).length).toBe(3);
  });
});
