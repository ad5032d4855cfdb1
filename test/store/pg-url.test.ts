import { describe, expect, it } from 'vitest';
import { pgConnectionString } from '../../src/store/db.js';
import { runCli } from '../support/cli.js';
import { postgresAvailable, requireOrSkip } from '../support/services.js';

describe('pgConnectionString', () => {
  it('names verify-full where pg 8 would treat the mode as verify-full anyway, and leaves the rest', () => {
    for (const mode of ['prefer', 'require', 'verify-ca']) {
      expect(pgConnectionString(`postgres://u:p@db:5432/portal?sslmode=${mode}&application_name=x`)).toBe(
        'postgres://u:p@db:5432/portal?sslmode=verify-full&application_name=x',
      );
    }
    for (const url of ['postgres://u@db/portal', 'postgres://u@db/portal?sslmode=disable', 'postgres://u@db/portal?sslmode=require&uselibpqcompat=true']) {
      expect(pgConnectionString(url)).toBe(url);
    }
  });
});

const pg = await postgresAvailable();
describe.runIf(requireOrSkip('PostgreSQL suites', pg))('sslmode=require on the command line', () => {
  it('prints no multi-line SECURITY WARNING', async () => {
    const url = `${pg.ok ? pg.url : ''}?sslmode=require`;
    const result = await runCli(['migrate', '--db', url], {});
    expect(result.stderr).not.toContain('SECURITY WARNING');
    // The test server has no TLS: the run fails, in one line that says so.
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });
});
