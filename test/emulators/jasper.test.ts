/**
 * The emulated Cisco Control Center devices API over real HTTP: paging, modifiedSince, pageSize and
 * pageNumber, Basic authentication, duplicates, the control endpoints, the fixture and its reload.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startJasperEmulator, normalizeJasperFixture, oneYearBefore, parseIsoWithZone, apiKeyVariable, type JasperEmulator, type JasperFixtureInput } from '../../src/emulators/jasper/index.js';
import { ProviderDevices } from '../../src/emulators/jasper/state.js';
import { basic, jasperApi, startTestJasper, type Device, type JasperApi, type TestJasper } from '../support/jasper.js';

const NOW = Date.parse('2026-11-25T12:00:00Z');
const SINCE = '2026-10-24T12:00:00Z';

/** n devices, one a minute from 2026-11-01T00:00Z, ICCIDs 89012600000000000001.. (20 digits). */
function devices(n: number, from = 0, minuteOf = (i: number) => i): Array<Record<string, unknown>> {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    return {
      iccid: `8901260${String(i + 1).padStart(13, '0')}`,
      status: i % 7 === 0 ? 'DEACTIVATED' : 'ACTIVATED',
      ratePlan: `plan-${i % 3}`,
      communicationPlan: 'Data Only LTE',
      modifiedAt: new Date(Date.parse('2026-11-01T00:00:00Z') + minuteOf(i) * 60_000).toISOString(),
    };
  });
}

const provider = (id: string, devs: unknown[], extra: Record<string, unknown> = {}) => ({ id, username: `user-${id}`, apiKey: `key-${id}-secret`, devices: devs, ...extra });

let emu: JasperEmulator | undefined;
let file: TestJasper | undefined;
afterEach(async () => {
  await emu?.close();
  await file?.close();
  emu = undefined;
  file = undefined;
});

async function start(section: JasperFixtureInput, now = () => NOW): Promise<JasperApi> {
  emu = await startJasperEmulator({ fixture: section, now });
  return jasperApi(emu);
}

const served = (d: Record<string, unknown>): Device => ({ iccid: d['iccid'] as string, status: d['status'] as string, ratePlan: d['ratePlan'] as string, communicationPlan: d['communicationPlan'] as string });

