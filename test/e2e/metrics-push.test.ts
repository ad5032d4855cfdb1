/**
 * `metrics push` end to end: the CLI as cron runs it, the portal database on SQLite and PostgreSQL,
 * the real Pushgateway, and a textfile read back. The provider sources (Azure, AWS) have their own
 * suites against the emulators; here the source is the portal database (`--source db`).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Knex } from 'knex';
import { BACKENDS, createTestDatabase, type TestDatabase } from '../support/backends.js';
import { parseJson, runCli } from '../support/cli.js';
import { requireOrSkip, startPushgateway } from '../support/services.js';
import { gatewaySample } from '../support/gateway.js';

const started = await startPushgateway();
const haveGateway = requireOrSkip('metrics push against a real Pushgateway', 'skipped' in started ? { ok: false, reason: started.skipped } : { ok: true });
const gateway = 'skipped' in started ? null : started;
afterAll(() => gateway?.stop());

/** Rows as the sync commands write them: `thing_name` marks the AWS ones. */
async function seed(knex: Knex, fleet: { azureDevices: boolean[]; awsDevices: boolean[]; azureEdge: boolean[]; awsEdge: boolean[]; concentrators: number }) {
  await knex('device_models').insert({ id: 'm', name: 'model' });
  await knex('edge_device_models').insert({ id: 'em', name: 'edge model' });
  const devices = [
    ...fleet.azureDevices.map((connected, i) => ({ id: `az-${i}`, thing_name: null, connected })),
    ...fleet.awsDevices.map((connected, i) => ({ id: `aws-${i}`, thing_name: `thing-${i}`, connected })),
  ];
  for (const d of devices) {
    await knex('devices').insert({ id: d.id, name: d.id, device_model_id: 'm', version: 1, is_connected: d.connected, is_enabled: true, thing_name: d.thing_name });
  }
  const edge = [
    ...fleet.azureEdge.map((connected, i) => ({ id: `az-edge-${i}`, thing_name: null, connected })),
    ...fleet.awsEdge.map((connected, i) => ({ id: `aws-edge-${i}`, thing_name: `core-${i}`, connected })),
  ];
  for (const e of edge) {
    await knex('edge_devices').insert({ id: e.id, name: e.id, device_model_id: 'em', version: 1, connection_state: e.connected ? 'Connected' : 'Disconnected', thing_name: e.thing_name });
  }
  for (let i = 0; i < fleet.concentrators; i++) {
    await knex('concentrators').insert({ id: `c-${i}`, name: `c-${i}`, lora_region: 'EU', version: 1 });
  }
}

const FLEET = { azureDevices: [true, false, true], awsDevices: [true, false], azureEdge: [true, false], awsEdge: [false, false, true], concentrators: 4 };

