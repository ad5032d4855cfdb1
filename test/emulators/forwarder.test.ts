/**
 * The emulated Navixy forwarding service over real HTTP (`fetch`), as `navixy-customers` talks to it:
 * paging, reads by reference, establish, close, the token, the test endpoints and the fixture.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_FORWARDER_TOKEN,
  normalizeForwarderFixture,
  startForwarderEmulator,
  type ForwarderEmulator,
  type ForwarderEmulatorOptions,
  type ForwarderFixtureInput,
} from '../../src/emulators/forwarder/index.js';
import { forwarderApi, startTestForwarder, type Connection, type TestForwarder } from '../support/forwarder.js';

const sha = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const conns = (n: number, prefix = 'cust') => Array.from({ length: n }, (_, i) => ({ customerRef: `${prefix}-${i + 1}`, hash: `hash-of-${prefix}-${i + 1}` }));
const ids = (cs: readonly Connection[]) => cs.map((c) => c.id);

let fw: TestForwarder | undefined;
let extra: ForwarderEmulator | undefined;
afterEach(async () => {
  await fw?.close();
  await extra?.close();
  fw = undefined;
  extra = undefined;
});

async function start(section: ForwarderFixtureInput, options: Omit<ForwarderEmulatorOptions, 'fixture' | 'fixturePath'> = {}) {
  fw = await startTestForwarder(section, options);
  return forwarderApi(fw.env());
}

describe('listing', () => {
  it('gives every connection exactly once, ordered by id, whatever its status; the last page has a null cursor', async () => {
    const api = await start({
      connections: [
        // Out of order in the file, some with ids of their own: listed by id.
        { id: 'conn-00000050', customerRef: 'z', hash: 'h-z', status: 'failed' },
        ...conns(23),
        { id: 'a-first', customerRef: 'y', hash: 'h-y', status: 'disconnected' },
        { id: 'conn-00000007', customerRef: 'x', hash: 'h-x', status: 'pending' },
      ],
    });
    const { connections, pages } = await api.listAll(7);
    expect(pages).toBe(4);
    expect(connections).toHaveLength(26);
    expect(new Set(ids(connections)).size).toBe(26);
    expect(ids(connections)).toEqual([...ids(connections)].sort());
    expect(ids(connections)[0]).toBe('a-first');
    // Ids given by the emulator skip those the file gives.
    expect(ids(connections)).toContain('conn-00000024');
    expect(ids(connections)).not.toContain('conn-00000025');
    expect(connections.map((c) => c.status).sort()).toEqual(['connected', ...Array(22).fill('connected'), 'disconnected', 'failed', 'pending'].sort());
    expect(connections.find((c) => c.customerRef === 'cust-3')).toEqual({
      id: 'conn-00000003',
      customerRef: 'cust-3',
      hashSha256: sha('hash-of-cust-3'),
      status: 'connected',
      createdAt: '2026-01-01T00:00:00.000Z',
    });
    expect(await api.state()).toEqual(connections);

    // Exactly `limit` left: the page that holds them is the last, with no cursor to an empty page.
    const first = await api.list({ limit: 13 });
    const second = await api.list({ limit: 13, cursor: first.body.nextCursor });
    expect(second.body.connections).toHaveLength(13);
    expect(second.body.nextCursor).toBeNull();
  });

  it('pages by 100 without a limit, and takes 1 and 1000', async () => {
    const api = await start({ connections: conns(1001) });
    const page = await api.list();
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^application\/json/);
    expect(page.body.connections).toHaveLength(100);
    expect(typeof page.body.nextCursor).toBe('string');
    expect((await api.list({ limit: 1 })).body.connections).toHaveLength(1);
    const big = await api.list({ limit: 1000 });
    expect(big.body.connections).toHaveLength(1000);
    const rest = await api.list({ limit: 1000, cursor: big.body.nextCursor });
    expect(ids(rest.body.connections)).toEqual(['conn-00001001']);
    expect(rest.body.nextCursor).toBeNull();
  });

  it('an empty service: one page, no connections, no cursor', async () => {
    const api = await start({});
    const page = await api.list();
    expect(page.body).toEqual({ connections: [], nextCursor: null });
  });

  it('resumes after the last id it returned when connections are closed, added or removed between pages', async () => {
    const api = await start({ connections: conns(10) });
    const first = await api.list({ limit: 4 });
    expect(ids(first.body.connections)).toEqual(['conn-00000001', 'conn-00000002', 'conn-00000003', 'conn-00000004']);
    // Between the pages: a close of one already listed and of one ahead, an establish (a new id, at the
    // end), one removed ahead, one added before the cursor (not seen by this listing, seen by the next).
    expect((await api.close('conn-00000002')).status).toBe(204);
    expect((await api.close('conn-00000006')).status).toBe(204);
    const made = await api.establish('cust-new', 'hash-new');
    expect(made.body.id).toBe('conn-00000011');
    expect((await api.removeConnection('conn-00000005')).status).toBe(204);
    expect((await api.addConnections([{ id: 'conn-00000003b', customerRef: 'late', hash: 'h' }])).status).toBe(201);
    const rest: Connection[] = [];
    let cursor = first.body.nextCursor as string | null;
    while (cursor !== null) {
      const page = await api.list({ limit: 4, cursor });
      expect(page.status).toBe(200);
      rest.push(...page.body.connections);
      cursor = page.body.nextCursor;
    }
    expect(rest.map((c) => [c.id, c.status])).toEqual([
      ['conn-00000006', 'disconnected'],
      ['conn-00000007', 'connected'],
      ['conn-00000008', 'connected'],
      ['conn-00000009', 'connected'],
      ['conn-00000010', 'connected'],
      ['conn-00000011', 'connected'],
    ]);
    const again = await api.listAll(4);
    expect(ids(again.connections)).toContain('conn-00000003b');
    expect(ids(again.connections)).not.toContain('conn-00000005');
    expect(again.connections.find((c) => c.id === 'conn-00000002')!.status).toBe('disconnected');
  });

  it('refuses a cursor it did not give (400 invalid_request), even a well-formed one from another emulator', async () => {
    const api = await start({ connections: conns(5) });
    const good = (await api.list({ limit: 2 })).body.nextCursor as string;
    extra = await startForwarderEmulator({ fixture: { connections: conns(5) } });
    const foreign = (await forwarderApi(extra.env()).list({ limit: 2 })).body.nextCursor as string;
    expect(foreign).not.toBe(good);
    const [payload, mac] = good.split('.') as [string, string];
    // The payload of the real one with another page or id: the mac no longer matches.
    const forged = `${Buffer.from(JSON.stringify({ a: 'conn-00000000', p: 2 })).toString('base64url')}.${mac}`;
    for (const cursor of [foreign, forged, `${payload}.${mac.slice(0, -2)}`, payload, 'not-a-cursor', `${good}x`, '%%%']) {
      const r = await api.list({ limit: 2, cursor });
      expect(r.status, cursor).toBe(400);
      expect(r.body.error.code).toBe('invalid_request');
      expect(r.body.error.message).toMatch(/cursor/);
    }
    expect((await api.list({ limit: 2, cursor: good })).status).toBe(200);
  });

  it('refuses a limit outside 1..1000 or not an integer (400 invalid_request)', async () => {
    const api = await start({ connections: conns(3) });
    for (const limit of ['0', '1001', '-1', 'abc', '', '1.5', '10abc', '99999999999']) {
      const r = await api.list({ limit });
      expect(r.status, `limit=${limit}`).toBe(400);
      expect(r.body.error).toEqual({ code: 'invalid_request', message: 'limit must be an integer from 1 to 1000' });
    }
    expect((await api.list({ limit: '0003' })).body.connections).toHaveLength(3);
  });
});

describe('read by customer reference', () => {
  const awkward = 'a/b#c d%e';
  it('takes one percent-encoded segment, decodes it once and compares exactly', async () => {
    const api = await start({
      connections: [
        { customerRef: awkward, hash: 'h1' },
        { customerRef: 'A/B#C D%E', hash: 'h2' },
        { customerRef: `${awkward} `, hash: 'h3' },
        { customerRef: 'a', hash: 'h4' },
        { customerRef: 'a%2Fb', hash: 'h5' },
        { customerRef: 'a/b', hash: 'h6' },
        { customerRef: 'zürich/süd', hash: 'h7' },
        { customerRef: awkward, hash: 'h8', status: 'disconnected' },
      ],
    });
    const refsOf = async (ref: string) => {
      const r = await api.read(ref);
      expect(r.status, ref).toBe(200);
      expect(Object.keys(r.body)).toEqual(['connections']);
      return (r.body.connections as Connection[]).map((c) => [c.customerRef, c.hashSha256]);
    };
    expect(await refsOf(awkward)).toEqual([
      [awkward, sha('h1')],
      [awkward, sha('h8')],
    ]);
    expect(await refsOf('A/B#C D%E')).toEqual([['A/B#C D%E', sha('h2')]]);
    expect(await refsOf(`${awkward} `)).toEqual([[`${awkward} `, sha('h3')]]);
    // Decoded once: `a%2Fb` is its own reference, not `a/b`.
    expect(await refsOf('a%2Fb')).toEqual([['a%2Fb', sha('h5')]]);
    expect(await refsOf('a/b')).toEqual([['a/b', sha('h6')]]);
    expect(await refsOf('zürich/süd')).toEqual([['zürich/süd', sha('h7')]]);
    expect(await refsOf('nobody')).toEqual([]);
    expect(await refsOf('A')).toEqual([]);
    // Not valid percent-encoding: 400.
    const bad = await api.request('GET', '/v1/customers/%E0%A4%A/connections');
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_request');
    expect((await api.stats()).requests.read).toBe(9);
  });

  it('a read at an unknown path is 404 not_found, a wrong method 405', async () => {
    const api = await start({});
    const r = await api.request('GET', '/v1/customers/x');
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('not_found');
    const m = await api.request('PUT', '/v1/connections');
    expect(m.status).toBe(405);
    expect(m.headers.get('allow')).toBe('GET, POST');
    expect(m.body.error.code).toBe('method_not_allowed');
  });
});

describe('establish', () => {
  it('opens a connection (201, connected), refuses a second active one (409), and allows one after a close', async () => {
    const at = Date.UTC(2026, 4, 6, 7, 8, 9);
    const api = await start({ connections: [{ customerRef: 'old', hash: 'h', status: 'disconnected' }, { customerRef: 'gone', hash: 'h', status: 'failed' }] }, { now: () => at });
    const made = await api.establish('cust 1#eu/north', 'abcdef0123');
    expect(made.status).toBe(201);
    expect(made.headers.get('content-type')).toMatch(/^application\/json/);
    expect(made.body).toEqual({ id: 'conn-00000003', customerRef: 'cust 1#eu/north', hashSha256: sha('abcdef0123'), status: 'connected', createdAt: new Date(at).toISOString() });
    expect((await api.read('cust 1#eu/north')).body.connections).toEqual([made.body]);

    const again = await api.establish('cust 1#eu/north', 'another-hash');
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('conflict');
    expect(again.body.error.message).toContain('conn-00000003');
    // Inactive connections of a customer do not count.
    expect((await api.establish('old', 'h2')).status).toBe(201);
    expect((await api.establish('gone', 'h2')).status).toBe(201);
    // Another customer whose reference differs only by case or a space is another customer.
    expect((await api.establish('CUST 1#eu/north', 'x')).status).toBe(201);
    expect((await api.establish('cust 1#eu/north ', 'x')).status).toBe(201);

    expect((await api.close('conn-00000003')).status).toBe(204);
    const reopened = await api.establish('cust 1#eu/north', 'new-hash');
    expect(reopened.status).toBe(201);
    expect(reopened.body.id).toBe('conn-00000008');
    expect((await api.read('cust 1#eu/north')).body.connections.map((c: Connection) => [c.id, c.status])).toEqual([
      ['conn-00000003', 'disconnected'],
      ['conn-00000008', 'connected'],
    ]);
    expect((await api.stats()).requests.establish).toBe(7);
  });

  it('opens as pending when the fixture says establishAs pending; pending is active (409)', async () => {
    const api = await start({ establishAs: 'pending' });
    const made = await api.establish('c', 'h');
    expect(made.status).toBe(201);
    expect(made.body.status).toBe('pending');
    expect((await api.establish('c', 'h')).status).toBe(409);
    expect((await api.close(made.body.id)).status).toBe(204);
  });

  it('400 invalid_request for a missing, blank or non-string field and a body that is not a JSON object', async () => {
    const api = await start({});
    const cases: Array<[unknown, RegExp]> = [
      [{ customerRef: 'c' }, /^hash is required$/],
      [{ hash: 'h' }, /^customerRef is required$/],
      [{ customerRef: 'c', hash: '' }, /^hash must not be blank$/],
      [{ customerRef: 'c', hash: '  \t' }, /^hash must not be blank$/],
      [{ customerRef: ' ', hash: 'h' }, /^customerRef must not be blank$/],
      [{ customerRef: 'c', hash: null }, /^hash is required$/],
      [{ customerRef: 7, hash: 'h' }, /^customerRef must be a string$/],
      [['c', 'h'], /JSON object/],
      [null, /JSON object/],
    ];
    for (const [body, message] of cases) {
      const r = await api.request('POST', '/v1/connections', { body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.code).toBe('invalid_request');
      expect(r.body.error.message).toMatch(message);
    }
    const notJson = await api.request('POST', '/v1/connections', { rawBody: '{"customerRef": "c", "hash": ' });
    expect(notJson.status).toBe(400);
    expect(notJson.body.error.message).toBe('The body is not valid JSON');
    expect(await api.state()).toEqual([]);
  });

  it('never shows a hash: not in any answer, error, listing, read, state or stats', async () => {
    const secret = 'S3CRET-navixy-hash-0f9e8d7c';
    const fileSecret = 'file-hash-5a5a5a5a5a';
    const api = await start({ connections: [{ customerRef: 'f', hash: fileSecret }] });
    const texts: string[] = [];
    const keep = async (p: Promise<{ text: string }>) => texts.push((await p).text);
    await keep(api.establish('c', secret));
    await keep(api.establish('c', secret)); // 409
    await keep(api.establish(' ', secret)); // 400
    await keep(api.request('POST', '/v1/connections', { rawBody: `{"customerRef": "c", "hash": "${secret}"` })); // not JSON
    await keep(api.request('POST', '/v1/connections', { body: { customerRef: 'd', hash: secret }, token: 'wrong' })); // 401
    await keep(api.read('c'));
    await keep(api.read('f'));
    await keep(api.list());
    await keep(api.addConnections([{ customerRef: 'e', hash: secret, status: 'failed' }]));
    await keep(api.addConnections([{ customerRef: 'e', hash: secret, status: 'weird' }])); // 400
    await keep(api.request('GET', '/__emulator/stats', { token: null }));
    await keep(api.request('GET', '/__emulator/forwarder/state', { token: null }));
    const all = texts.join('\n');
    expect(all).toContain(sha(secret));
    expect(all).toContain(sha(fileSecret));
    for (const s of [secret, fileSecret]) {
      expect(all).not.toContain(s);
      expect(all.toLowerCase()).not.toContain(s.toLowerCase());
    }
    expect(JSON.stringify(fw!.emulator.fixture())).not.toContain(fileSecret);
  });
});

describe('close', () => {
  it('204 with no body, then 404; the connection stays listed as disconnected', async () => {
    const api = await start({ connections: [...conns(2), { id: 'odd/id #1', customerRef: 'x', hash: 'h' }, { customerRef: 'y', hash: 'h', status: 'pending' }] });
    const closed = await api.close('conn-00000001');
    expect(closed.status).toBe(204);
    expect(closed.text).toBe('');
    const twice = await api.close('conn-00000001');
    expect(twice.status).toBe(404);
    expect(twice.body.error.code).toBe('not_found');
    expect((await api.list()).body.connections.find((c: Connection) => c.id === 'conn-00000001').status).toBe('disconnected');
    expect((await api.read('cust-1')).body.connections.map((c: Connection) => c.status)).toEqual(['disconnected']);
    // An id that needs escaping, and a pending connection, close the same way.
    expect((await api.close('odd/id #1')).status).toBe(204);
    expect((await api.close('conn-00000003')).status).toBe(204);
    expect((await api.close('no-such-id')).status).toBe(404);
    expect((await api.stats()).operationStatuses.close).toEqual({ '204': 3, '404': 2 });
  });

  it('404 for a connection that is not active any more (disconnected or failed from the start)', async () => {
    const api = await start({ connections: [{ customerRef: 'a', hash: 'h', status: 'disconnected' }, { customerRef: 'b', hash: 'h', status: 'failed' }] });
    expect((await api.close('conn-00000001')).status).toBe(404);
    expect((await api.close('conn-00000002')).status).toBe(404);
    expect((await api.state()).map((c) => c.status)).toEqual(['disconnected', 'failed']);
  });
});

describe('token', () => {
  it('401 unauthorized without a token, with a wrong one and with another scheme, for every operation; the message never echoes it', async () => {
    const api = await start({ token: 'the-right-token', connections: conns(1) });
    expect(fw!.env()).toEqual({ NAVIXY_FORWARDER_URL: api.url, NAVIXY_FORWARDER_TOKEN: 'the-right-token' });
    const wrong = 'wrong-token-7c1d5e';
    const attempts: Array<Parameters<typeof api.request>> = [];
    for (const [method, path, body] of [
      ['GET', '/v1/connections', undefined],
      ['GET', '/v1/customers/cust-1/connections', undefined],
      ['POST', '/v1/connections', { customerRef: 'z', hash: 'h' }],
      ['DELETE', '/v1/connections/conn-00000001', undefined],
      ['GET', '/v1/nowhere', undefined],
    ] as const) {
      attempts.push([method, path, { token: null, ...(body ? { body } : {}) }]);
      attempts.push([method, path, { token: wrong, ...(body ? { body } : {}) }]);
      attempts.push([method, path, { token: null, headers: { authorization: `Basic ${wrong}` }, ...(body ? { body } : {}) }]);
      attempts.push([method, path, { token: 'THE-RIGHT-TOKEN', ...(body ? { body } : {}) }]);
    }
    for (const args of attempts) {
      const r = await api.request(...args);
      expect(r.status, `${args[0]} ${args[1]}`).toBe(401);
      expect(r.body.error.code).toBe('unauthorized');
      expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(r.text).not.toContain(wrong);
      expect(r.text.toLowerCase()).not.toContain('the-right-token');
    }
    // Nothing happened, and each was counted.
    expect(await api.state()).toHaveLength(1);
    expect((await api.state())[0]!.status).toBe('connected');
    const stats = await api.stats();
    expect(stats).toMatchObject({ unauthorized: 20, total: 16, requests: { list: 4, read: 4, establish: 4, close: 4 }, statuses: { '401': 20 } });
    expect(JSON.stringify(stats)).not.toContain(wrong);
    // The right token, with the scheme in any case.
    expect((await api.request('GET', '/v1/connections', { token: null, headers: { authorization: 'bearer the-right-token' } })).status).toBe(200);
    expect((await api.list()).status).toBe(200);
  });

  it('defaults to the emulator token, printed by env()', async () => {
    const api = await start({});
    expect(fw!.env()['NAVIXY_FORWARDER_TOKEN']).toBe(DEFAULT_FORWARDER_TOKEN);
    expect((await api.list()).status).toBe(200);
  });
});

describe('test endpoints', () => {
  it('add connections as they are (any status, two active ones of one customer), all or none, and remove one outright', async () => {
    const at = Date.UTC(2026, 1, 2);
    const api = await start({ connections: conns(1) }, { now: () => at });
    const added = await api.addConnections([
      { customerRef: 'dup', hash: 'h1' },
      { customerRef: 'dup', hash: 'h2', status: 'pending', createdAt: '2025-05-05T05:05:05Z' },
      { id: 'manual-1', customerRef: 'other', hash: 'h3', status: 'failed' },
    ]);
    expect(added.status).toBe(201);
    expect(added.body.connections).toEqual([
      { id: 'conn-00000002', customerRef: 'dup', hashSha256: sha('h1'), status: 'connected', createdAt: new Date(at).toISOString() },
      { id: 'conn-00000003', customerRef: 'dup', hashSha256: sha('h2'), status: 'pending', createdAt: '2025-05-05T05:05:05.000Z' },
      { id: 'manual-1', customerRef: 'other', hashSha256: sha('h3'), status: 'failed', createdAt: new Date(at).toISOString() },
    ]);
    expect((await api.read('dup')).body.connections).toHaveLength(2);
    expect((await api.establish('dup', 'h')).status).toBe(409);
    expect(ids((await api.listAll()).connections)).toEqual(['conn-00000001', 'conn-00000002', 'conn-00000003', 'manual-1']);

    // All or none: a bad item names its index and field, never its value.
    const bad = await api.addConnections([{ customerRef: 'ok', hash: 'fine' }, { customerRef: 'x', hash: '   secret-ish   ', status: 'gone' }]);
    expect(bad.status).toBe(400);
    expect(bad.body.error).toEqual({ code: 'invalid_request', message: '[1].status: must be one of "connected", "pending", "disconnected", "failed"' });
    expect(bad.text).not.toContain('secret-ish');
    expect((await api.addConnections([{ customerRef: 'x' }])).body.error.message).toBe('[0].hash: must be a non-blank string');
    expect((await api.addConnections([{ id: 'manual-1', customerRef: 'x', hash: 'h' }])).status).toBe(409);
    expect((await api.addConnections([{ id: 'n', customerRef: 'x', hash: 'h' }, { id: 'n', customerRef: 'y', hash: 'h' }])).body.error.message).toBe('[1].id: duplicates [0].id');
    expect((await api.addConnections({ customerRef: 'x', hash: 'h' } as unknown as unknown[])).status).toBe(400);
    expect(await api.state()).toHaveLength(4);

    expect((await api.removeConnection('conn-00000002')).status).toBe(204);
    expect((await api.removeConnection('conn-00000002')).status).toBe(404);
    expect(ids(await api.state())).toEqual(['conn-00000001', 'conn-00000003', 'manual-1']);
    expect((await api.read('dup')).body.connections.map((c: Connection) => c.id)).toEqual(['conn-00000003']);
    // The emulator's next id stays past every id it has given.
    expect((await api.establish('new', 'h')).body.id).toBe('conn-00000004');
    // None of these needs the token, and none is counted as an API request.
    expect((await api.stats()).requests).toEqual({ list: 1, read: 2, establish: 2, close: 0 });
  });

  it('stats: per operation, per answer status, unauthorized, faults and the state; DELETE resets the counters', async () => {
    const api = await start({ connections: [...conns(2), { customerRef: 'x', hash: 'h', status: 'failed' }] });
    await api.list();
    await api.read('cust-1');
    await api.establish('cust-1', 'h');
    await api.establish('new', 'h');
    await api.close('conn-00000002');
    await api.request('GET', '/v1/connections', { token: null });
    expect(await api.stats()).toEqual({
      total: 6,
      requests: { list: 2, read: 1, establish: 2, close: 1 },
      unauthorized: 1,
      statuses: { '200': 2, '201': 1, '204': 1, '401': 1, '409': 1 },
      operationStatuses: { list: { '200': 1, '401': 1 }, read: { '200': 1 }, establish: { '409': 1, '201': 1 }, close: { '204': 1 } },
      faults: {},
      state: { connections: 4, connected: 2, pending: 0, disconnected: 1, failed: 1, active: 2 },
      // One request after another.
      maxInFlight: 1,
    });
    const reset = await api.request('DELETE', '/__emulator/stats', { token: null });
    expect(reset.body).toMatchObject({ total: 0, unauthorized: 0, requests: { list: 0, read: 0, establish: 0, close: 0 }, statuses: {}, state: { connections: 4 }, maxInFlight: 0 });
  });
});

describe('fixture', () => {
  it('a changed file builds a new state: the tool\'s establishes, closes and additions last until then; fault counters reset', async () => {
    const section = { connections: conns(3), faults: [{ operation: 'read', kind: 'error', times: 1 }] };
    const api = await start(section);
    expect((await api.read('cust-1')).status).toBe(500);
    expect((await api.read('cust-1')).status).toBe(200);
    await api.close('conn-00000001');
    await api.establish('cust-9', 'h');
    await api.addConnections([{ customerRef: 'cust-1', hash: 'h', status: 'pending' }]);
    expect(await api.state()).toHaveLength(5);

    fw!.write({ ...section, connections: [...conns(3), { customerRef: 'cust-4', hash: 'h4' }] });
    const after = await api.state();
    expect(after.map((c) => [c.id, c.customerRef, c.status])).toEqual([
      ['conn-00000001', 'cust-1', 'connected'],
      ['conn-00000002', 'cust-2', 'connected'],
      ['conn-00000003', 'cust-3', 'connected'],
      ['conn-00000004', 'cust-4', 'connected'],
    ]);
    // The read fault's one time is back.
    expect((await api.read('cust-1')).status).toBe(500);
    expect((await api.read('cust-1')).status).toBe(200);
    // A new token in the file takes effect at once.
    fw!.write({ token: 'rotated-token' });
    expect((await api.list()).status).toBe(401);
    expect(fw!.env()['NAVIXY_FORWARDER_TOKEN']).toBe('rotated-token');
  });

  it('a bad file keeps the previous state, with one line on stderr that names the field and not the value', async () => {
    const api = await start({ connections: conns(2) });
    await api.establish('kept', 'h');
    const lines: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array) => (lines.push(String(chunk)), true)) as typeof process.stderr.write;
    try {
      fw!.write({ connections: [{ customerRef: 'a', hash: 'h' }, { customerRef: 'b', hash: 'h' }, { customerRef: 'c', hash: 'h' }, { customerRef: '', hash: 'leaky-hash-value' }] });
      expect(await api.state()).toHaveLength(3);
      expect(await api.state()).toHaveLength(3);
    } finally {
      process.stderr.write = write;
    }
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('forwarder.connections[3].customerRef: must be a non-blank string');
    expect(lines[0]).not.toContain('leaky-hash-value');
  });

  it('validation names the field and never quotes a value', () => {
    const cases: Array<[unknown, string]> = [
      [{ connections: [{ customerRef: 'a', hash: 'h' }, {}, {}, { hash: 'secret-1' }] }, 'forwarder.connections[1].customerRef: must be a non-blank string'],
      [{ connections: [{ customerRef: 'a', hash: 42 }] }, 'forwarder.connections[0].hash: must be a non-blank string'],
      [{ connections: [{ customerRef: 'a', hash: 'secret-2', status: 'up' }] }, 'forwarder.connections[0].status: must be one of'],
      [{ connections: [{ customerRef: 'a', hash: 'secret-3', createdAt: 'yesterday' }] }, 'forwarder.connections[0].createdAt: must be an ISO 8601 date'],
      [{ connections: [{ customerRef: 'a', hash: 'secret-4', hsah: 'x' }] }, 'forwarder.connections[0].hsah: is not a field here'],
      [{ connections: [{ id: 'x', customerRef: 'a', hash: 'h' }, { id: 'x', customerRef: 'b', hash: 'h' }] }, 'forwarder.connections[1].id: duplicates forwarder.connections[0].id'],
      [{ token: 'has a space secret-5' }, 'forwarder.token: must be a non-empty string of visible ASCII'],
      [{ token: "quote'secret-6" }, 'forwarder.token: must be'],
      [{ establishAs: 'disconnected' }, 'forwarder.establishAs: must be one of "connected", "pending"'],
      [{ customers: [{ reference: 'r', provider: 'navixy' }] }, 'forwarder.customers[0].state: is required (a string, or null)'],
      [{ customers: [{ reference: 'r', provider: 'navixy', state: 'active', gatewayCount: -1 }] }, 'forwarder.customers[0].gatewayCount: must be an integer'],
      [{ customers: [{ reference: 'r', provider: 'navixy', state: 'active', hash: 7 }] }, 'forwarder.customers[0].hash: must be a string or null'],
      [{ customers: [{ reference: 'r', provider: 'x'.repeat(65), state: 'active' }] }, 'forwarder.customers[0].provider: must be at most 64 characters'],
      [{ customers: [{ reference: 'r', provider: null, state: null }, { reference: 'r', provider: null, state: null }] }, 'forwarder.customers[1].reference: duplicates forwarder.customers[0].reference'],
      [{ faults: [{ operation: 'delete', kind: 'error' }] }, 'forwarder.faults[0].operation: must be one of "list", "read", "establish", "close"'],
      [{ faults: [{ operation: 'list', kind: 'ineffective' }] }, 'forwarder.faults[0].kind: "ineffective" applies to "establish" and "close" only'],
      [{ faults: [{ operation: 'list', kind: 'error', customerRef: 'x' }] }, 'forwarder.faults[0].customerRef: is not a field of a "error" fault of "list"'],
      [{ faults: [{ operation: 'close', kind: 'error', page: 2 }] }, 'forwarder.faults[0].page: is not a field'],
      [{ faults: [{ operation: 'close', kind: 'error', status: 502 }] }, 'forwarder.faults[0].status: must be 500 or 503'],
      [{ faults: [{ operation: 'close', kind: 'throttle', status: 500 }] }, 'forwarder.faults[0].status: is not a field of a "throttle" fault'],
      [{ faults: [{ operation: 'close', kind: 'error', times: -1 }] }, 'forwarder.faults[0].times: must be an integer'],
      [{ unknown: 1, token: 'x' }, 'forwarder.unknown: is not a field here'],
    ];
    for (const [section, message] of cases) {
      let error: Error | undefined;
      try {
        normalizeForwarderFixture(section);
      } catch (err) {
        error = err as Error;
      }
      expect(error?.name, message).toBe('FixtureError');
      expect(error!.message).toContain(message);
      expect(error!.message).not.toMatch(/secret-\d/);
    }
  });

  it('customers are kept for --seed-models, with nulls for what is absent; a whole fleet file or the section itself', async () => {
    const fixture = normalizeForwarderFixture({
      customers: [
        { reference: 'cust 1#eu/north', name: 'One', provider: ' Navixy ', state: 'ACTIVE', hash: 'h', gatewayCount: 2 },
        { reference: 'c2', provider: null, state: null },
      ],
    });
    expect(fixture.customers).toEqual([
      { reference: 'cust 1#eu/north', name: 'One', provider: ' Navixy ', state: 'ACTIVE', hash: 'h', gatewayCount: 2 },
      { reference: 'c2', name: null, provider: null, state: null, hash: null, gatewayCount: null },
    ]);
    extra = await startForwarderEmulator({ fixture: { devices: [], forwarder: { connections: conns(2) } } });
    expect(extra.connections()).toHaveLength(2);
    await extra.close();
    extra = await startForwarderEmulator({ fixture: { devices: [] } });
    expect(extra.connections()).toEqual([]);
  });

  it('refuses a bad file at start, naming the file and the field', async () => {
    fw = await startTestForwarder({});
    writeFileSync(fw.fixturePath, JSON.stringify({ forwarder: { connections: [{ customerRef: 'a' }] } }));
    await expect(startForwarderEmulator({ fixturePath: fw.fixturePath })).rejects.toThrow(`${fw.fixturePath}: forwarder.connections[0].hash: must be a non-blank string`);
  });
});