describe('paging', () => {
  it('serves every device exactly once over pages of 50, in modification order; lastPage only on the last; past the end is empty', async () => {
    // 237 devices in shuffled file order: the listing sorts them.
    const all = devices(237);
    const shuffled = [...all].sort((a, b) => ((a['iccid'] as string).split('').reverse().join('') < (b['iccid'] as string).split('').reverse().join('') ? -1 : 1));
    const api = await start({ providers: [provider('sp1', shuffled)] });
    const pages: Reply[] = [];
    for (let k = 1; k <= 5; k++) pages.push(await api.list('sp1', { modifiedSince: SINCE, pageSize: 50, pageNumber: k }));
    expect(pages.map((p) => p.status)).toEqual([200, 200, 200, 200, 200]);
    expect(pages.map((p) => p.body.pageNumber)).toEqual([1, 2, 3, 4, 5]);
    expect(pages.map((p) => p.body.lastPage)).toEqual([false, false, false, false, true]);
    expect(pages.map((p) => p.body.devices.length)).toEqual([50, 50, 50, 50, 37]);
    expect(pages.flatMap((p) => p.body.devices)).toEqual(all.map(served));
    // Only the four fields: modifiedAt is never served.
    expect(Object.keys(pages[0]!.body.devices[0]).sort()).toEqual(['communicationPlan', 'iccid', 'ratePlan', 'status']);
    expect(pages[0]!.headers.get('content-type')).toMatch(/^application\/json/);
    const past = await api.list('sp1', { modifiedSince: SINCE, pageNumber: 6 });
    expect(past.status).toBe(200);
    expect(past.body).toEqual({ devices: [], pageNumber: 6, lastPage: true });
    const far = await api.list('sp1', { modifiedSince: SINCE, pageNumber: 999_999 });
    expect(far.body).toEqual({ devices: [], pageNumber: 999_999, lastPage: true });
  });

  it('lastPage is exact when the count is a multiple of the page size, and for an empty listing', async () => {
    const api = await start({ providers: [provider('sp1', devices(100)), provider('sp2', [])] });
    const second = await api.list('sp1', { modifiedSince: SINCE, pageNumber: 2 });
    expect(second.body.devices).toHaveLength(50);
    expect(second.body.lastPage).toBe(true);
    const first = await api.list('sp1', { modifiedSince: SINCE });
    expect(first.body.lastPage).toBe(false);
    expect((await api.list('sp2', { modifiedSince: SINCE })).body).toEqual({ devices: [], pageNumber: 1, lastPage: true });
    expect((await api.listAll('sp1', SINCE)).pages).toBe(2);
  });

  it('pageSize 1..50 (default 50), pageNumber a positive integer (default 1); anything else is 400 errorCode 10000024', async () => {
    const api = await start({ providers: [provider('sp1', devices(120))] });
    const dflt = await api.list('sp1', { modifiedSince: SINCE });
    expect(dflt.body.pageNumber).toBe(1);
    expect(dflt.body.devices).toHaveLength(50);
    const one = await api.list('sp1', { modifiedSince: SINCE, pageSize: 1, pageNumber: 120 });
    expect(one.body).toEqual({ devices: [served(devices(120)[119]!)], pageNumber: 120, lastPage: true });
    const seven = await api.listAll('sp1', SINCE, 7);
    expect(seven.pages).toBe(18);
    expect(seven.devices).toEqual(devices(120).map(served));
    for (const query of [{ pageSize: 51 }, { pageSize: 0 }, { pageSize: -1 }, { pageSize: 'ten' }, { pageSize: 2.5 }, { pageSize: '' }, { pageNumber: 0 }, { pageNumber: -2 }, { pageNumber: 'x' }, { pageNumber: '1.0' }]) {
      const r = await api.list('sp1', { modifiedSince: SINCE, ...query });
      expect(r.status, JSON.stringify(query)).toBe(400);
      expect(r.body.errorCode).toBe('10000024');
      expect(r.body.errorMessage).toMatch(/^page(Size|Number) must be/);
    }
  });

  it('pages are cut over the current devices: one changed during a listing moves to its end and is served twice', async () => {
    const api = await start({ providers: [provider('sp1', devices(120))] });
    const first = await api.list('sp1', { modifiedSince: SINCE, pageNumber: 1 });
    const moved = first.body.devices[10] as Device;
    expect((await api.upsert('sp1', [{ ...moved, status: 'DEACTIVATED', modifiedAt: '2026-11-20T00:00:00Z' }])).status).toBe(200);
    const second = await api.list('sp1', { modifiedSince: SINCE, pageNumber: 2 });
    const third = await api.list('sp1', { modifiedSince: SINCE, pageNumber: 3 });
    // Everything after the change shifted down by one: page 2 starts one device later...
    expect((second.body.devices as Device[])[0]!.iccid).toBe(devices(120)[51]!['iccid']);
    // ... and the changed device, already served on page 1, comes again last, with its new status.
    expect((third.body.devices as Device[]).at(-1)).toEqual({ ...moved, status: 'DEACTIVATED' });
    expect(third.body.lastPage).toBe(true);
    const iccids = [first, second, third].flatMap((p) => (p.body.devices as Device[]).map((d) => d.iccid));
    expect(iccids.filter((i) => i === moved.iccid)).toHaveLength(2);
    // Device 50 shifted from page 2 to page 1 while page 1 was already read: the overlap of the next pass catches it.
    expect(iccids).not.toContain(devices(120)[50]!['iccid']);
  });
});

