/**
 * An emulated Cisco Control Center over a fixture file that a test rewrites between passes, and a
 * plain `fetch` client of its devices API (the contract `portal-sync jasper` is written against),
 * which keeps every answer's status, headers and raw text so a test can grep them.
 */
import { emulatorOnFile } from './fixture-file.js';
import { startJasperEmulator, type JasperEmulator, type JasperEmulatorOptions, type JasperFixtureInput } from '../../src/emulators/jasper/index.js';

export interface TestJasper {
  readonly emulator: JasperEmulator;
  readonly fixturePath: string;
  readonly dir: string;
  /** Writes the `jasper` section (a whole fleet when it has a `jasper` key) with a new mtime. */
  write(fixture: JasperFixtureInput): void;
  close(): Promise<void>;
}

/** `fixture`: the `jasper` section, or a whole fleet file holding one. */
export async function startTestJasper(fixture: JasperFixtureInput, options: Omit<JasperEmulatorOptions, 'fixture' | 'fixturePath'> = {}): Promise<TestJasper> {
  const running = await emulatorOnFile('jasper', 'jasper', fixture, (fixturePath) => startJasperEmulator({ ...options, fixturePath }));
  return { ...running };
}

export interface Reply {
  status: number;
  headers: Headers;
  /** The raw body, for greps (a key must appear in none). */
  text: string;
  /** The parsed JSON body (undefined for an empty or non-JSON one). */
  body: any;
}

export interface Device {
  iccid: string;
  status: string | null;
  ratePlan: string | null;
  communicationPlan: string | null;
}

export interface ListQuery {
  modifiedSince?: string;
  pageSize?: number | string;
  pageNumber?: number | string;
}

export interface JasperApi {
  readonly url: string;
  /** A request on `<url><path>`; `auth` null: no Authorization header; a string: that header as is. */
  request(method: string, path: string, options?: { auth?: string | null; body?: unknown; signal?: AbortSignal }): Promise<Reply>;
  /** GET <url>/sp/<provider>/rws/api/v1/devices with the provider's Basic credentials. */
  list(provider: string, query: ListQuery, options?: { auth?: string | null; signal?: AbortSignal }): Promise<Reply>;
  /** Every page until lastPage; fails on any non-200 answer. */
  listAll(provider: string, modifiedSince: string, pageSize?: number): Promise<{ devices: Device[]; pages: number }>;
  stats(): Promise<any>;
  resetStats(): Promise<void>;
  state(provider: string): Promise<Array<Device & { modifiedAt: string }>>;
  upsert(provider: string, devices: unknown[]): Promise<Reply>;
}

export function basic(username: string, apiKey: string): string {
  return `Basic ${Buffer.from(`${username}:${apiKey}`).toString('base64')}`;
}

/**
 * A client of the emulator at `url`; `credentials` gives each provider's user name and API key
 * (default: the fixture's, read from the emulator).
 */
export function jasperApi(emulator: JasperEmulator, credentials?: Record<string, { username: string; apiKey: string }>): JasperApi {
  const url = emulator.url;
  const authOf = (provider: string) => {
    const c = credentials?.[provider] ?? emulator.fixture().providers.find((p) => p.id === provider);
    return c ? basic(c.username, c.apiKey) : null;
  };
  const request: JasperApi['request'] = async (method, path, options = {}) => {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (options.auth !== undefined && options.auth !== null) headers['authorization'] = options.auth;
    let body: string | undefined;
    if (options.body !== undefined) {
      body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    }
    const res = await fetch(`${url}${path}`, { method, headers, ...(body !== undefined ? { body } : {}), ...(options.signal ? { signal: options.signal } : {}) });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: res.status, headers: res.headers, text, body: parsed };
  };
  const api: JasperApi = {
    url,
    request,
    list(provider, query, options = {}) {
      const q = new URLSearchParams();
      if (query.modifiedSince !== undefined) q.set('modifiedSince', query.modifiedSince);
      if (query.pageSize !== undefined) q.set('pageSize', String(query.pageSize));
      if (query.pageNumber !== undefined) q.set('pageNumber', String(query.pageNumber));
      const qs = q.toString();
      const auth = options.auth === undefined ? authOf(provider) : options.auth;
      return request('GET', `/sp/${encodeURIComponent(provider)}/rws/api/v1/devices${qs ? `?${qs}` : ''}`, { auth, ...(options.signal ? { signal: options.signal } : {}) });
    },
    async listAll(provider, modifiedSince, pageSize = 50) {
      const devices: Device[] = [];
      for (let page = 1; ; page++) {
        const r = await api.list(provider, { modifiedSince, pageSize, pageNumber: page });
        if (r.status !== 200) throw new Error(`listing page ${page}: ${r.status} ${r.text}`);
        if (r.body.pageNumber !== page) throw new Error(`page ${page} answered as page ${String(r.body.pageNumber)}`);
        devices.push(...(r.body.devices as Device[]));
        if (r.body.lastPage === true) return { devices, pages: page };
      }
    },
    async stats() {
      return (await request('GET', '/__emulator/stats')).body;
    },
    async resetStats() {
      await request('DELETE', '/__emulator/stats');
    },
    async state(provider) {
      const r = await request('GET', `/__emulator/jasper/state?provider=${encodeURIComponent(provider)}`);
      if (r.status !== 200) throw new Error(`state of ${provider}: ${r.status} ${r.text}`);
      return r.body.devices;
    },
    upsert: (provider, devices) => request('POST', '/__emulator/jasper/devices', { body: { provider, devices } }),
  };
  return api;
}
