/**
 * An emulated Navixy forwarding service over a fixture file that a test rewrites between passes, and
 * a plain `fetch` client of its API (the contract `navixy-customers` is written against), which
 * keeps every answer's status, headers and raw text so a test can grep them.
 */
import { emulatorOnFile } from './fixture-file.js';
import { startForwarderEmulator, type ForwarderEmulator, type ForwarderEmulatorOptions, type ForwarderFixtureInput } from '../../src/emulators/forwarder/index.js';

export interface TestForwarder {
  readonly emulator: ForwarderEmulator;
  readonly fixturePath: string;
  readonly dir: string;
  /** NAVIXY_FORWARDER_URL and NAVIXY_FORWARDER_TOKEN. */
  env(): Record<string, string>;
  /** Writes the `forwarder` section (a whole fleet when it has a `forwarder` key) with a new mtime. */
  write(fixture: ForwarderFixtureInput): void;
  close(): Promise<void>;
}

/** `fixture`: the `forwarder` section, or a whole fleet file holding one. */
export async function startTestForwarder(fixture: ForwarderFixtureInput, options: Omit<ForwarderEmulatorOptions, 'fixture' | 'fixturePath'> = {}): Promise<TestForwarder> {
  const running = await emulatorOnFile('forwarder', 'forwarder', fixture, (fixturePath) => startForwarderEmulator({ ...options, fixturePath }));
  return { ...running, env: () => running.emulator.env() };
}

export interface Reply {
  status: number;
  headers: Headers;
  /** The raw body, for greps (a hash must appear in none). */
  text: string;
  /** The parsed JSON body (undefined for an empty one). */
  body: any;
}

export interface Connection {
  id: string;
  customerRef: string;
  hashSha256: string;
  status: 'connected' | 'pending' | 'disconnected' | 'failed';
  createdAt: string;
}

export interface ForwarderApi {
  readonly url: string;
  request(method: string, path: string, options?: { body?: unknown; rawBody?: string; token?: string | null; headers?: Record<string, string>; signal?: AbortSignal }): Promise<Reply>;
  list(query?: { limit?: number | string; cursor?: string }): Promise<Reply>;
  /** Every connection, page after page (`limit` per page); fails the test on any non-200. */
  listAll(limit?: number): Promise<{ connections: Connection[]; pages: number }>;
  read(ref: string): Promise<Reply>;
  establish(customerRef: string, hash: string): Promise<Reply>;
  close(id: string): Promise<Reply>;
  /** The test endpoints (no token). */
  stats(): Promise<any>;
  state(): Promise<Connection[]>;
  addConnections(items: unknown[]): Promise<Reply>;
  removeConnection(id: string): Promise<Reply>;
}

/** A client of the API at `env.NAVIXY_FORWARDER_URL` with `env.NAVIXY_FORWARDER_TOKEN` (a request may override the token; null: none). */
export function forwarderApi(env: Record<string, string>): ForwarderApi {
  const url = env['NAVIXY_FORWARDER_URL']!;
  const token = env['NAVIXY_FORWARDER_TOKEN']!;
  const request: ForwarderApi['request'] = async (method, path, options = {}) => {
    const headers: Record<string, string> = { ...options.headers };
    const t = options.token === undefined ? token : options.token;
    if (t !== null) headers['authorization'] = `Bearer ${t}`;
    let body: string | undefined;
    if (options.rawBody !== undefined) body = options.rawBody;
    else if (options.body !== undefined) body = JSON.stringify(options.body);
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${url}${path}`, { method, headers, ...(body !== undefined ? { body } : {}), ...(options.signal ? { signal: options.signal } : {}) });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
  };
  const api: ForwarderApi = {
    url,
    request,
    list(query = {}) {
      const q = new URLSearchParams();
      if (query.limit !== undefined) q.set('limit', String(query.limit));
      if (query.cursor !== undefined) q.set('cursor', query.cursor);
      const qs = q.toString();
      return request('GET', `/v1/connections${qs ? `?${qs}` : ''}`);
    },
    async listAll(limit = 1000) {
      const connections: Connection[] = [];
      let cursor: string | undefined;
      let pages = 0;
      for (;;) {
        const r = await api.list({ limit, ...(cursor !== undefined ? { cursor } : {}) });
        if (r.status !== 200) throw new Error(`listing page ${pages + 1}: ${r.status} ${r.text}`);
        pages++;
        connections.push(...(r.body.connections as Connection[]));
        if (r.body.nextCursor === null) return { connections, pages };
        cursor = r.body.nextCursor as string;
      }
    },
    read: (ref) => request('GET', `/v1/customers/${encodeURIComponent(ref)}/connections`),
    establish: (customerRef, hash) => request('POST', '/v1/connections', { body: { customerRef, hash } }),
    close: (id) => request('DELETE', `/v1/connections/${encodeURIComponent(id)}`),
    async stats() {
      return (await request('GET', '/__emulator/stats', { token: null })).body;
    },
    async state() {
      return (await request('GET', '/__emulator/forwarder/state', { token: null })).body.connections as Connection[];
    },
    addConnections: (items) => request('POST', '/__emulator/forwarder/connections', { body: items, token: null }),
    removeConnection: (id) => request('DELETE', `/__emulator/forwarder/connections/${encodeURIComponent(id)}`, { token: null }),
  };
  return api;
}