describe('modifiedSince', () => {
  it('lists the devices modified at or after it, ordered by modification time then ICCID', async () => {
    // Ties at one minute: ICCID order breaks them, whatever the file order.
    const devs = devices(10, 0, (i) => Math.floor(i / 3)).reverse();
    const api = await start({ providers: [provider('sp1', devs)] });
    const all = await api.listAll('sp1', '2026-11-01T00:00:00Z');
    expect(all.devices.map((d) => d.iccid)).toEqual(devices(10).map((d) => d['iccid']));
    // Minute 1 (devices 3, 4, 5) onwards: inclusive at the exact instant.
    const fromMinute1 = await api.listAll('sp1', '2026-11-01T00:01:00Z');
    expect(fromMinute1.devices.map((d) => d.iccid)).toEqual(devices(10).slice(3).map((d) => d['iccid']));
    const justAfter = await api.listAll('sp1', '2026-11-01T00:01:00.001Z');
    expect(justAfter.devices).toHaveLength(4);
    // The same instant in another zone, percent-encoded as a client must.
    const offset = await api.list('sp1', { modifiedSince: '2026-11-01T01:01:00+01:00' });
    expect(offset.body.devices.map((d: Device) => d.iccid)).toEqual(fromMinute1.devices.map((d) => d.iccid));
    expect((await api.list('sp1', { modifiedSince: '2026-11-01T00:01:00+00:00' })).body.devices).toHaveLength(7);
    // After the last change: nothing.
    expect((await api.list('sp1', { modifiedSince: '2026-11-25T00:00:00Z' })).body).toEqual({ devices: [], pageNumber: 1, lastPage: true });
  });

  it('is required, ISO 8601 with a zone, and at most one year old: otherwise 400 errorCode 10000024', async () => {
    const api = await start({ providers: [provider('sp1', devices(3))] });
    const missing = await api.list('sp1', {});
    expect(missing.status).toBe(400);
    expect(missing.body).toEqual({ errorCode: '10000024', errorMessage: expect.stringMatching(/^modifiedSince is required/) });
    for (const bad of ['2026-11-01', '2026-11-01T00:00:00', '2026-11-01 00:00:00Z', '2026-02-30T00:00:00Z', '2026-11-01T24:00:00Z', '1790000000', 'yesterday', '2026-11-01T00:00:00+25:00']) {
      const r = await api.list('sp1', { modifiedSince: bad });
      expect(r.status, bad).toBe(400);
      expect(r.body.errorCode).toBe('10000024');
      expect(r.body.errorMessage).toMatch(/^modifiedSince is not an ISO 8601 date-time with a zone/);
    }
    // An unencoded "+" reaches the server as a space: refused, with the reason.
    const unencoded = await api.request('GET', '/sp/sp1/rws/api/v1/devices?modifiedSince=2026-11-01T00:00:00+00:00', { auth: basic('user-sp1', 'key-sp1-secret') });
    expect(unencoded.status).toBe(400);
    expect(unencoded.body.errorMessage).toContain('%2B');
    // One year before NOW (2025-11-25T12:00:00Z) is accepted, a millisecond earlier is not.
    expect((await api.list('sp1', { modifiedSince: '2025-11-25T12:00:00Z' })).status).toBe(200);
    const old = await api.list('sp1', { modifiedSince: '2025-11-25T11:59:59.999Z' });
    expect(old.status).toBe(400);
    expect(old.body).toEqual({ errorCode: '10000024', errorMessage: 'modifiedSince may not be more than one year ago' });
  });

  it('one year is a calendar year in UTC; the date parser refuses what names no instant', () => {
    expect(new Date(oneYearBefore(Date.parse('2028-02-29T10:00:00Z'))).toISOString()).toBe('2027-02-28T10:00:00.000Z');
    expect(new Date(oneYearBefore(Date.parse('2026-12-05T09:28:05.123Z'))).toISOString()).toBe('2025-12-05T09:28:05.123Z');
    expect(parseIsoWithZone('2028-02-29T00:00:00Z')).toBe(Date.parse('2028-02-29T00:00:00Z'));
    expect(parseIsoWithZone('2027-02-29T00:00:00Z')).toBeUndefined();
    expect(parseIsoWithZone('2026-11-01T00:00:00.123456Z')).toBe(Date.parse('2026-11-01T00:00:00.123Z'));
    expect(parseIsoWithZone('2026-11-01T00:00:00-05:30')).toBe(Date.parse('2026-11-01T05:30:00Z'));
  });
});