describe.each(BACKENDS)('metrics push --source db (%s)', (backend) => {
  let db: TestDatabase;
  let dir: string;
  let locks: string;
  const cli = (args: string[], env: Record<string, string> = {}) =>
    runCli(['metrics', 'push', '--source', 'db', '--db', db.url, '--lock-dir', locks, ...args], env);

  beforeEach(async () => {
    db = await createTestDatabase(backend);
    dir = mkdtempSync(join(tmpdir(), 'portal-sync-metrics-'));
    locks = join(dir, 'locks');
    expect((await runCli(['migrate', '--db', db.url], {})).code).toBe(0);
    await seed(db.knex(), FLEET);
  });
  afterEach(async () => {
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('counts each provider\'s own rows, records the run, and says the deployment gauge is not held', async () => {
    for (const provider of ['azure', 'aws'] as const) {
      const doc = parseJson(await cli(['--provider', provider, '--json']));
      const own = provider === 'azure' ? { d: FLEET.azureDevices, e: FLEET.azureEdge } : { d: FLEET.awsDevices, e: FLEET.awsEdge };
      expect(doc.status).toBe('ok');
      expect(doc.exitCode).toBe(0);
      expect(doc.gauges).toEqual({
        iot_hub_portal_device_count: own.d.length,
        iot_hub_portal_connected_device_count: own.d.filter(Boolean).length,
        iot_hub_portal_edge_device_count: own.e.length,
        iot_hub_portal_connected_edge_device_count: own.e.filter(Boolean).length,
        iot_hub_portal_concentrator_count: FLEET.concentrators,
      });
      expect(doc.withheld).toEqual([expect.objectContaining({ gauges: ['iot_hub_portal_failed_deployment_count'], kind: 'unavailable' })]);
      expect(doc.apiCalls.total).toBe(0);
      const run = await db.knex()('sync_runs').where({ id: doc.runId }).first();
      expect(run.command).toBe(`metrics-push-${provider}`);
      expect(JSON.parse(run.summary).gauges).toEqual(doc.gauges);
    }
  });

  it('a dry run prints the exposition text and records nothing', async () => {
    const result = await cli(['--provider', 'azure', '--dry-run', '--format', 'prometheus']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('# TYPE iot_hub_portal_device_count gauge');
    expect(result.stdout).toMatch(/^iot_hub_portal_device_count 3$/m);
    expect(result.stdout).not.toContain('iot_hub_portal_failed_deployment_count ');
    const [{ n }] = await db.knex()('sync_runs').count({ n: '*' });
    expect(Number(n)).toBe(0);
  });

  it('writes the textfile atomically, and keeps the last value of a gauge it could not measure', async () => {
    const file = join(dir, 'portal.prom');
    expect((await cli(['--provider', 'azure', '--textfile', file])).code).toBe(0);
    expect(readFileSync(file, 'utf8')).toMatch(/^iot_hub_portal_concentrator_count 4$/m);
    // The concentrators' table is gone: that gauge cannot be measured, the others can.
    await db.knex().schema.dropTable('concentrators');
    await db.knex()('devices').where({ id: 'az-0' }).delete();
    const result = await cli(['--provider', 'azure', '--textfile', file, '--json']);
    expect(result.code).toBe(3);
    const doc = parseJson(result);
    expect(doc.status).toBe('partial');
    expect(doc.withheld).toContainEqual(expect.objectContaining({ gauges: ['iot_hub_portal_concentrator_count'], kind: 'failed' }));
    expect(doc.textfile).toEqual({ path: file, carriedOver: ['iot_hub_portal_concentrator_count'] });
    const text = readFileSync(file, 'utf8');
    expect(text).toMatch(/^iot_hub_portal_device_count 2$/m);
    expect(text).toMatch(/^iot_hub_portal_concentrator_count 4$/m);
    expect(text.match(/^# TYPE iot_hub_portal_concentrator_count gauge$/gm)).toHaveLength(1);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const events = await db.knex()('sync_events').where({ run_id: doc.runId, type: 'withheld' });
    expect(events.map((e: { message: string }) => e.message).join('\n')).toContain('iot_hub_portal_concentrator_count');
  });

  it('refuses a textfile node_exporter would not read, and a push without a fleet label', async () => {
    const bad = await cli(['--provider', 'azure', '--textfile', join(dir, 'portal.txt')]);
    expect(bad.code).toBe(64);
    expect(bad.stderr).toContain('.prom');
    const unlabelled = await cli(['--provider', 'aws', '--pushgateway', 'http://127.0.0.1:1']);
    expect(unlabelled.code).toBe(78);
    expect(unlabelled.stderr).toContain('--instance-label');
  });

  it('exits 75 while another run holds the lock', async () => {
    const { acquireFileLock } = await import('../../src/run/lock.js');
    const { databaseScope } = await import('../../src/run/pass-lock.js');
    const { parseDbUrl } = await import('../../src/store/db.js');
    const held = await acquireFileLock({ command: 'metrics-push-azure', lockDir: locks, staleMs: 60_000, scope: databaseScope(parseDbUrl(db.url)) });
    try {
      const result = await cli(['--provider', 'azure', '--json']);
      expect(result.code).toBe(75);
      expect(parseJson(result).status).toBe('locked');
      expect((await cli(['--provider', 'aws', '--json'])).code).toBe(0);
    } finally {
      await held.release();
    }
  });

  describe.runIf(haveGateway)('with the real Pushgateway', () => {
    it('pushes under job and instance, goes down when devices leave, and keeps a withheld gauge\'s last value', async () => {
      const gw = gateway!.url;
      const push = (extra: string[] = []) => cli(['--provider', 'azure', '--pushgateway', gw, '--instance-label', `hub-${backend}`, '--json', ...extra]);
      const labels = { job: 'iot_hub_portal', instance: `hub-${backend}` };
      const first = parseJson(await push());
      expect(first.pushed).toEqual({ url: `${gw}/`, job: 'iot_hub_portal', instance: `hub-${backend}` });
      expect(await gatewaySample(gw, 'iot_hub_portal_device_count', labels)).toBe(3);
      expect(await gatewaySample(gw, 'iot_hub_portal_concentrator_count', labels)).toBe(4);
      expect(await gatewaySample(gw, 'iot_hub_portal_failed_deployment_count', labels)).toBeNull();
      // The run's own metrics in their usual group.
      expect(await gatewaySample(gw, 'portal_sync_run_status', { job: 'portal_sync', command: 'metrics-push-azure' })).toBe(0);

      await db.knex()('devices').whereIn('id', ['az-0', 'az-1']).delete();
      await db.knex().schema.dropTable('concentrators');
      const second = await push();
      expect(second.code).toBe(3);
      expect(await gatewaySample(gw, 'iot_hub_portal_device_count', labels)).toBe(1);
      expect(await gatewaySample(gw, 'iot_hub_portal_connected_device_count', labels)).toBe(1);
      expect(await gatewaySample(gw, 'iot_hub_portal_concentrator_count', labels)).toBe(4);
      expect(await gatewaySample(gw, 'portal_sync_run_status', { job: 'portal_sync', command: 'metrics-push-azure' })).toBe(3);
    });

    it('a dry run pushes nothing', async () => {
      const gw = gateway!.url;
      const result = await cli(['--provider', 'aws', '--pushgateway', gw, '--instance-label', `dry-${backend}`, '--dry-run']);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('Dry run');
      expect(await gatewaySample(gw, 'iot_hub_portal_device_count', { job: 'iot_hub_portal', instance: `dry-${backend}` })).toBeNull();
    });
  });

  it('a gateway that cannot be reached fails the run with 69 and says so without its password', async () => {
    const result = await cli(['--provider', 'azure', '--pushgateway', 'http://user:s3cret@127.0.0.1:1', '--instance-label', 'hub', '--json']);
    expect(result.code).toBe(69);
    const doc = parseJson(result);
    expect(doc.status).toBe('failed');
    expect(doc.error).toContain('127.0.0.1:1');
    expect(result.stdout + result.stderr).not.toContain('s3cret');
  });
});

describe('metrics push textfile carry-over', () => {
  it('keeps the previous lines of a withheld gauge only, not of a measured one', async () => {
    const { writeFleetTextfile } = await import('../../src/run/fleet-metrics.js');
    const dir = mkdtempSync(join(tmpdir(), 'portal-sync-textfile-'));
    try {
      const file = join(dir, 'x.prom');
      writeFileSync(file, '# HELP iot_hub_portal_device_count old help\n# TYPE iot_hub_portal_device_count gauge\niot_hub_portal_device_count 9\niot_hub_portal_edge_device_count 7\n');
      const kept = await writeFleetTextfile(file, { iot_hub_portal_edge_device_count: 1 });
      expect(kept).toEqual(['iot_hub_portal_device_count']);
      const text = readFileSync(file, 'utf8');
      expect(text).toMatch(/^iot_hub_portal_device_count 9$/m);
      expect(text).toMatch(/^iot_hub_portal_edge_device_count 1$/m);
      expect(text).not.toMatch(/^iot_hub_portal_edge_device_count 7$/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** The Azure fleet of the provider suite: what each gauge must be is counted from it below, not typed in. */
const AZURE_FLEET = {
  twins: [
    { deviceId: 'd1', connectionState: 'Connected', tags: { modelId: 'm', deviceName: 'one' } },
    { deviceId: 'd2', connectionState: 'Connected' },
    { deviceId: 'd3' },
    { deviceId: 'conc-1', connectionState: 'Connected', tags: { deviceType: 'LoRa Concentrator' } },
    { deviceId: 'e1', connectionState: 'Connected', capabilities: { iotEdge: true } },
    { deviceId: 'e2', capabilities: { iotEdge: true } },
  ],
  configurations: [
    { id: 'edge-a', content: { modulesContent: { $edgeAgent: { 'properties.desired': {} } } }, systemMetrics: { results: { reportedFailedCount: 2 }, queries: {} } },
    { id: 'edge-b', content: { modulesContent: { $edgeAgent: { 'properties.desired': {} } } }, systemMetrics: { results: { reportedFailedCount: 1 }, queries: {} } },
    { id: 'device-conf', content: { deviceContent: { 'properties.desired.x': 1 } }, systemMetrics: { results: { reportedFailedCount: 5 }, queries: {} } },
  ],
};

function azureExpected(fleet: typeof AZURE_FLEET) {
  type Twin = (typeof fleet.twins)[number] & { capabilities?: { iotEdge: boolean }; tags?: Record<string, string> };
  const twins = fleet.twins as Twin[];
  const devices = twins.filter((t) => !t.capabilities?.iotEdge && t.tags?.deviceType !== 'LoRa Concentrator');
  const edge = twins.filter((t) => t.capabilities?.iotEdge);
  const connected = (list: Twin[]) => list.filter((t) => t.connectionState === 'Connected').length;
  return {
    iot_hub_portal_device_count: devices.length,
    iot_hub_portal_connected_device_count: connected(devices),
    iot_hub_portal_edge_device_count: edge.length,
    iot_hub_portal_connected_edge_device_count: connected(edge),
    iot_hub_portal_failed_deployment_count: fleet.configurations
      .filter((c) => 'modulesContent' in c.content)
      .reduce((sum, c) => sum + c.systemMetrics.results.reportedFailedCount, 0),
    iot_hub_portal_concentrator_count: 0,
  };
}

describe.runIf(haveGateway)('metrics push from the providers, to the real Pushgateway', () => {
  let db: TestDatabase;
  let dir: string;
  beforeEach(async () => {
    db = await createTestDatabase('sqlite');
    dir = mkdtempSync(join(tmpdir(), 'portal-sync-metrics-'));
  });
  afterEach(async () => {
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });
  const cli = (args: string[], env: Record<string, string>) => runCli(['metrics', 'push', '--db', db.url, '--lock-dir', join(dir, 'locks'), '--json', ...args], env);

  it('Azure: every gauge equals the fleet, in 5 requests; a failing source keeps its gauge\'s last value in the gateway', async () => {
    const { startTestHub } = await import('../support/hub.js');
    const hub = await startTestHub(AZURE_FLEET);
    try {
      const gw = gateway!.url;
      const first = await cli(['--provider', 'azure', '--pushgateway', gw], hub.env());
      expect(first.code, first.stderr).toBe(0);
      const doc = parseJson(first);
      const expected = azureExpected(AZURE_FLEET);
      expect(doc.gauges).toEqual(expected);
      expect(doc.apiCalls.total).toBe(5);
      const labels = { job: 'iot_hub_portal', instance: doc.instance };
      expect(doc.instance).toMatch(/\.azure-devices\.net$/);
      for (const [name, value] of Object.entries(expected)) expect(await gatewaySample(gw, name, labels), name).toBe(value);

      // Devices leave, and the configurations cannot be read: the device gauge goes down, the
      // deployment gauge keeps its last pushed value, and the run says partial.
      hub.write({ ...AZURE_FLEET, twins: AZURE_FLEET.twins.filter((t) => t.deviceId !== 'd1' && t.deviceId !== 'e1'), faults: [{ operation: 'getConfigurations', status: 500 }] } as never);
      const second = await cli(['--provider', 'azure', '--pushgateway', gw, '--max-retries', '0'], hub.env());
      expect(second.code).toBe(3);
      const partial = parseJson(second);
      expect(partial.withheld).toEqual([expect.objectContaining({ gauges: ['iot_hub_portal_failed_deployment_count'], kind: 'failed' })]);
      expect(await gatewaySample(gw, 'iot_hub_portal_device_count', labels)).toBe(expected.iot_hub_portal_device_count - 1);
      expect(await gatewaySample(gw, 'iot_hub_portal_edge_device_count', labels)).toBe(expected.iot_hub_portal_edge_device_count - 1);
      expect(await gatewaySample(gw, 'iot_hub_portal_connected_edge_device_count', labels)).toBe(expected.iot_hub_portal_connected_edge_device_count - 1);
      expect(await gatewaySample(gw, 'iot_hub_portal_failed_deployment_count', labels)).toBe(expected.iot_hub_portal_failed_deployment_count);
      expect(second.stdout + second.stderr).not.toContain(hub.emulator.env().IOTHUB_CONNECTION_STRING!.split('SharedAccessKey=')[1]!);
    } finally {
      await hub.close();
    }
  });

  it('AWS: every gauge equals the fleet over every page of each listing, under <account>/<region>', async () => {
    const { startTestAws } = await import('../support/aws.js');
    const { generateAwsFleet } = await import('../../src/emulators/aws/generate.js');
    const fleet = generateAwsFleet({ things: 600, thingTypes: 4, edge: 120, deployments: 3 }) as { aws?: unknown };
    const aws = (fleet.aws ?? fleet) as {
      thingTypes: Array<{ name: string; tags: Record<string, string> }>;
      things: Array<{ type?: string; connected?: boolean }>;
      coreDevices: Array<{ status: string }>;
      deployments: Array<{ status: string; isLatestForTarget: boolean }>;
    };
    const edgeTypes = new Set(aws.thingTypes.filter((t) => t.tags.iotEdge === 'true').map((t) => t.name));
    const standard = aws.things.filter((t) => t.type !== undefined && !edgeTypes.has(t.type));
    const expected = {
      iot_hub_portal_device_count: standard.length,
      iot_hub_portal_connected_device_count: standard.filter((t) => t.connected).length,
      iot_hub_portal_edge_device_count: aws.things.filter((t) => t.type !== undefined && edgeTypes.has(t.type)).length,
      iot_hub_portal_connected_edge_device_count: aws.coreDevices.filter((c) => c.status === 'HEALTHY').length,
      iot_hub_portal_failed_deployment_count: aws.deployments.filter((d) => d.isLatestForTarget && d.status === 'FAILED').length,
      iot_hub_portal_concentrator_count: 0,
    };
    const emulated = await startTestAws(fleet as never);
    try {
      const gw = gateway!.url;
      const result = await cli(['--provider', 'aws', '--pushgateway', gw], emulated.env());
      expect(result.code, result.stderr).toBe(0);
      const doc = parseJson(result);
      expect(doc.gauges).toEqual(expected);
      expect(doc.apiCalls.operations.ListThings).toBe(Math.ceil(aws.things.length / 250));
      expect(doc.instance).toBe(`123456789012/${emulated.env().AWS_REGION}`);
      for (const [name, value] of Object.entries(expected)) expect(await gatewaySample(gw, name, { job: 'iot_hub_portal', instance: doc.instance }), name).toBe(value);
    } finally {
      await emulated.close();
    }
  });
});
