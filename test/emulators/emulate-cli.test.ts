/** `portal-sync emulate --quota ... --time-scale ...` as a process (the built CLI; `npm test` builds it). */
import { afterEach, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { collect, runCli, spawnCli, waitFor, type CliResult } from '../support/cli.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListThingsCommand } from '@aws-sdk/client-iot';
import { ListDeploymentsCommand } from '@aws-sdk/client-greengrassv2';
import { createSasToken, parseConnectionString } from '../../src/providers/iothub/sas.js';
import { openKnex, parseDbUrl } from '../../src/store/db.js';
import { awsClients } from '../support/aws.js';
import { earliestEventPosition } from '@azure/event-hubs';
import { consumer, receive } from '../support/eventhub.js';
import { forwarderApi } from '../support/forwarder.js';
import { DEFAULT_FORWARDER_TOKEN, generateForwarder } from '../../src/emulators/forwarder/index.js';
import { utimesSync, writeFileSync } from 'node:fs';
import { generateJasper } from '../../src/emulators/jasper/index.js';
import { basic } from '../support/jasper.js';

describe('emulate --quota --time-scale', () => {
  let child: ChildProcess | undefined;
  let done: Promise<CliResult> | undefined;
  afterEach(async () => {
    child?.kill('SIGTERM');
    await done;
    child = undefined;
    done = undefined;
  });

  it('throttles the fourth query of a 3/h quota and reports the scaled clock in the stats', async () => {
    // An emulated hour is a real minute here: long enough that the window cannot pass mid-test.
    child = spawnCli(['emulate', '--generate', 'devices=5', '--quota', 'queries=3/h', '--time-scale', '60'], {});
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    done = collect(child);
    await waitFor(() => out.includes('IOTHUB_ENDPOINT') && err.includes('quota:'), 'the emulator to print its environment');
    expect(err).toContain('quota: queries 3/h; time scale 60 (an emulated minute lasts 1 s)');
    const env = Object.fromEntries([...out.matchAll(/^export (\w+)='([^']*)'$/gm)].map((m) => [m[1]!, m[2]!]));
    const hub = parseConnectionString(env['IOTHUB_CONNECTION_STRING']!);
    const endpoint = env['IOTHUB_ENDPOINT']!;

    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${endpoint}/devices/query?api-version=2021-04-12`, {
        method: 'POST',
        headers: { authorization: createSasToken(hub, Math.floor(Date.now() / 1000) + 600), 'content-type': 'application/json' },
        body: JSON.stringify({ query: 'SELECT deviceId FROM devices' }),
      });
      statuses.push(res.status);
      if (res.status === 429) {
        expect(res.headers.get('retry-after')).toBeNull();
        expect(((await res.json()) as { Message: string }).Message).toMatch(/^ErrorCode:ThrottlingException;/);
      } else await res.text();
    }
    expect(statuses).toEqual([200, 200, 200, 429]);

    // Emulated time between two stats reads is 60 times the real time between them, within the
    // uncertainty of when each read happened.
    const sample = async () => {
      const before = performance.now();
      const stats = (await (await fetch(`${endpoint}/__emulator/stats`)).json()) as Record<string, any>;
      return { before, after: performance.now(), stats };
    };
    const a = await sample();
    await new Promise((r) => setTimeout(r, 50));
    const b = await sample();
    expect(b.stats).toMatchObject({
      timeScale: 60,
      throttled: 1,
      throttledOperations: { 'query:devices': 1 },
      quota: { queries: { rate: '3/h', limit: 3, windowMs: 3_600_000, used: 3 } },
    });
    const emulated = b.stats['emulatedMs'] - a.stats['emulatedMs'];
    expect(emulated).toBeGreaterThanOrEqual(Math.floor(60 * (b.before - a.after)) - 1);
    expect(emulated).toBeLessThanOrEqual(Math.ceil(60 * (b.after - a.before)) + 1);
  });

  it('refuses a bad --quota or --time-scale with exit 64 before listening', async () => {
    const quota = await runCli(['emulate', '--generate', 'devices=1', '--quota', 'queries=fast'], {});
    expect(quota.code).toBe(64);
    expect(quota.stderr).toContain('--quota: "fast" is not a rate like 20/min');
    expect(quota.stdout).toBe('');
    const unknown = await runCli(['emulate', '--generate', 'devices=1', '--quota', 'writes=1/s'], {});
    expect(unknown.code).toBe(64);
    expect(unknown.stderr).toContain('unknown quota "writes"');
    const scale = await runCli(['emulate', '--generate', 'devices=1', '--time-scale', '0'], {});
    expect(scale.code).toBe(64);
    expect(scale.stderr).toContain('--time-scale: time scale must be');
  });

  it('serves a generated AWS fleet beside the hub: its export lines, banner, quota and seeded models', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portal-sync-emulate-aws-'));
    try {
      const db = `sqlite:${join(dir, 'portal.db')}`;
      child = spawnCli(
        ['emulate', '--generate', 'devices=2,things=12,thingTypes=3,edge=3,deployments=4', '--quota', 'queries=20/min,ListThings=2/h', '--time-scale', '60', '--seed-models', db],
        {},
      );
      let out = '';
      let err = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      done = collect(child);
      await waitFor(() => out.includes('AWS_ENDPOINT_URL_GREENGRASSV2') && err.includes('quota:'), 'the emulator to print its environment');
      const env = Object.fromEntries([...out.matchAll(/^export (\w+)='([^']*)'$/gm)].map((m) => [m[1]!, m[2]!]));
      expect(Object.keys(env)).toEqual([
        'IOTHUB_CONNECTION_STRING',
        'IOTHUB_ENDPOINT',
        'AWS_REGION',
        'AWS_ACCESS_KEY_ID',
        'AWS_SECRET_ACCESS_KEY',
        'AWS_ENDPOINT_URL_IOT',
        'AWS_ENDPOINT_URL_IOT_DATA_PLANE',
        'AWS_ENDPOINT_URL_GREENGRASSV2',
        'EVENTHUB_CONNECTION_STRING',
        'NAVIXY_FORWARDER_URL',
        'NAVIXY_FORWARDER_TOKEN',
      ]);
      const url = env['AWS_ENDPOINT_URL_IOT']!;
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(url).not.toBe(env['IOTHUB_ENDPOINT']);
      expect(env['AWS_ENDPOINT_URL_GREENGRASSV2']).toBe(url);
      expect(err).toContain(`AWS emulator (IoT, IoT data plane, Greengrass V2) listening on ${url} (stats: ${url}/__emulator/stats)`);
      expect(err).toContain('quota: queries 20/min, ListThings 2/h; time scale 60');

      const c = awsClients(env);
      const listed = await c.iot.send(new ListThingsCommand({}));
      expect(listed.things).toHaveLength(12);
      await c.iot.send(new ListThingsCommand({}));
      const throttled = await c.iot.send(new ListThingsCommand({})).then(
        () => 'ok',
        (e: Error) => e.name,
      );
      expect(throttled).toBe('ThrottlingException');
      const latest = await c.greengrass.send(new ListDeploymentsCommand({}));
      expect(latest.deployments!.map((d) => d.deploymentName)).toEqual(['edge-type-01']);
      const stats = (await (await fetch(`${url}/__emulator/stats`)).json()) as Record<string, any>;
      expect(stats).toMatchObject({ requests: { ListThings: 3, ListDeployments: 1 }, throttled: 1, state: { things: 12, thingTypes: 3, coreDevices: 3, deployments: 4 } });

      // The AWS models the generated things reference are seeded beside the hub's.
      const knex = openKnex(parseDbUrl(db));
      try {
        expect(await knex('device_models').whereIn('name', ['type-01', 'type-02']).orderBy('name').pluck('name')).toEqual(['type-01', 'type-02']);
        expect(await knex('edge_device_models').where('name', 'edge-type-01').pluck('id')).toEqual(['dep-000004']);
      } finally {
        await knex.destroy();
      }
    } finally {
      child?.kill('SIGTERM');
      await done;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a bad AWS --generate or --quota with exit 64', async () => {
    const edge = await runCli(['emulate', '--generate', 'things=3,edge=5'], {});
    expect(edge.code).toBe(64);
    expect(edge.stderr).toContain('--generate: generate spec: edge=5 exceeds things=3');
    const op = await runCli(['emulate', '--generate', 'things=1', '--quota', 'ListThing=1/s'], {});
    expect(op.code).toBe(64);
    expect(op.stderr).toContain('unknown quota "ListThing"');
  });

  it('serves generated LoRaWAN telemetry on the Event Hubs endpoint and prints its connection string', async () => {
    child = spawnCli(['emulate', '--generate', 'devices=6,lora=3,events=30,partitions=3', '--eventhub-port', '0'], {});
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    done = collect(child);
    await waitFor(() => out.includes('EVENTHUB_CONNECTION_STRING') && err.includes('Event Hubs emulator'), 'the emulator to print its environment');
    const env = Object.fromEntries([...out.matchAll(/^export (\w+)='([^']*)'$/gm)].map((m) => [m[1]!, m[2]!]));
    const cs = env['EVENTHUB_CONNECTION_STRING']!;
    expect(cs).toMatch(/^Endpoint=sb:\/\/127\.0\.0\.1:\d+;SharedAccessKeyName=service;SharedAccessKey=[^;]+;EntityPath=portal-hub;UseDevelopmentEmulator=true$/);
    const port = /:(\d+);/.exec(cs)![1]!;
    expect(err).toMatch(new RegExp(`Event Hubs emulator \\(hub portal-hub, 3 partitions\\) listening on amqp://127\\.0\\.0\\.1:${port} \\(control: http://127\\.0\\.0\\.1:\\d+, stats: http://127\\.0\\.0\\.1:\\d+/__emulator/stats\\)`));
    const client = consumer(cs, 'iothub-portal');
    try {
      const r = await receive(client, undefined, earliestEventPosition, (x) => x.events.length >= 30);
      expect(r.events).toHaveLength(30);
      // Three LoRaWAN devices (dev-000002, -000004, -000006 of six), ten events each.
      const perDevice = new Map<string, number>();
      for (const e of r.events) {
        const id = String(e.systemProperties!['iothub-connection-device-id']);
        perDevice.set(id, (perDevice.get(id) ?? 0) + 1);
      }
      expect([...perDevice.keys()].sort()).toEqual(['dev-000002', 'dev-000004', 'dev-000006']);
      expect([...perDevice.values()]).toEqual([10, 10, 10]);
    } finally {
      await client.close();
    }
  });

  it('refuses generated events without LoRaWAN devices with exit 64', async () => {
    const r = await runCli(['emulate', '--generate', 'devices=3,events=10'], {});
    expect(r.code).toBe(64);
    expect(r.stderr).toContain('--generate: generate spec: events need LoRaWAN devices to send them');
    expect(r.stdout).toBe('');
  });

  it('serves generated Navixy customers\' connections on the forwarding service and seeds the customers beside the models', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portal-sync-emulate-forwarder-'));
    try {
      const db = `sqlite:${join(dir, 'portal.db')}`;
      child = spawnCli(['emulate', '--generate', 'devices=2,customers=3000,drift=4', '--forwarder-port', '0', '--seed-models', db], {});
      let out = '';
      let err = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      done = collect(child);
      await waitFor(() => out.includes('NAVIXY_FORWARDER_TOKEN') && err.includes('Navixy forwarding service emulator'), 'the emulator to print its environment');
      const env = Object.fromEntries([...out.matchAll(/^export (\w+)='([^']*)'$/gm)].map((m) => [m[1]!, m[2]!]));
      expect(Object.keys(env).slice(-2)).toEqual(['NAVIXY_FORWARDER_URL', 'NAVIXY_FORWARDER_TOKEN']);
      const url = env['NAVIXY_FORWARDER_URL']!;
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect([env['IOTHUB_ENDPOINT'], env['AWS_ENDPOINT_URL_IOT']]).not.toContain(url);
      expect(env['NAVIXY_FORWARDER_TOKEN']).toBe(DEFAULT_FORWARDER_TOKEN);
      expect(err).toContain(`Navixy forwarding service emulator listening on ${url} (stats: ${url}/__emulator/stats)`);
      expect(err).toMatch(/seeded \d+ device models and \d+ edge device models into /);
      expect(err).toContain(`seeded 3000 customers into sqlite:${join(dir, 'portal.db')}`);

      // What the CLI serves is what the generator gives in process (the bench computes its expectations so).
      const expected = generateForwarder({ customers: 3000, drift: 4 });
      const api = forwarderApi(env);
      const { connections, pages } = await api.listAll(1000);
      expect(pages).toBe(Math.ceil(expected.section.connections.length / 1000));
      expect(connections.map((c) => [c.id, c.customerRef, c.status])).toEqual(expected.section.connections.map((c) => [c.id, c.customerRef, c.status]));
      const awkward = 'cust 000997#eu/north';
      expect((await api.read(awkward)).status).toBe(200);
      expect((await api.stats()).requests).toEqual({ list: pages, read: 1, establish: 0, close: 0 });

      const knex = openKnex(parseDbUrl(db));
      try {
        expect(Number((await knex('customers').count({ n: '*' }))[0]!['n'])).toBe(3000);
        const row = await knex('customers').where('reference', awkward).first();
        const c = expected.section.customers[996]!;
        expect(row).toEqual({ reference: awkward, name: c.name, provider: c.provider, state: c.state, navixy_hash: c.hash, gateway_count: c.gatewayCount });
      } finally {
        await knex.destroy();
      }
    } finally {
      child?.kill('SIGTERM');
      await done;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('serves a fleet file\'s forwarder section (its token, connections, faults), seeds its customers, and re-reads it on change', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portal-sync-emulate-forwarder-file-'));
    try {
      const fixture = join(dir, 'fleet.json');
      const db = `sqlite:${join(dir, 'portal.db')}`;
      const write = (forwarder: Record<string, unknown>, mtime: number) => {
        writeFileSync(fixture, JSON.stringify({ forwarder }));
        utimesSync(fixture, mtime, mtime);
      };
      write(
        {
          token: 'file-token',
          connections: [{ customerRef: 'a/b#c d%e', hash: 'h1' }],
          customers: [
            { reference: 'a/b#c d%e', provider: 'navixy', state: 'active', hash: 'h1', gatewayCount: 1 },
            { reference: 'other', provider: ' NAVIXY ', state: null },
          ],
          faults: [{ operation: 'establish', kind: 'error', customerRef: 'X' }],
        },
        1_700_000_000,
      );
      child = spawnCli(['emulate', '--fixture', fixture, '--seed-models', db], {});
      let out = '';
      let err = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      done = collect(child);
      await waitFor(() => out.includes('NAVIXY_FORWARDER_TOKEN') && err.includes('Navixy forwarding service emulator'), 'the emulator to print its environment');
      const env = Object.fromEntries([...out.matchAll(/^export (\w+)='([^']*)'$/gm)].map((m) => [m[1]!, m[2]!]));
      expect(env['NAVIXY_FORWARDER_TOKEN']).toBe('file-token');
      expect(err).toContain('seeded 2 customers into');
      const api = forwarderApi(env);
      expect((await api.read('a/b#c d%e')).body.connections).toHaveLength(1);
      expect((await api.establish('X', 'h')).status).toBe(500);
      expect((await api.establish('Y', 'h')).status).toBe(201);
      const knex = openKnex(parseDbUrl(db));
      try {
        expect(await knex('customers').orderBy('reference').select('reference', 'provider', 'state', 'navixy_hash', 'gateway_count')).toEqual([
          { reference: 'a/b#c d%e', provider: 'navixy', state: 'active', navixy_hash: 'h1', gateway_count: 1 },
          { reference: 'other', provider: ' NAVIXY ', state: null, navixy_hash: null, gateway_count: null },
        ]);
      } finally {
        await knex.destroy();
      }
      // A changed file is the truth again: Y's establish is gone, the new token takes effect.
      write({ token: 'new-token', connections: [{ customerRef: 'z', hash: 'h' }] }, 1_700_000_100);
      expect((await api.list()).status).toBe(401);
      const renewed = forwarderApi({ ...env, NAVIXY_FORWARDER_TOKEN: 'new-token' });
      expect((await renewed.listAll()).connections.map((c) => c.customerRef)).toEqual(['z']);
    } finally {
      child?.kill('SIGTERM');
      await done;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a bad customers/drift spec or --forwarder-port with exit 64 before listening', async () => {
    const drift = await runCli(['emulate', '--generate', 'customers=10,drift=101'], {});
    expect(drift.code).toBe(64);
    expect(drift.stderr).toContain('--generate: generate spec: drift must be a percentage from 0 to 100');
    expect(drift.stdout).toBe('');
    const alone = await runCli(['emulate', '--generate', 'devices=1,drift=2'], {});
    expect(alone.code).toBe(64);
    expect(alone.stderr).toContain('drift needs customers=N');
    const port = await runCli(['emulate', '--generate', 'customers=1', '--forwarder-port', '70000'], {});
    expect(port.code).toBe(64);
    expect(port.stderr).toContain('--forwarder-port must be a port number');
  });

  it('serves generated Control Center SIMs per service provider, prints each one\'s API key, and seeds the providers at their base URLs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portal-sync-emulate-jasper-'));
    try {
      const db = `sqlite:${join(dir, 'portal.db')}`;
      child = spawnCli(['emulate', '--generate', 'devices=1,sims=130,jasperProviders=2', '--jasper-port', '0', '--seed-models', db], {});
      let out = '';
      let err = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      done = collect(child);
      await waitFor(() => out.includes('JASPER_API_KEY_SP2') && err.includes('Cisco Control Center (Jasper) emulator'), 'the emulator to print its environment');
      const env = Object.fromEntries([...out.matchAll(/^export (\w+)='([^']*)'$/gm)].map((m) => [m[1]!, m[2]!]));
      // Last, after the forwarding service's: the fake keys of the generated providers.
      expect(Object.keys(env).slice(-4)).toEqual(['NAVIXY_FORWARDER_URL', 'NAVIXY_FORWARDER_TOKEN', 'JASPER_API_KEY_SP1', 'JASPER_API_KEY_SP2']);
      const expected = generateJasper({ sims: 130, providers: 2 });
      expect([env['JASPER_API_KEY_SP1'], env['JASPER_API_KEY_SP2']]).toEqual(expected.section.providers.map((p) => p.apiKey));
      const m = /Cisco Control Center \(Jasper\) emulator listening on (http:\/\/127\.0\.0\.1:\d+): service providers sp1, sp2 at \1\/sp\/<id> \(stats: \1\/__emulator\/stats\)/.exec(err);
      expect(m, err).not.toBeNull();
      const url = m![1]!;
      expect([env['IOTHUB_ENDPOINT'], env['AWS_ENDPOINT_URL_IOT'], env['NAVIXY_FORWARDER_URL']]).not.toContain(url);
      expect(err).toContain(`seeded 2 Jasper service providers into sqlite:${join(dir, 'portal.db')}`);

      const knex = openKnex(parseDbUrl(db));
      let rows: Array<Record<string, any>>;
      try {
        rows = await knex('jasper_service_providers').orderBy('id').select('id', 'name', 'api_base_url', 'username', 'billing_end_day', 'billing_end_hour', 'enabled');
      } finally {
        await knex.destroy();
      }
      expect(rows.map((r) => ({ ...r, enabled: Boolean(r['enabled']) }))).toEqual(
        expected.section.providers.map((p) => ({ id: p.id, name: p.name, api_base_url: `${url}/sp/${p.id}`, username: p.username, billing_end_day: 1, billing_end_hour: 0, enabled: true })),
      );
      // What a pass would do: the base URL and user name from the table, the key from the environment.
      for (const [i, row] of rows.entries()) {
        const since = new Date(Date.now() - 31 * 86_400_000).toISOString().slice(0, 19) + 'Z';
        const iccids: string[] = [];
        for (let page = 1; ; page++) {
          const res = await fetch(`${row['api_base_url']}/rws/api/v1/devices?modifiedSince=${since}&pageSize=50&pageNumber=${page}`, {
            headers: { authorization: basic(row['username'], env[`JASPER_API_KEY_SP${i + 1}`]!), accept: 'application/json' },
          });
          expect(res.status).toBe(200);
          const body = (await res.json()) as { devices: Array<{ iccid: string }>; lastPage: boolean };
          iccids.push(...body.devices.map((d) => d.iccid));
          if (body.lastPage) break;
        }
        expect(iccids.sort()).toEqual(expected.section.providers[i]!.devices.map((d) => d.iccid).sort());
      }
      const stats = (await (await fetch(`${url}/__emulator/stats`)).json()) as Record<string, any>;
      expect(stats).toMatchObject({ pages: 4, devicesServed: 130, state: { sp1: 65, sp2: 65 } });
    } finally {
      child?.kill('SIGTERM');
      await done;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('serves a fleet file\'s jasper section (its keys, faults, rate limit) and re-reads it on change', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portal-sync-emulate-jasper-file-'));
    try {
      const fixture = join(dir, 'fleet.json');
      const write = (jasper: Record<string, unknown>, mtime: number) => {
        writeFileSync(fixture, JSON.stringify({ jasper }));
        utimesSync(fixture, mtime, mtime);
      };
      const device = (iccid: string) => ({ iccid, status: 'ACTIVATED', ratePlan: 'p', communicationPlan: 'c' });
      write(
        {
          providers: [
            { id: 'eu-1', username: 'eu-user', apiKey: 'eu-key', devices: [device('89012600000000000001')] },
            { id: 'us', devices: [device('89012600000000000002')], rateLimit: '1/min' },
          ],
          faults: [{ kind: 'page', page: 1, provider: 'eu-1', times: 1 }],
        },
        1_700_000_000,
      );
      child = spawnCli(['emulate', '--fixture', fixture], {});
      let out = '';
      let err = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      done = collect(child);
      await waitFor(() => out.includes('JASPER_API_KEY_US') && err.includes('Cisco Control Center (Jasper) emulator'), 'the emulator to print its environment');
      const env = Object.fromEntries([...out.matchAll(/^export (\w+)='([^']*)'$/gm)].map((m) => [m[1]!, m[2]!]));
      expect(env['JASPER_API_KEY_EU_1']).toBe('eu-key');
      expect(env['JASPER_API_KEY_US']).toBe('jasper-emulator-key-us');
      const url = /Cisco Control Center \(Jasper\) emulator listening on (http:\/\/[\d.:]+): service providers eu-1, us at /.exec(err)![1]!;
      const list = (id: string, auth: string) =>
        fetch(`${url}/sp/${id}/rws/api/v1/devices?modifiedSince=${new Date(Date.now() - 86_400_000).toISOString()}`, { headers: { authorization: auth } });
      expect((await list('eu-1', basic('eu-user', 'eu-key'))).status).toBe(500);
      const ok = await list('eu-1', basic('eu-user', 'eu-key'));
      expect(((await ok.json()) as { devices: unknown[] }).devices).toEqual([device('89012600000000000001')]);
      expect((await list('us', basic('api-user', env['JASPER_API_KEY_US']!))).status).toBe(200);
      const limited = await list('us', basic('api-user', env['JASPER_API_KEY_US']!));
      expect(limited.status).toBe(400);
      expect(await limited.json()).toEqual({ errorMessage: 'Rate Limit Exceeded', errorCode: '40000029' });
      // A changed file is the truth again: a new key, a new device.
      write({ providers: [{ id: 'eu-1', username: 'eu-user', apiKey: 'eu-key-2', devices: [device('89012600000000000003')] }] }, 1_700_000_100);
      expect((await list('eu-1', basic('eu-user', 'eu-key'))).status).toBe(401);
      const renewed = await list('eu-1', basic('eu-user', 'eu-key-2'));
      expect(((await renewed.json()) as { devices: unknown[] }).devices).toEqual([device('89012600000000000003')]);
      expect((await list('us', basic('api-user', env['JASPER_API_KEY_US']!))).status).toBe(404);
    } finally {
      child?.kill('SIGTERM');
      await done;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a bad sims spec, jasper section or --jasper-port with exit 64 or 78 before listening', async () => {
    const sims = await runCli(['emulate', '--generate', 'sims=many'], {});
    expect(sims.code).toBe(64);
    expect(sims.stderr).toContain('--generate: generate spec: sims must be a non-negative integer');
    expect(sims.stdout).toBe('');
    const alone = await runCli(['emulate', '--generate', 'devices=1,jasperProviders=2'], {});
    expect(alone.code).toBe(64);
    expect(alone.stderr).toContain('jasperProviders needs sims=N');
    const port = await runCli(['emulate', '--generate', 'sims=1', '--jasper-port', '70000'], {});
    expect(port.code).toBe(64);
    expect(port.stderr).toContain('--jasper-port must be a port number');
    const dir = mkdtempSync(join(tmpdir(), 'portal-sync-emulate-jasper-bad-'));
    try {
      const fixture = join(dir, 'fleet.json');
      writeFileSync(fixture, JSON.stringify({ jasper: { providers: [{ id: 'sp1', apiKey: "quote'd-secret" }] } }));
      const bad = await runCli(['emulate', '--fixture', fixture], {});
      expect(bad.code).toBe(78);
      expect(bad.stderr).toContain('cannot start the Cisco Control Center emulator');
      expect(bad.stderr).toContain('jasper.providers[0].apiKey: must be');
      expect(bad.stderr).not.toContain('secret');
      expect(bad.stdout).toBe('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('documents both in --help', async () => {
    const help = await runCli(['emulate', '--help'], {});
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--quota <spec>\s+throttle as IoT Hub does, e\.g\. queries=20\/min/);
    expect(help.stdout).toMatch(/--time-scale <n>\s+run the quota windows n times faster/);
    expect(help.stdout).toMatch(/--aws-port <port>\s+AWS emulator port/);
    expect(help.stdout).toMatch(/--eventhub-port <port>\s+Event Hubs emulator AMQP port/);
    expect(help.stdout).toMatch(/--forwarder-port <port>\s+Navixy forwarding service emulator port/);
    expect(help.stdout).toMatch(/--jasper-port <port>\s+Cisco Control Center \(Jasper\) emulator port/);
    expect(help.stdout).toContain('sims=100000,jasperProviders=3');
    expect(help.stdout).toContain('customers=50000,drift=1');
    expect(help.stdout).toContain('events=200000,partitions=4');
    expect(help.stdout).toContain('things=50000,thingTypes=20,edge=5000');
  });
});