describe('Basic authentication', () => {
  it('401 errorCode 10000001 for no header, another scheme, bad base64, no colon, an unknown user or a wrong key; never echoing what was sent', async () => {
    const api = await start({ providers: [provider('sp1', devices(2)), provider('sp2', devices(2))] });
    const secretish = 'S3cr3t-typed-by-mistake';
    const cases: Array<[string | null, string]> = [
      [null, 'Authorization required'],
      ['', 'Authorization required'],
      [`Bearer ${secretish}`, 'not Basic credentials'],
      [`Basic ${secretish}!!`, 'not Basic credentials'],
      [`Basic ${Buffer.from(`user-sp1${secretish}`).toString('base64')}`, 'not user name:API key'],
      [basic(`user-${secretish}`, 'key-sp1-secret'), 'Invalid credentials'],
      [basic('user-sp1', secretish), 'Invalid credentials'],
      // Another provider's valid credentials are not this one's.
      [basic('user-sp2', 'key-sp2-secret'), 'Invalid credentials'],
      [basic('user-sp1', 'key-sp1-secret '), 'Invalid credentials'],
    ];
    for (const [auth, message] of cases) {
      const r = await api.list('sp1', { modifiedSince: SINCE }, { auth });
      expect(r.status, String(auth)).toBe(401);
      expect(r.body.errorCode).toBe('10000001');
      expect(r.body.errorMessage).toContain(message);
      expect(r.headers.get('www-authenticate')).toBe('Basic realm="Control Center"');
      expect(r.text).not.toContain(secretish);
      expect(r.text).not.toContain('key-sp1-secret');
      expect(r.text).not.toContain('user-');
    }
    // Checked before the path and the parameters: a wrong key on an unknown path is still 401.
    expect((await api.request('GET', '/sp/sp1/rws/api/v1/nothing', { auth: basic('user-sp1', 'wrong') })).status).toBe(401);
    expect((await api.list('sp1', {}, { auth: null })).status).toBe(401);
    // The scheme's case does not matter; the right pair passes.
    const ok = await api.list('sp1', { modifiedSince: SINCE }, { auth: basic('user-sp1', 'key-sp1-secret').replace('Basic', 'basic') });
    expect(ok.status).toBe(200);
    const stats = await api.stats();
    expect(stats.providers.sp1).toMatchObject({ requests: cases.length + 3, unauthorized: cases.length + 2, pages: 1, statuses: { '401': cases.length + 2, '200': 1 } });
    expect(stats.unauthorized).toBe(cases.length + 2);
  });

  it('a key holding a colon works (only the first colon splits); the default user name and key when the fixture gives none', async () => {
    const api = await start({ providers: [{ id: 'sp-a', apiKey: 'k:with:colons', devices: devices(1) }, { id: 'sp.b', devices: devices(1) }] });
    expect((await api.list('sp-a', { modifiedSince: SINCE }, { auth: basic('api-user', 'k:with:colons') })).status).toBe(200);
    expect((await api.list('sp.b', { modifiedSince: SINCE }, { auth: basic('api-user', 'jasper-emulator-key-sp.b') })).status).toBe(200);
    expect(emu!.env()).toEqual({ JASPER_API_KEY_SP_A: 'k:with:colons', JASPER_API_KEY_SP_B: 'jasper-emulator-key-sp.b' });
  });
});

describe('routes', () => {
  it('404 for an unknown provider or path, 405 for another method; each provider is its own tenant', async () => {
    const api = await start({ providers: [provider('sp1', devices(3)), provider('sp2', devices(5, 100))] });
    expect((await api.listAll('sp1', SINCE)).devices).toHaveLength(3);
    expect((await api.listAll('sp2', SINCE)).devices.map((d) => d.iccid)).toEqual(devices(5, 100).map((d) => d['iccid']));
    const unknown = await api.list('sp9', { modifiedSince: SINCE }, { auth: basic('user-sp1', 'key-sp1-secret') });
    expect(unknown.status).toBe(404);
    expect(unknown.body.errorCode).toBe('NOT_FOUND');
    const auth = basic('user-sp1', 'key-sp1-secret');
    expect((await api.request('GET', '/rws/api/v1/devices?modifiedSince=x', { auth })).status).toBe(404);
    expect((await api.request('GET', '/sp/sp1/rws/api/v1/devices/89012600000000000001', { auth })).status).toBe(404);
    expect((await api.request('GET', '/sp/sp1/rws/api/v2/devices', { auth })).status).toBe(404);
    const post = await api.request('POST', `/sp/sp1/rws/api/v1/devices?modifiedSince=${SINCE}`, { auth, body: {} });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET');
    expect(emu!.baseUrl('sp1')).toBe(`${emu!.url}/sp/sp1`);
    expect(emu!.providers()).toEqual([
      { id: 'sp1', name: 'Emulated service provider sp1', username: 'user-sp1', baseUrl: `${emu!.url}/sp/sp1` },
      { id: 'sp2', name: 'Emulated service provider sp2', username: 'user-sp2', baseUrl: `${emu!.url}/sp/sp2` },
    ]);
    const stats = await api.stats();
    expect(stats).toMatchObject({ unknownProvider: 2, pages: 2, devicesServed: 8, state: { sp1: 3, sp2: 5 }, statuses: { '404': 4, '405': 1, '200': 2 } });
  });
});

