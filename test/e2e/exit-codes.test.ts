/**
 * The exit-code contract, command by command, as a scheduler sees it: the built CLI as a process.
 * Every command goes through the one mapping (src/run/exit-code.ts), so the same failure gives the
 * same code whether it happens in `migrate`, `history` or a pass.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../support/backends.js';
import { runCli } from '../support/cli.js';

const HUB = 'HostName=h.azure-devices.net;SharedAccessKeyName=k;SharedAccessKey=aGVsbG8=';
const PASSWORD = 'pw-that-must-not-show';
const UNREACHABLE = `postgres://postgres:${PASSWORD}@127.0.0.1:1/x`;
const NO_SUCH_DB = `postgres://postgres:${PASSWORD}@127.0.0.1:5432/portal_sync_no_such_db`;
const NO_SUCH_ROLE = `postgres://no_such_role:${PASSWORD}@127.0.0.1:5432/test`;

interface Row {
  args: (scratch: string) => string[];
  env?: Record<string, string | undefined>;
  code: number;
  /** What stderr must say: the database named (never its password), or the bad value. */
  says: RegExp;
  /** Rows about the PostgreSQL server itself need it running (the unreachable one does not). */
  needsServer?: boolean;
}

const pass = (scratch: string, ...args: string[]) => ['devices', '--lock-dir', join(scratch, 'locks'), ...args];
const sqlite = (scratch: string) => `sqlite:${join(scratch, 'portal.db')}`;

const TABLE: Array<[string, Row]> = [
  ['migrate, unreachable server', { args: () => ['migrate', '--db', UNREACHABLE], code: 69, says: /cannot migrate postgres:\/\/127\.0\.0\.1:1\/x: .*ECONNREFUSED/ }],
  ['history, unreachable server', { args: () => ['history', '--db', UNREACHABLE], code: 69, says: /postgres:\/\/127\.0\.0\.1:1\/x: .*ECONNREFUSED/ }],
  ['devices, unreachable server', { args: (s) => pass(s, '--db', UNREACHABLE), code: 69, says: /postgres:\/\/127\.0\.0\.1:1\/x: .*ECONNREFUSED/ }],
  ['migrate, missing database', { args: () => ['migrate', '--db', NO_SUCH_DB], code: 69, says: /portal_sync_no_such_db.*does not exist/, needsServer: true }],
  ['history, missing database', { args: () => ['history', '--db', NO_SUCH_DB], code: 69, says: /portal_sync_no_such_db.*does not exist/, needsServer: true }],
  ['devices, missing database', { args: (s) => pass(s, '--db', NO_SUCH_DB), code: 69, says: /portal_sync_no_such_db.*does not exist/, needsServer: true }],
  ['migrate, wrong role', { args: () => ['migrate', '--db', NO_SUCH_ROLE], code: 78, says: /postgres:\/\/127\.0\.0\.1:5432\/test: .*no_such_role/, needsServer: true }],
  ['history, wrong role', { args: () => ['history', '--db', NO_SUCH_ROLE], code: 78, says: /postgres:\/\/127\.0\.0\.1:5432\/test: .*no_such_role/, needsServer: true }],
  ['devices, wrong role', { args: (s) => pass(s, '--db', NO_SUCH_ROLE), code: 78, says: /postgres:\/\/127\.0\.0\.1:5432\/test: .*no_such_role/, needsServer: true }],
  ['history --limit 0', { args: (s) => ['history', '--db', sqlite(s), '--limit', '0'], code: 64, says: /--limit must be a positive whole number/ }],
  ['devices --page-size 0', { args: (s) => pass(s, '--db', sqlite(s), '--page-size', '0'), code: 64, says: /--page-size must be a whole number from 1 to 1000/ }],
  ['devices --lock foo', { args: (s) => pass(s, '--db', sqlite(s), '--lock', 'foo'), code: 64, says: /'--lock <kind>' argument 'foo' is invalid/ }],
  ['PORTAL_SYNC_LOCK=bogus devices', { args: (s) => pass(s, '--db', sqlite(s)), env: { PORTAL_SYNC_LOCK: 'bogus' }, code: 78, says: /PORTAL_SYNC_LOCK must be file or postgres, got "bogus"/ }],
  ['devices without IOTHUB_CONNECTION_STRING', { args: (s) => pass(s, '--db', sqlite(s)), env: { IOTHUB_CONNECTION_STRING: undefined }, code: 78, says: /IOTHUB_CONNECTION_STRING is not set/ }],
];

// Without a PostgreSQL server (never in CI: BACKENDS requires it there) its rows cannot say anything.
const ROWS = TABLE.filter(([, row]) => !row.needsServer || BACKENDS.includes('postgres'));

describe('exit codes of the built CLI', () => {
  let scratch: string;
  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), 'portal-sync-exit-'));
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it.each(ROWS)('%s', async (_name, row) => {
    const result = await runCli(row.args(scratch), { IOTHUB_CONNECTION_STRING: HUB, ...row.env });
    expect(result.code, result.stderr).toBe(row.code);
    expect(result.stderr).toMatch(row.says);
    expect(result.stdout + result.stderr).not.toContain(PASSWORD);
  });

  it('left no database behind in the scratch folder', () => {
    // Each bad value is found before anything is opened.
    expect(readdirSync(scratch).filter((name) => name.endsWith('.db'))).toEqual([]);
  });
});
