/** The forwarding-service emulator's injected faults, over real HTTP: each kind, `times`, `page`, `customerRef`. */
import { afterEach, describe, expect, it } from 'vitest';
import { startForwarderEmulator, type ForwarderEmulator, type ForwarderFixtureInput } from '../../src/emulators/forwarder/index.js';
import { forwarderApi, type Connection, type ForwarderApi } from '../support/forwarder.js';

const conns = (refs: string[]) => refs.map((customerRef) => ({ customerRef, hash: `hash-${customerRef}` }));

let emu: ForwarderEmulator | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

async function start(section: ForwarderFixtureInput): Promise<ForwarderApi> {
  emu = await startForwarderEmulator({ fixture: section });
  return forwarderApi(emu.env());
}

describe('error', () => {
  it('500 internal by default, 503 unavailable when asked; `times` spends it, then requests pass', async () => {
    const api = await start({
      connections: conns(['a', 'b']),
      faults: [
        { operation: 'list', kind: 'error', times: 2 },
        { operation: 'read', kind: 'error', status: 503, times: 1 },
      ],
    });
    for (let i = 0; i < 2; i++) {
      const r = await api.list();
      expect(r.status).toBe(500);
      expect(r.body.error).toEqual({ code: 'internal', message: 'Internal error (injected fault: list)' });
    }
    expect((await api.list()).body.connections).toHaveLength(2);
    const read = await api.read('a');
    expect(read.status).toBe(503);
    expect(read.body.error.code).toBe('unavailable');
    expect((await api.read('a')).status).toBe(200);
    expect(await api.stats()).toMatchObject({ requests: { list: 3, read: 2 }, faults: { list: 2, read: 1 }, statuses: { '500': 2, '503': 1, '200': 2 } });
  });

  it('without `times`, always; the first fault that applies is used', async () => {
    const api = await start({
      connections: conns(['a']),
      faults: [
        { operation: 'establish', kind: 'error', status: 503, customerRef: 'x', times: 1 },
        { operation: 'establish', kind: 'error' },
      ],
    });
    expect((await api.establish('x', 'h')).status).toBe(503);
    for (let i = 0; i < 3; i++) expect((await api.establish('x', 'h')).status).toBe(500);
    expect((await api.establish('y', 'h')).status).toBe(500);
    expect(await api.state()).toHaveLength(1);
  });
});

describe('throttle', () => {
  it('429 throttled with Retry-After: 1 by default, or the seconds asked', async () => {
    const api = await start({
      connections: conns(['a']),
      faults: [
        { operation: 'close', kind: 'throttle', times: 1 },
        { operation: 'list', kind: 'throttle', retryAfterSeconds: 7, times: 1 },
      ],
    });
    const close = await api.close('conn-00000001');
    expect(close.status).toBe(429);
    expect(close.headers.get('retry-after')).toBe('1');
    expect(close.body.error.code).toBe('throttled');
    expect((await api.read('a')).body.connections[0].status).toBe('connected');
    expect((await api.close('conn-00000001')).status).toBe(204);
    const list = await api.list();
    expect(list.status).toBe(429);
    expect(list.headers.get('retry-after')).toBe('7');
    expect((await api.list()).status).toBe(200);
  });
});

describe('timeout', () => {
  it('never answers until the client gives up, and the server still closes promptly', async () => {
    const api = await start({ connections: conns(['a']), faults: [{ operation: 'read', kind: 'timeout', times: 1 }, { operation: 'establish', kind: 'timeout' }] });
    const aborted = await api.request('GET', '/v1/customers/a/connections', { signal: AbortSignal.timeout(300) }).then(
      () => 'answered',
      (e: Error) => e.name,
    );
    expect(aborted).toBe('TimeoutError');
    expect((await api.read('a')).status).toBe(200);
    // A held establish: nothing is stored, and closing the emulator ends the request.
    const pending = api.establish('b', 'h').then(
      () => 'answered',
      (e: Error) => e.name,
    );
    await new Promise((r) => setTimeout(r, 200));
    expect(await api.state()).toHaveLength(1);
    expect(await api.stats()).toMatchObject({ requests: { read: 2, establish: 1 }, faults: { read: 1, establish: 1 } });
    const closing = performance.now();
    await emu!.close();
    expect(await pending).toBe('TypeError');
    expect(performance.now() - closing).toBeLessThan(2000);
  });
});