describe('duplicates', () => {
  it('serves duplicate ICCIDs of the fixture as listed, across pages too', async () => {
    const devs = devices(60);
    const dupFirst = { ...devs[5]!, status: 'DEACTIVATED', modifiedAt: devs[55]!['modifiedAt'] };
    const dupSame = { ...devs[7]!, ratePlan: 'other plan' };
    const api = await start({ providers: [provider('sp1', [...devs, dupFirst, dupSame])] });
    const all = await api.listAll('sp1', SINCE);
    expect(all.pages).toBe(2);
    expect(all.devices).toHaveLength(62);
    const at = (iccid: unknown) => all.devices.filter((d) => d.iccid === iccid);
    // Same modifiedAt and ICCID: file order. Device 5's second entry comes at minute 55, on page 2.
    expect(at(devs[7]!['iccid'])).toEqual([served(devs[7]!), served(dupSame)]);
    expect(all.devices.findIndex((d) => d.iccid === devs[5]!['iccid'] && d.status === 'DEACTIVATED')).toBeGreaterThanOrEqual(50);
    expect(at(devs[5]!['iccid'])).toHaveLength(2);
  });
});

describe('control endpoints', () => {
  it('upserts by ICCID (modifiedAt defaults to now), and an incremental listing sees exactly the changes', async () => {
    let now = NOW;
    const api = await start({ providers: [provider('sp1', devices(80)), provider('sp2', devices(2))] }, () => now);
    const full = await api.listAll('sp1', SINCE);
    expect(full.devices).toHaveLength(80);
    const cursor = new Date(NOW).toISOString();
    now = NOW + 60_000;
    const changed = { ...served(devices(80)[3]!), status: 'DEACTIVATED' };
    const added = { iccid: '8901260999999999999', status: 'INVENTORY', ratePlan: 'p', communicationPlan: 'c' };
    const older = { ...served(devices(80)[4]!), ratePlan: 'backdated', modifiedAt: '2026-11-02T00:00:00Z' };
    const r = await api.upsert('sp1', [added, changed, older]);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ provider: 'sp1', upserted: 3, devices: 81 });
    const incremental = await api.listAll('sp1', cursor);
    expect(incremental.devices).toEqual([changed, added]);
    // The full listing holds each ICCID once: the upsert replaced the old rows.
    const again = await api.listAll('sp1', SINCE);
    expect(again.devices).toHaveLength(81);
    expect(new Set(again.devices.map((d) => d.iccid)).size).toBe(81);
    const state = await api.state('sp1');
    expect(state.at(-1)).toEqual({ ...added, modifiedAt: '2026-11-25T12:01:00.000Z' });
    expect(state.find((d) => d.iccid === older.iccid)).toEqual({ ...older, modifiedAt: '2026-11-02T00:00:00.000Z' });
    // Another provider is untouched; emulator.devices() is the same view.
    expect(await api.state('sp2')).toHaveLength(2);
    expect(emu!.devices('sp1')).toEqual(state);
    expect(emu!.devices('nope')).toBeUndefined();
  });

  it('an upsert replaces every duplicate of an ICCID; the last of a batch wins', async () => {
    const d = devices(1)[0]!;
    const api = await start({ providers: [provider('sp1', [d, { ...d, status: 'X' }])] });
    expect(await api.state('sp1')).toHaveLength(2);
    await api.upsert('sp1', [
      { ...served(d), status: 'FIRST', modifiedAt: '2026-11-03T00:00:00Z' },
      { ...served(d), status: 'SECOND', modifiedAt: '2026-11-02T00:00:00Z' },
    ]);
    expect(await api.state('sp1')).toEqual([{ ...served(d), status: 'SECOND', modifiedAt: '2026-11-02T00:00:00.000Z' }]);
  });

  it('refuses a bad body whole, naming the field, never a value', async () => {
    const api = await start({ providers: [provider('sp1', devices(2))] });
    const cases: Array<[unknown, number, string]> = [
      ['not json', 400, 'body: not valid JSON'],
      [{ provider: 'sp1' }, 400, 'The body must be'],
      [{ provider: 'sp9', devices: [] }, 404, 'provider: no such service provider'],
      [{ provider: 'sp1', devices: [], extra: 1 }, 400, 'extra: is not a field here'],
      [{ provider: 'sp1', devices: [devices(1)[0], { iccid: 'x', status: 'A', ratePlan: 'p' }] }, 400, 'devices[1].communicationPlan: is required'],
      [{ provider: 'sp1', devices: [{ iccid: 'x', status: 'A', ratePlan: 'p', communicationPlan: 'c', modifiedAt: 'secret-ish' }] }, 400, 'devices[0].modifiedAt: must be an ISO 8601'],
      [{ provider: 'sp1', devices: [{ iccid: 8901260, status: 'A', ratePlan: 'p', communicationPlan: 'c' }] }, 400, 'devices[0].iccid: must be a non-empty string'],
    ];
    for (const [body, status, message] of cases) {
      const r = await api.request('POST', '/__emulator/jasper/devices', { body });
      expect(r.status, JSON.stringify(body)).toBe(status);
      expect(r.body.errorMessage).toContain(message);
      expect(r.text).not.toContain('secret-ish');
    }
    expect(await api.state('sp1')).toHaveLength(2);
    expect((await api.request('GET', '/__emulator/jasper/devices')).status).toBe(405);
    expect((await api.request('GET', '/__emulator/jasper/state?provider=sp9')).status).toBe(404);
    const everyone = await api.request('GET', '/__emulator/jasper/state');
    expect(Object.keys(everyone.body.providers)).toEqual(['sp1']);
    expect((await api.request('GET', '/__emulator/nothing')).status).toBe(404);
  });

  it('stats count per provider and status, pages and devices served; DELETE resets them', async () => {
    const api = await start({ providers: [provider('sp1', devices(120)), provider('sp2', devices(1))] });
    await api.listAll('sp1', SINCE);
    await api.listAll('sp2', SINCE);
    await api.list('sp1', { modifiedSince: 'bad' });
    const stats = await api.stats();
    expect(stats).toMatchObject({
      total: 5,
      statuses: { '200': 4, '400': 1 },
      pages: 4,
      devicesServed: 121,
      faults: {},
      providers: {
        sp1: { requests: 4, statuses: { '200': 3, '400': 1 }, pages: 3, devicesServed: 120, unauthorized: 0, rateLimited: 0, faults: {} },
        sp2: { requests: 1, statuses: { '200': 1 }, pages: 1, devicesServed: 1 },
      },
      state: { sp1: 120, sp2: 1 },
    });
    await api.resetStats();
    expect(await api.stats()).toMatchObject({ total: 0, pages: 0, providers: {}, state: { sp1: 120 } });
  });
});

