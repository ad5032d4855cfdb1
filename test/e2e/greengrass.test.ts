/**
 * `greengrass` end to end: the built CLI as a separate process, the real AWS SDK clients, the AWS
 * emulator over loopback, on SQLite and PostgreSQL.
 *
 * The emulator lists deployments in id order. Its LATEST_ONLY listing (what the command asks for)
 * leaves out deployments that are not the latest for their target, as AWS does, so the skip of a
 * listed non-latest deployment is covered by the mapping's unit tests only; here such a deployment
 * must simply never show.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateAwsFleet, normalizeAwsFixture, seedModelsOf } from '../../src/emulators/aws/index.js';
import { migrateLatest } from '../../src/store/migrate.js';
import { upsertEdgeDeviceModels } from '../../src/store/models.js';
import { BACKENDS, createTestDatabase, type TestDatabase } from '../support/backends.js';
import { startTestAws, type TestAws } from '../support/aws.js';
import { parseJson, runCli, type CliResult } from '../support/cli.js';

const ARN = 'arn:aws:iot:eu-west-1:123456789012:';

type Spec = Record<string, unknown>;

const GROUPS: Spec[] = [
  { name: 'gateway', queryString: 'thingTypeName:gateway' },
  { name: 'camera', queryString: 'thingTypeName:camera' },
  { name: 'static-group' },
];

/**
 * d-cam: no name, to a dynamic group. d-gw and d-gw-2 both target the dynamic group gateway (a fleet
 * AWS could not hold, there to show the group is described once). d-static, d-nowhere and d-thing
 * are skipped; d-old is not the latest for its target.
 */
const DEPLOYMENTS = (): Spec[] => [
  { id: 'd-cam', target: 'thinggroup/camera', status: 'COMPLETED' },
  { id: 'd-gw', name: 'gateway-fleet', target: 'thinggroup/gateway' },
  { id: 'd-gw-2', name: 'gateway-extra', target: 'thinggroup/gateway', status: 'FAILED' },
  { id: 'd-nowhere', name: 'lost', target: 'thinggroup/nowhere' },
  { id: 'd-old', name: 'old', target: 'thinggroup/camera', isLatestForTarget: false, status: 'INACTIVE' },
  { id: 'd-static', name: 'static', target: 'thinggroup/static-group' },
  { id: 'd-thing', name: 'one-thing', target: 'thing/edge-1' },
];

const fleet = (deployments: Spec[] = DEPLOYMENTS(), extra: Record<string, unknown> = {}) => ({ thingGroups: GROUPS, deployments, ...extra });

const SKIPS = [
  { ref: 'd-nowhere', reason: 'targets thing group nowhere, which does not exist: not an edge device model' },
  {
    ref: 'd-static',
    reason: 'targets thing group static-group, a static group (no query string): only deployments to dynamic groups are edge device models',
  },
  { ref: 'd-thing', reason: `targets a single thing (${ARN}thing/edge-1), not a thing group: not an edge device model` },
];

