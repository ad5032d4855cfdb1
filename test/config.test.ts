import { describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { ConfigError, resolveDb, resolveIotHubConfig, resolvePassConfig, UsageError } from '../src/config.js';

describe('configuration', () => {
  it('takes --db, then PORTAL_SYNC_DB, then DATABASE_URL, then the embedded default', () => {
    const env = { PORTAL_SYNC_DB: 'sqlite:./a.db', DATABASE_URL: 'postgres://u@h/db' };
    expect(resolveDb('sqlite:./flag.db', env).display).toBe('sqlite:./flag.db');
    expect(resolveDb(undefined, env).display).toBe('sqlite:./a.db');
    expect(resolveDb(undefined, { DATABASE_URL: 'postgres://u@h/db' }).client).toBe('postgres');
    expect(resolveDb(undefined, {}).display).toBe('sqlite:./portal-sync.db');
  });

  it('never shows a database password', () => {
    const target = resolveDb('postgres://portal:s3cret@db.internal:5432/portal?sslmode=require', {});
    expect(target.display).toBe('postgres://db.internal:5432/portal');
    expect(target.display).not.toContain('s3cret');
  });

  it.each([
    [['mysql://h/db', {}], /--db must be sqlite:<path> or postgres/],
    [['sqlite:', {}], /needs a file path/],
  ])('rejects a bad --db %j', ([db, env], message) => {
    expect(() => resolveDb(db as string, env as Record<string, string>)).toThrow(message as RegExp);
  });

  it('reads sqlite:<relative path> and sqlite:/abs or sqlite:///abs as that absolute path', () => {
    expect(resolveDb('sqlite:./rel.db', {}).filename).toBe(resolve('rel.db'));
    expect(resolveDb('sqlite:/abs/x.db', {})).toMatchObject({ filename: '/abs/x.db', display: 'sqlite:/abs/x.db' });
    expect(resolveDb('sqlite:///abs/x.db', {})).toMatchObject({ filename: '/abs/x.db', display: 'sqlite:/abs/x.db' });
  });

  it('refuses sqlite://<host>... instead of reading it as a path at the root', () => {
    // It once became /gen.db: the file landed at the root of the file system.
    expect(() => resolveDb('sqlite://./gen.db', {})).toThrow(UsageError);
    expect(() => resolveDb('sqlite://./gen.db', {})).toThrow(
      '--db "sqlite://./gen.db" has a host part (sqlite://<host>/...), which a SQLite file cannot have: write sqlite:./gen.db (a path relative to the current folder) or sqlite:///abs/path.db (an absolute path)',
    );
    expect(() => resolveDb('sqlite://gen.db', {})).toThrow(/write sqlite:gen\.db \(a path relative/);
    expect(() => resolveDb(undefined, { PORTAL_SYNC_DB: 'sqlite://./gen.db' })).toThrow(ConfigError);
  });

  it('quotes a --db it cannot use as typed, with a hint, never with its password', () => {
    expect(() => resolveDb('./foo.db', {})).toThrow('--db must be sqlite:<path> or postgres://..., got "./foo.db" (did you mean sqlite:./foo.db?)');
    // From the environment the message names the variable, and the value is configuration (78).
    expect(() => resolveDb(undefined, { DATABASE_URL: 'portal.db' })).toThrow('DATABASE_URL must be sqlite:<path> or postgres://..., got "portal.db" (did you mean sqlite:portal.db?)');
    expect(() => resolveDb(undefined, { DATABASE_URL: 'portal.db' })).toThrow(ConfigError);
    const cases = ['mysql://portal:s3cret@db/portal', 'mysql://portal:s3c@r/et@db/portal', 'postgres://portal:s3cret@db:notaport/portal'];
    for (const url of cases) {
      let message = '';
      try {
        resolveDb(url, {});
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toContain('portal:***@');
      expect(message).not.toMatch(/s3c/);
    }
  });

  it('needs a PostgreSQL database for the advisory lock, and checks option values', () => {
    const pass = (opts: Record<string, unknown>, env: Record<string, string> = {}) =>
      resolvePassConfig('devices', opts, { PORTAL_SYNC_DB: 'sqlite:/tmp/p.db', ...env }, false);
    // A bad value typed as a flag is a usage error (64); the same value from the environment is configuration (78).
    expect(() => pass({ lock: 'postgres' })).toThrow(UsageError);
    expect(() => pass({}, { PORTAL_SYNC_LOCK: 'postgres' })).toThrow(ConfigError);
    expect(() => pass({ lock: 'bogus' })).toThrow(UsageError);
    expect(() => pass({}, { PORTAL_SYNC_LOCK: 'bogus' })).toThrow(/^PORTAL_SYNC_LOCK must be file or postgres/);
    expect(() => pass({}, { PORTAL_SYNC_LOCK: 'bogus' })).toThrow(ConfigError);
    expect(() => pass({}, { PORTAL_SYNC_PUSHGATEWAY: 'ftp://x' })).toThrow(/^PORTAL_SYNC_PUSHGATEWAY must be an http\(s\) URL/);
    expect(() => pass({ db: 'mysql://h/db' })).toThrow(UsageError);
    expect(() => pass({}, { PORTAL_SYNC_DB: 'mysql://h/db' })).toThrow(ConfigError);
    expect(pass({ lock: 'postgres', db: 'postgres://u@h/db' }).lock).toBe('postgres');
    expect(() => pass({ maxDeleteShare: '1.5' })).toThrow(/between 0 and 1/);
    expect(() => pass({ pushgateway: 'ftp://x' })).toThrow(/http\(s\) URL/);
    expect(() => pass({}, { PORTAL_SYNC_LOCK_STALE_MS: '10' })).toThrow(/at least 2000/);
    expect(pass({ lockDir: '/l' }, { PORTAL_SYNC_LOCK_DIR: '/env' }).lockDir).toBe('/l');
    expect(pass({}, { PORTAL_SYNC_LOCK_DIR: '/env', PORTAL_SYNC_PUSHGATEWAY: 'http://gw:9091' })).toMatchObject({
      lockDir: '/env',
      pushgateway: 'http://gw:9091',
    });
  });

  it('turns colour off for NO_COLOR, --json and non-terminals', () => {
    expect(resolvePassConfig('devices', {}, {}, true).color).toBe(true);
    expect(resolvePassConfig('devices', {}, { NO_COLOR: '' }, true).color).toBe(false);
    expect(resolvePassConfig('devices', { json: true }, {}, true).color).toBe(false);
    expect(resolvePassConfig('devices', { db: 'sqlite:x.db' }, {}, false).color).toBe(false);
  });

  it('uses the default database only on a terminal: under cron it would be a new, empty one', () => {
    expect(resolvePassConfig('devices', {}, {}, true)).toMatchObject({ dbIsDefault: true, db: { display: 'sqlite:./portal-sync.db' } });
    expect(() => resolvePassConfig('devices', {}, {}, false)).toThrow(ConfigError);
    expect(() => resolvePassConfig('devices', {}, {}, false)).toThrow(/no portal database given: set --db, PORTAL_SYNC_DB or DATABASE_URL/);
    for (const env of [{ PORTAL_SYNC_DB: 'sqlite:/tmp/a.db' }, { DATABASE_URL: 'postgres://h/db' }]) {
      expect(resolvePassConfig('devices', {}, env, false).dbIsDefault).toBe(false);
    }
    expect(resolvePassConfig('devices', { db: 'sqlite:/tmp/b.db' }, {}, false).dbIsDefault).toBe(false);
  });

  it('reads the IoT Hub connection string and never quotes its key in errors', () => {
    const env = { IOTHUB_CONNECTION_STRING: 'HostName=h.azure-devices.net;SharedAccessKeyName=reader;SharedAccessKey=c2VjcmV0', IOTHUB_ENDPOINT: 'http://127.0.0.1:1234' };
    expect(resolveIotHubConfig({}, env)).toMatchObject({ endpoint: 'http://127.0.0.1:1234', pageSize: 100, credentials: { hostName: 'h.azure-devices.net' } });
    expect(() => resolveIotHubConfig({ pageSize: '5000' }, env)).toThrow(/--page-size/);
    let message = '';
    try {
      resolveIotHubConfig({}, { IOTHUB_CONNECTION_STRING: 'SharedAccessKey=c2VjcmV0' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/missing HostName, SharedAccessKeyName/);
    expect(message).not.toContain('c2VjcmV0');
  });

  it('takes the request timeout and the page budget as durations: 30 s and 60 s by default', () => {
    const env = { IOTHUB_CONNECTION_STRING: 'HostName=h.azure-devices.net;SharedAccessKeyName=reader;SharedAccessKey=c2VjcmV0' };
    expect(resolveIotHubConfig({}, env)).toMatchObject({ requestTimeoutMs: 30_000, pageBudgetMs: 60_000 });
    expect(resolveIotHubConfig({ requestTimeout: '500ms', pageBudget: '2m' }, env)).toMatchObject({ requestTimeoutMs: 500, pageBudgetMs: 120_000 });
    expect(() => resolveIotHubConfig({ requestTimeout: '30' }, env)).toThrow(UsageError);
    expect(() => resolveIotHubConfig({ requestTimeout: '30' }, env)).toThrow(/^--request-timeout: "30" is not a duration/);
    expect(() => resolveIotHubConfig({ pageBudget: 'soon' }, env)).toThrow(/^--page-budget: "soon" is not a duration/);
    expect(() => resolveIotHubConfig({ pageBudget: '0s' }, env)).toThrow(/^--page-budget must be longer than 0 ms/);
    expect(() => resolveIotHubConfig({ requestTimeout: '25h' }, env)).toThrow(/^--request-timeout must be at most 86400 s/);
  });
});