describe('fixture', () => {
  it('is re-read when the file changes: new devices, keys and faults; the control endpoint\'s changes give way to the file', async () => {
    file = await startTestJasper({ providers: [provider('sp1', devices(3))] }, { now: () => NOW });
    const api = jasperApi(file.emulator);
    expect((await api.listAll('sp1', SINCE)).devices).toHaveLength(3);
    await api.upsert('sp1', [{ iccid: 'added-by-test', status: 'A', ratePlan: 'p', communicationPlan: 'c' }]);
    expect(await api.state('sp1')).toHaveLength(4);
    file.write({ providers: [provider('sp1', devices(5), { apiKey: 'rotated-key' }), provider('sp2', devices(1))], faults: [{ kind: 'error', provider: 'sp2', times: 1 }] });
    // Old key refused, new one taken: the client reads the fixture again.
    expect((await api.list('sp1', { modifiedSince: SINCE }, { auth: basic('user-sp1', 'key-sp1-secret') })).status).toBe(401);
    expect((await api.listAll('sp1', SINCE)).devices.map((d) => d.iccid)).toEqual(devices(5).map((d) => d['iccid']));
    expect((await api.list('sp2', { modifiedSince: SINCE })).status).toBe(500);
    expect((await api.list('sp2', { modifiedSince: SINCE })).status).toBe(200);
    expect(file.emulator.env()).toEqual({ JASPER_API_KEY_SP1: 'rotated-key', JASPER_API_KEY_SP2: 'key-sp2-secret' });
    // A broken file keeps the previous fleet.
    file.write({ providers: [{ id: 'sp1', devices: [{ iccid: '1' }] }] });
    expect((await api.listAll('sp1', SINCE)).devices).toHaveLength(5);
  });

  it('devices without modifiedAt are stamped when the file is (re)loaded, so an incremental listing after a change sees them', async () => {
    let now = NOW;
    file = await startTestJasper({ providers: [provider('sp1', [{ iccid: 'a', status: 'S', ratePlan: 'p', communicationPlan: 'c' }])] }, { now: () => now });
    const api = jasperApi(file.emulator);
    expect(await api.state('sp1')).toEqual([{ iccid: 'a', status: 'S', ratePlan: 'p', communicationPlan: 'c', modifiedAt: '2026-11-25T12:00:00.000Z' }]);
    now += 3_600_000;
    file.write({ providers: [provider('sp1', [{ iccid: 'a', status: 'S', ratePlan: 'p', communicationPlan: 'c' }, { iccid: 'b', status: null, ratePlan: '', communicationPlan: ' c ' }])] });
    const since = await api.listAll('sp1', '2026-11-25T12:30:00Z');
    // Values served exactly as written: null, blank and spaces included.
    expect(since.devices).toEqual([
      { iccid: 'a', status: 'S', ratePlan: 'p', communicationPlan: 'c' },
      { iccid: 'b', status: null, ratePlan: '', communicationPlan: ' c ' },
    ]);
  });

  it('validation errors name the field and never quote a value', () => {
    const key = 'a-very-secret-key';
    const cases: Array<[unknown, string]> = [
      [{ providers: {} }, 'jasper.providers: must be an array'],
      [{ providers: [{}] }, 'jasper.providers[0].id: must be letters, digits'],
      [{ providers: [{ id: 'sp 1' }] }, 'jasper.providers[0].id: must be letters'],
      [{ providers: [{ id: 'x'.repeat(65) }] }, 'jasper.providers[0].id: must be letters'],
      [{ providers: [{ id: 'sp1' }, { id: 'sp1' }] }, 'jasper.providers[1].id: duplicates jasper.providers[0].id'],
      [{ providers: [{ id: 'sp-1' }, { id: 'SP_1' }] }, 'jasper.providers[1].id: gives the same JASPER_API_KEY_SP_1 as jasper.providers[0].id'],
      [{ providers: [{ id: 'sp1', apiKey: `${key}'` }] }, 'jasper.providers[0].apiKey: must be a non-empty string of visible ASCII'],
      [{ providers: [{ id: 'sp1', apiKey: `${key} x` }] }, 'jasper.providers[0].apiKey: must be a non-empty string of visible ASCII'],
      [{ providers: [{ id: 'sp1', username: `${key}:x` }] }, 'jasper.providers[0].username: must not hold a colon'],
      [{ providers: [{ id: 'sp1', rateLimit: key }] }, 'jasper.providers[0].rateLimit: "a-very-secret-key" is not a rate'],
      [{ providers: [{ id: 'sp1', apikey: key }] }, 'jasper.providers[0].apikey: is not a field here'],
      [{ providers: [{ id: 'sp1', devices: [{ iccid: '', status: 'A', ratePlan: 'p', communicationPlan: 'c' }] }] }, 'jasper.providers[0].devices[0].iccid: must be a non-empty string'],
      [{ providers: [{ id: 'sp1', devices: [{ iccid: '1', ratePlan: 'p', communicationPlan: 'c' }] }] }, 'jasper.providers[0].devices[0].status: is required'],
      [{ providers: [{ id: 'sp1', devices: [{ iccid: '1', status: 5, ratePlan: 'p', communicationPlan: 'c' }] }] }, 'jasper.providers[0].devices[0].status: must be a string or null'],
      [{ providers: [{ id: 'sp1', devices: [{ iccid: '1', status: 'A', ratePlan: 'p', communicationPlan: 'c', modifiedAt: '2026-11-01' }] }] }, 'devices[0].modifiedAt: must be an ISO 8601 date-time with a zone'],
      [{ faults: [{ kind: 'boom' }] }, 'jasper.faults[0].kind: must be one of'],
      [{ faults: [{ kind: 'page' }] }, 'jasper.faults[0].page: is required by a "page" fault'],
      [{ faults: [{ kind: 'error', status: 429 }] }, 'jasper.faults[0].status: must be one of 500, 503 for a "error" fault'],
      [{ faults: [{ kind: 'rate-limit', retryAfterSeconds: 3 }] }, 'jasper.faults[0].retryAfterSeconds: goes with "status": 429 only'],
      [{ faults: [{ kind: 'bad-record', flaw: 'nope' }] }, 'jasper.faults[0].flaw: must be one of'],
      [{ faults: [{ kind: 'timeout', status: 500 }] }, 'jasper.faults[0].status: is not a field of a "timeout" fault'],
      [{ faults: [{ kind: 'error', provider: 'sp9' }] }, 'jasper.faults[0].provider: names no provider'],
      [{ faults: [{ kind: 'error', times: -1 }] }, 'jasper.faults[0].times: must be an integer from 0'],
      [{ other: 1 }, undefined as unknown as string],
    ];
    for (const [section, message] of cases) {
      if (message === undefined) {
        expect(() => normalizeJasperFixture(section)).toThrow('jasper.other: is not a field here');
        continue;
      }
      let thrown: Error | undefined;
      try {
        normalizeJasperFixture(section);
      } catch (err) {
        thrown = err as Error;
      }
      expect(thrown?.name, JSON.stringify(section)).toBe('FixtureError');
      expect(thrown!.message).toContain(message);
      if (message.includes('rateLimit')) continue; // the rate parser quotes what is not a rate; a rate is no secret
      expect(thrown!.message).not.toContain(key);
    }
  });

  it('the API key variable: the id upper-cased, every other character as _', () => {
    expect(apiKeyVariable('sp1')).toBe('JASPER_API_KEY_SP1');
    expect(apiKeyVariable('eu-west.tenant_2')).toBe('JASPER_API_KEY_EU_WEST_TENANT_2');
  });

  it('a whole fleet or the bare section; no jasper section is no providers', async () => {
    emu = await startJasperEmulator({ fixture: { aws: { things: [] }, jasper: { providers: [provider('sp1', [])] } } });
    expect(emu.providers().map((p) => p.id)).toEqual(['sp1']);
    await emu.close();
    emu = await startJasperEmulator({ fixture: { forwarder: {} } });
    expect(emu.providers()).toEqual([]);
    expect(emu.env()).toEqual({});
  });
});