describe.each(BACKENDS)('greengrass end to end on %s', (backend) => {
  let db: TestDatabase;
  let aws: TestAws;
  let lockDir: string;

  beforeEach(async () => {
    db = await createTestDatabase(backend);
    await migrateLatest(db.knex());
    aws = await startTestAws(fleet());
    lockDir = mkdtempSync(join(tmpdir(), 'portal-sync-locks-'));
  });

  afterEach(async () => {
    await aws.close();
    await db.drop();
    rmSync(lockDir, { recursive: true, force: true });
  });

  const run = (args: string[]): Promise<CliResult> => runCli(['greengrass', '--db', db.url, '--lock-dir', lockDir, ...args], aws.env());
  const runJson = async (...args: string[]) => {
    const result = await run(['--json', ...args]);
    return { result, doc: parseJson(result) };
  };
  const models = async () =>
    (await db.knex()('edge_device_models').orderBy('id').select('id', 'name', 'description', 'external_identifier')) as Array<Record<string, unknown>>;
  const seedModels = (rows: Array<{ id: string; name: string; description?: string | null; external?: string | null }>) =>
    db.knex()('edge_device_models').insert(
      rows.map((r) => ({ id: r.id, name: r.name, description: r.description ?? null, external_identifier: r.external === undefined ? r.id : r.external })),
    );
  const seedEdgeDevice = (id: string, model: string) =>
    db.knex()('edge_devices').insert({ id, name: id, device_model_id: model, version: 1, connection_state: 'Disconnected' });
  const changes = (doc: Record<string, any>, action: string) => doc.changes.filter((c: any) => c.action === action).map((c: any) => c.ref);

  it('makes the latest deployments to dynamic groups edge device models, skipping the others with the reason', async () => {
    const { result, doc } = await runJson();
    expect(result.code, result.stderr).toBe(0);
    expect(doc.status).toBe('ok');
    expect(doc.summary).toMatchObject({ create: 3, update: 0, delete: 0, skipped: 3, failed: 0 });
    expect(await models()).toEqual([
      { id: 'd-cam', name: 'd-cam', description: null, external_identifier: 'd-cam' },
      { id: 'd-gw', name: 'gateway-fleet', description: null, external_identifier: 'd-gw' },
      { id: 'd-gw-2', name: 'gateway-extra', description: null, external_identifier: 'd-gw-2' },
    ]);
    expect(doc.skipped).toEqual(SKIPS);
    expect(changes(doc, 'create')).toEqual(['d-cam', 'd-gw', 'd-gw-2']);
    // d-old is not the latest for its target: not listed, so neither a model nor a skip.
    expect(JSON.stringify(doc)).not.toContain('d-old');
    // One listing page, one DescribeThingGroup per group (gateway once for its two deployments), none for a thing target.
    expect(doc.apiCalls.operations).toEqual({ ListDeployments: 1, DescribeThingGroup: 4 });
    expect(aws.emulator.stats().requests).toMatchObject({ ListDeployments: 1, DescribeThingGroup: 4 });
    const skips = await db.knex()('sync_events').where({ run_id: doc.runId, type: 'skip' }).orderBy('ref').pluck('ref');
    expect(skips).toEqual(['d-nowhere', 'd-static', 'd-thing']);

    // The next pass: nothing to do.
    const again = await run(['--detailed-exitcode']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('No changes.');
  });

  it('removes models of vanished deployments, keeps one edge devices use, renames, and never touches models it does not own', async () => {
    await seedModels([
      { id: 'd-gw', name: 'old name', description: 'written in the portal' },
      { id: 'd-gone', name: 'gone' },
      { id: 'd-used', name: 'used' },
      { id: 'azure-1', name: 'Azure model', external: null },
      { id: 'd-cam', name: 'portal camera', external: 'camera-model' },
    ]);
    await seedEdgeDevice('edge-1', 'd-used');
    await seedEdgeDevice('edge-2', 'd-used');
    const { result, doc } = await runJson();
    expect(result.code, result.stderr).toBe(0);
    expect(changes(doc, 'delete')).toEqual(['d-gone']);
    expect(changes(doc, 'create')).toEqual(['d-gw-2']);
    expect(doc.changes.find((c: any) => c.ref === 'd-gw')).toMatchObject({ action: 'update', cause: 'live', fields: [{ field: 'name', old: 'old name', new: 'gateway-fleet' }] });
    expect(doc.skipped).toEqual(
      [
        ...SKIPS,
        {
          ref: 'd-cam',
          reason: 'an edge device model with this id already exists and is not one greengrass wrote (external identifier "camera-model"): not overwritten',
        },
        { ref: 'd-used', reason: 'no latest deployment to a dynamic thing group has this id, but the model is still used by 2 edge devices: not deleted' },
      ].sort((a, b) => (a.ref < b.ref ? -1 : 1)),
    );
    expect(await models()).toEqual([
      { id: 'azure-1', name: 'Azure model', description: null, external_identifier: null },
      { id: 'd-cam', name: 'portal camera', description: null, external_identifier: 'camera-model' },
      // The description is the portal's: a rename leaves it.
      { id: 'd-gw', name: 'gateway-fleet', description: 'written in the portal', external_identifier: 'd-gw' },
      { id: 'd-gw-2', name: 'gateway-extra', description: null, external_identifier: 'd-gw-2' },
      { id: 'd-used', name: 'used', description: null, external_identifier: 'd-used' },
    ]);
    const deletes = await db.knex()('sync_events').where({ run_id: doc.runId, type: 'delete' }).pluck('ref');
    expect(deletes).toEqual(['d-gone']);

    // A deployment that vanishes: its model goes in the next pass.
    aws.write(fleet(DEPLOYMENTS().filter((d) => d.id !== 'd-gw-2')));
    const next = await runJson();
    expect(next.result.code, next.result.stderr).toBe(0);
    expect(changes(next.doc, 'delete')).toEqual(['d-gw-2']);
    expect((await models()).map((m) => m.id)).toEqual(['azure-1', 'd-cam', 'd-gw', 'd-used']);
  });

  it('a DescribeThingGroup that fails fails its deployments only: their models stay, the rest is applied, exit 3', async () => {
    // --concurrency 1: groups are described in listing order, so the one failure falls on camera (d-cam comes first).
    aws.write(fleet(DEPLOYMENTS(), { faults: [{ operation: 'DescribeThingGroup', kind: 'error', status: 500, times: 1 }] }));
    await seedModels([
      { id: 'd-cam', name: 'camera' },
      { id: 'd-gone', name: 'gone' },
    ]);
    const { result, doc } = await runJson('--max-retries', '0', '--concurrency', '1');
    expect(result.code, result.stderr).toBe(3);
    expect(doc.status).toBe('partial');
    expect(doc.failed).toEqual([
      { ref: 'd-cam', error: expect.stringMatching(/^AWS DescribeThingGroup \(thing group camera\) failed after 1 attempt: InternalFailureException \(HTTP 500\)/) },
    ]);
    // The listing completed: the vanished deployment's model goes; the failed one's stays as it was.
    expect(changes(doc, 'delete')).toEqual(['d-gone']);
    expect(changes(doc, 'create')).toEqual(['d-gw', 'd-gw-2']);
    expect((await models()).map((m) => [m.id, m.name])).toEqual([
      ['d-cam', 'camera'],
      ['d-gw', 'gateway-fleet'],
      ['d-gw-2', 'gateway-extra'],
    ]);
    const runRow = await db.knex()('sync_runs').where('id', doc.runId).first();
    expect(runRow.status).toBe('partial');
    expect(Number(runRow.exit_code)).toBe(3);
  });

  it('refused credentials on DescribeThingGroup end the pass (exit 78), nothing applied', async () => {
    aws.write(fleet(DEPLOYMENTS(), { faults: [{ operation: 'DescribeThingGroup', kind: 'error', status: 403 }] }));
    await seedModels([{ id: 'd-gone', name: 'gone' }]);
    const result = await run([]);
    expect(result.code).toBe(78);
    expect(result.stderr).toContain('AWS DescribeThingGroup (thing group camera) was refused: AccessDeniedException (HTTP 403)');
    expect((await models()).map((m) => m.id)).toEqual(['d-gone']);
  });

  it('a failed ListDeployments page: what was listed is applied, nothing deleted, exit 3; a failed first page: exit 1, nothing applied', async () => {
    // 105 latest deployments: two pages of 100 at most (the most ListDeployments gives), the second one failing.
    const many = Array.from({ length: 99 }, (_, i) => ({ id: `d-z${String(i).padStart(3, '0')}`, target: `thing/edge-${i}` }));
    aws.write(fleet([...DEPLOYMENTS(), ...many], { faults: [{ operation: 'ListDeployments', kind: 'page', page: 2 }] }));
    await seedModels([{ id: 'd-gone', name: 'gone' }]);
    const { result, doc } = await runJson('--max-retries', '0');
    expect(result.code, result.stderr).toBe(3);
    expect(doc.status).toBe('partial');
    expect(doc.failed).toContainEqual({ ref: null, error: expect.stringContaining('AWS ListDeployments failed') });
    expect(changes(doc, 'delete')).toEqual([]);
    expect((await models()).map((m) => m.id)).toEqual(['d-cam', 'd-gone', 'd-gw', 'd-gw-2']);
    expect(aws.emulator.stats().requests.ListDeployments).toBe(2);

    aws.write(fleet(DEPLOYMENTS(), { faults: [{ operation: 'ListDeployments', kind: 'page', page: 1 }] }));
    const first = await runJson('--max-retries', '0');
    expect(first.result.code).toBe(1);
    expect(first.doc.status).toBe('failed');
    expect(first.doc.error).toContain('AWS ListDeployments failed after 1 attempt');
    expect((await models()).map((m) => m.id)).toEqual(['d-cam', 'd-gone', 'd-gw', 'd-gw-2']);
  });

  it('dry run: shows the plan and writes nothing, not even the run log', async () => {
    await seedModels([{ id: 'd-gone', name: 'gone' }]);
    const { result, doc } = await runJson('--dry-run', '--detailed-exitcode');
    expect(result.code, result.stderr).toBe(2);
    expect(doc.dryRun).toBe(true);
    expect(changes(doc, 'create')).toEqual(['d-cam', 'd-gw', 'd-gw-2']);
    expect(changes(doc, 'delete')).toEqual(['d-gone']);
    const table = await run(['--dry-run']);
    // The table names a model by its deployment's name, the id beside it; one without a name by its id.
    expect(table.stdout).toMatch(/│ \+ │ gateway-fleet \(d-gw\)\s+│ create\s+│/);
    expect(table.stdout).toMatch(/│ \+ │ d-cam\s+│ create\s+│/);
    expect(table.stdout).toMatch(/│ - │ gone \(d-gone\)\s+│ delete\s+│/);
    expect(table.stdout).toContain('Dry run: nothing was changed.');
    expect(await models()).toEqual([{ id: 'd-gone', name: 'gone', description: null, external_identifier: 'd-gone' }]);
    expect(Number((await db.knex()('sync_runs').count({ n: '*' }))[0]!.n)).toBe(0);
  });

  it('a throttled call is retried and the pass succeeds', async () => {
    aws.write(
      fleet(DEPLOYMENTS(), {
        faults: [
          { operation: 'ListDeployments', kind: 'throttle', times: 1 },
          { operation: 'DescribeThingGroup', kind: 'throttle', times: 1 },
        ],
      }),
    );
    const { result, doc } = await runJson();
    expect(result.code, result.stderr).toBe(0);
    expect(doc.apiCalls.operations).toEqual({ ListDeployments: 2, DescribeThingGroup: 5 });
    expect(doc.quota.throttledRequests).toBe(2);
    expect((await models()).map((m) => m.id)).toEqual(['d-cam', 'd-gw', 'd-gw-2']);
    // The quota at work, not a fault: counted (above), not warned about.
    expect(result.stderr).not.toContain('ThrottlingException');
  });

  it('a model that would outgrow its column is skipped with the reason; the others are written', async () => {
    aws.write(fleet([...DEPLOYMENTS(), { id: 'd-long', name: 'n'.repeat(256), target: 'thinggroup/camera' }]));
    const { result, doc } = await runJson();
    expect(result.code, result.stderr).toBe(0);
    expect(doc.skipped).toContainEqual({ ref: 'd-long', reason: expect.stringContaining('deploymentName is 256 characters long; at most 255 fit') });
    expect((await models()).map((m) => m.id)).toEqual(['d-cam', 'd-gw', 'd-gw-2']);
  });

  it('the mass-delete guard refuses a pass that would delete most of its models, counting only the models it owns', async () => {
    await seedModels([
      ...Array.from({ length: 12 }, (_, i) => ({ id: `d-gone-${i}`, name: `gone ${i}` })),
      ...Array.from({ length: 30 }, (_, i) => ({ id: `azure-${i}`, name: `azure ${i}`, external: null })),
    ]);
    const { result, doc } = await runJson();
    expect(result.code).toBe(1);
    expect(doc.status).toBe('refused');
    expect((await models()).length).toBe(42);
    const allowed = await runJson('--allow-mass-delete');
    expect(allowed.result.code, allowed.result.stderr).toBe(0);
    expect(changes(allowed.doc, 'delete')).toHaveLength(12);
    expect((await models()).length).toBe(33);
  });

  it('models seeded by emulate --seed-models for a generated fleet are what greengrass writes: no change', async () => {
    const generated = generateAwsFleet({ things: 40, thingTypes: 4, edge: 10, deployments: 6 });
    aws.write(generated);
    const seeded = seedModelsOf(normalizeAwsFixture(generated));
    expect(seeded.edgeDeviceModels.length).toBeGreaterThan(0);
    await upsertEdgeDeviceModels(db.knex(), seeded.edgeDeviceModels);
    const { result, doc } = await runJson('--detailed-exitcode');
    expect(result.code, result.stderr).toBe(0);
    expect(doc.summary).toMatchObject({ create: 0, update: 0, delete: 0, failed: 0 });
  });
});
