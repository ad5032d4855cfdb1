/**
 * What a failed statement becomes: the database's own words without the SQL knex puts in front of
 * them (statements carry values, LoRa keys among them), and only the rows' own errors isolated.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { driverMessage, openKnex, parseDbUrl } from '../../src/store/db.js';
import { writeIsolated } from '../../src/store/isolate.js';
import { migrateLatest } from '../../src/store/migrate.js';

describe('a SQLite database', () => {
  let dir: string;
  let k: Knex;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'portal-sync-errors-'));
    // Missing folders on the way to the file are created.
    k = openKnex(parseDbUrl(`sqlite:${join(dir, 'a', 'b', 'portal.db')}`));
    await migrateLatest(k);
  });
  afterAll(async () => {
    await k.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lives in the folders created for it', () => {
    expect(statSync(join(dir, 'a', 'b', 'portal.db')).isFile()).toBe(true);
  });

  it('reports a failed statement without its SQL', async () => {
    await k('lora_gateway_ids').insert({ id: 'dup' });
    const error = await k('lora_gateway_ids').insert({ id: 'dup' }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/^insert into/);
    const message = driverMessage(error);
    expect(message).not.toMatch(/insert/i);
    expect(message).toMatch(/UNIQUE constraint failed: lora_gateway_ids\.id/);
  });

  it('isolates the rows the database refuses, and fails on any other error', async () => {
    const write = async (trx: Knex.Transaction, ids: readonly string[]) => {
      for (const id of ids) await trx('lora_gateway_ids').insert({ id });
      return ids.length;
    };
    await k('lora_gateway_ids').insert({ id: 'taken' });
    const result = await k.transaction((trx) => writeIsolated(trx, ['a', 'taken', 'b', 'c'], (id) => id, write, driverMessage));
    expect(result.failed).toEqual([{ key: 'taken', error: expect.stringMatching(/^the database refused the row: UNIQUE constraint failed/) }]);
    expect(await k('lora_gateway_ids').pluck('id')).toEqual(expect.arrayContaining(['a', 'b', 'c', 'taken']));
    expect(result.results.reduce((n, r) => n + r, 0)).toBe(3);
    const gone = Object.assign(new Error('connection lost'), { code: 'ECONNRESET' });
    await expect(
      k.transaction((trx) => writeIsolated(trx, ['x', 'y'], (id) => id, async () => Promise.reject(gone), driverMessage)),
    ).rejects.toBe(gone);
    expect(await k.transaction((trx) => writeIsolated(trx, [], (id: string) => id, write, driverMessage))).toEqual({ results: [], failed: [] });
  });
});