describe('O(page) listing', () => {
  it('a page of 100,000 devices reads O(log N + pageSize) entries, never all of them', () => {
    const n = 100_000;
    const base = Date.parse('2026-11-01T00:00:00Z');
    const list = new ProviderDevices(Array.from({ length: n }, (_, i) => ({ iccid: `8901260${String(i).padStart(12, '0')}`, status: 'ACTIVATED', ratePlan: 'p', communicationPlan: 'c', modifiedAt: base + i * 1000 })));
    const inner = (list as unknown as { sorted: unknown[] }).sorted;
    let reads = 0;
    (list as unknown as { sorted: unknown[] }).sorted = new Proxy(inner, {
      get(target, prop, receiver) {
        if (typeof prop === 'string' && /^\d+$/.test(prop)) reads++;
        return Reflect.get(target, prop, receiver) as unknown;
      },
    });
    for (const page of [1, 1000, 1999, 2000, 2001]) {
      reads = 0;
      const p = list.page(base, 50, page);
      expect(p.devices).toHaveLength(page <= 2000 ? 50 : 0);
      expect(p.lastPage).toBe(page >= 2000);
      expect(reads).toBeLessThanOrEqual(Math.ceil(Math.log2(n)) + 1 + 50);
      reads = 0;
      list.pageLength(base, 50, page);
      expect(reads).toBeLessThanOrEqual(Math.ceil(Math.log2(n)) + 1);
    }
    expect(list.page(base + 99_950_000, 50, 1).devices[0]!.iccid).toBe(`8901260${String(99_950).padStart(12, '0')}`);
  });
});

type Reply = Awaited<ReturnType<JasperApi['list']>>;