describe('page', () => {
  it('fails only that page of a listing (1-based); the same cursor then resumes', async () => {
    const api = await start({ connections: conns(['a', 'b', 'c', 'd', 'e', 'f', 'g']), faults: [{ operation: 'list', kind: 'error', page: 2, times: 1 }, { operation: 'list', kind: 'throttle', page: 4 }] });
    const first = await api.list({ limit: 2 });
    expect(first.status).toBe(200);
    const failed = await api.list({ limit: 2, cursor: first.body.nextCursor });
    expect(failed.status).toBe(500);
    const second = await api.list({ limit: 2, cursor: first.body.nextCursor });
    expect(second.body.connections.map((c: Connection) => c.customerRef)).toEqual(['c', 'd']);
    const third = await api.list({ limit: 2, cursor: second.body.nextCursor });
    expect(third.status).toBe(200);
    // Page 4 is throttled every time; the first page of a new listing is not.
    for (let i = 0; i < 2; i++) expect((await api.list({ limit: 2, cursor: third.body.nextCursor })).status).toBe(429);
    expect((await api.list({ limit: 2 })).status).toBe(200);
    // Pages are counted per listing: by 3, this one has 3 pages, so the 4th-page throttle never fires.
    expect((await api.listAll(3)).pages).toBe(3);
  });
});

describe('customerRef', () => {
  it('establish matches the body\'s reference, close the closed connection\'s, read the path\'s (exactly)', async () => {
    const awkward = 'cust 000997#eu/north';
    const api = await start({
      connections: conns(['closing', 'other', awkward]),
      faults: [
        { operation: 'establish', kind: 'error', customerRef: 'X' },
        { operation: 'close', kind: 'error', customerRef: 'closing', times: 1 },
        { operation: 'read', kind: 'error', status: 503, customerRef: awkward },
      ],
    });
    // A failing establish: X's, every time; not x's, nor Y's.
    expect((await api.establish('X', 'h')).status).toBe(500);
    expect((await api.establish('X', 'h')).status).toBe(500);
    expect((await api.establish('x', 'h')).status).toBe(201);
    expect((await api.establish('Y', 'h')).status).toBe(201);
    expect((await api.read('X')).body.connections).toEqual([]);
    // A close that fails once: the retry at once succeeds; other customers' closes are not touched.
    expect((await api.close('conn-00000002')).status).toBe(204);
    expect((await api.close('conn-00000001')).status).toBe(500);
    expect((await api.read('closing')).body.connections[0].status).toBe('connected');
    expect((await api.close('conn-00000001')).status).toBe(204);
    expect((await api.read('closing')).body.connections[0].status).toBe('disconnected');
    // A close of an unknown id has no customer: the fault does not match, the answer is 404.
    expect((await api.close('nope')).status).toBe(404);
    // Read by the decoded path reference.
    expect((await api.read(awkward)).status).toBe(503);
    expect((await api.read('cust 000997#eu/north ')).status).toBe(200);
    expect((await api.list()).status).toBe(200);
  });
});

describe('ineffective', () => {
  it('establish answers 201 as if it worked, but the stored connection is failed (reading back shows it)', async () => {
    const api = await start({ faults: [{ operation: 'establish', kind: 'ineffective', customerRef: 'c', times: 1 }] });
    const made = await api.establish('c', 'h');
    expect(made.status).toBe(201);
    expect(made.body.status).toBe('connected');
    const back = await api.read('c');
    expect(back.body.connections).toEqual([{ ...made.body, status: 'failed' }]);
    // Not active: the next establish is allowed, and (the fault spent) works.
    const again = await api.establish('c', 'h');
    expect(again.status).toBe(201);
    expect((await api.read('c')).body.connections.map((x: Connection) => x.status)).toEqual(['failed', 'connected']);
    expect((await api.stats()).faults).toEqual({ establish: 1 });
  });

  it('close answers 204, but the connection stays as it was', async () => {
    const api = await start({ connections: [...conns(['c']), { customerRef: 'p', hash: 'h', status: 'pending' }], faults: [{ operation: 'close', kind: 'ineffective' }] });
    expect((await api.close('conn-00000001')).status).toBe(204);
    expect((await api.close('conn-00000002')).status).toBe(204);
    expect((await api.state()).map((x) => x.status)).toEqual(['connected', 'pending']);
    // Still active, so still closable (and still ineffective); an unknown id is still 404.
    expect((await api.close('conn-00000001')).status).toBe(204);
    expect((await api.close('nope')).status).toBe(404);
    expect((await api.state()).map((x) => x.status)).toEqual(['connected', 'pending']);
  });
});
