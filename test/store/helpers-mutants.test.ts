/**
 * The store's pure helpers, without a database: how stored values are read back for the plan,
 * which errors are the rows' own, URLs, SQL spelling, column checks and canonical encodings. What
 * `npm run mutate` showed no other in-process suite checks.
 */
import { describe, expect, it } from 'vitest';
import { canonicalModules } from '../../src/store/edge.js';
import { deviceValidator } from '../../src/store/devices.js';
import { canonicalTags, normalize, tagSet } from '../../src/store/entity.js';
import { clientOf, copyableDbUrl, DbUrlError, DEFAULT_DB_URL, describeDbError, driverMessage, parseDbUrl, redactUrl } from '../../src/store/db.js';
import { isDataError } from '../../src/store/isolate.js';
import { chunks, mapLazily, toBool, toIso, toScalar } from '../../src/store/rows.js';
import { storableRef } from '../../src/store/runlog.js';
import { declaredColumn, declaredColumns, isRealInstant, valueProblem } from '../../src/store/schema.js';
import { columns, distinctFrom, quote } from '../../src/store/sql.js';
import { resolve } from 'node:path';
import type { Knex } from 'knex';

describe('reading stored values back', () => {
  it('toBool takes SQLite 0/1, PostgreSQL booleans and their text forms', () => {
    expect([true, false, 1, 0, 2, -1].map(toBool)).toEqual([true, false, true, false, true, true]);
    expect(['1', 'true', 'TRUE', 'True', '0', 'false', 'yes', ''].map(toBool)).toEqual([true, true, true, true, false, false, false, false]);
    expect([null, undefined].map(toBool)).toEqual([null, null]);
    expect(toBool({})).toBe(true);
    expect(toBool(0n)).toBe(false);
  });

  it('toIso gives canonical ISO instants, whatever form the driver returned', () => {
    expect(toIso('2026-01-02T03:04:05.678Z')).toBe('2026-01-02T03:04:05.678Z');
    expect(toIso(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678)))).toBe('2026-01-02T03:04:05.678Z');
    // SQLite may hand back text in other shapes; they go through a Date.
    expect(toIso('2026-01-02 03:04:05Z')).toBe('2026-01-02T03:04:05.000Z');
    expect(toIso('2026-01-02T03:04:05Z')).toBe('2026-01-02T03:04:05.000Z');
    expect(toIso('x2026-01-02T03:04:05.678Z')).toBeNull();
    expect(toIso('2026-01-02T03:04:05.678Zx')).toBeNull();
    expect(toIso(Date.UTC(2026, 0, 2))).toBe('2026-01-02T00:00:00.000Z');
    expect(toIso('not a date')).toBeNull();
    expect(toIso(new Date(NaN))).toBeNull();
    expect([null, undefined].map(toIso)).toEqual([null, null]);
  });

  it('toScalar keeps scalars and turns dates and objects into text', () => {
    expect(['a', 1, false, true].map(toScalar)).toEqual(['a', 1, false, true]);
    expect(toScalar(new Date(Date.UTC(2026, 5, 1)))).toBe('2026-06-01T00:00:00.000Z');
    expect(toScalar({ a: [1] })).toBe('{"a":[1]}');
    expect([null, undefined].map(toScalar)).toEqual([null, null]);
  });

  it('normalize reads a value by its column type', () => {
    expect(normalize({ name: 'b', pgType: 'boolean' }, 0)).toBe(false);
    expect(normalize({ name: 'b', pgType: 'boolean' }, 1)).toBe(true);
    expect(normalize({ name: 't', pgType: 'timestamptz' }, new Date(Date.UTC(2026, 0, 1)))).toBe('2026-01-01T00:00:00.000Z');
    expect(normalize({ name: 'n', pgType: 'bigint' }, '12')).toBe(12);
    expect(normalize({ name: 'n', pgType: 'integer' }, '-3')).toBe(-3);
    expect(normalize({ name: 's', pgType: 'text' }, 12)).toBe(12);
    expect(normalize({ name: 's', pgType: 'text' }, 'x')).toBe('x');
    for (const pgType of ['boolean', 'timestamptz', 'bigint', 'integer', 'text'] as const) {
      expect(normalize({ name: 'c', pgType }, null), pgType).toBeNull();
      expect(normalize({ name: 'c', pgType }, undefined), pgType).toBeNull();
    }
  });

  it('chunks and mapLazily', () => {
    expect(chunks([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(chunks([1, 2], 2)).toEqual([[1, 2]]);
    expect(chunks([], 3)).toEqual([]);
    const seen: number[] = [];
    const lazy = mapLazily([1, 2, 3], (n) => (seen.push(n), n * 10));
    expect(seen).toEqual([]);
    expect(lazy.next().value).toBe(10);
    expect(seen).toEqual([1]);
    expect([...lazy]).toEqual([20, 30]);
  });
});

describe('isDataError', () => {
  it('takes PostgreSQL data, integrity and limit errors as the rows’ own', () => {
    for (const code of ['22001', '22P02', '23505', '23502', '54000']) expect(isDataError({ code }), code).toBe(true);
    for (const code of ['08006', '57P01', '40001', '42P01', 'P0001', '220011', '2200', 'x22001', '22a01']) expect(isDataError({ code }), code).toBe(false);
  });

  it('takes SQLite constraint, type, size and range errors, but not a trigger’s refusal', () => {
    for (const code of ['SQLITE_CONSTRAINT', 'SQLITE_CONSTRAINT_NOTNULL', 'SQLITE_CONSTRAINT_PRIMARYKEY', 'SQLITE_MISMATCH', 'SQLITE_TOOBIG', 'SQLITE_RANGE']) {
      expect(isDataError({ code }), code).toBe(true);
    }
    for (const code of ['SQLITE_CONSTRAINT_TRIGGER', 'SQLITE_BUSY', 'SQLITE_IOERR', 'SQLITE_FULL', 'XSQLITE_CONSTRAINT']) expect(isDataError({ code }), code).toBe(false);
  });

  it('takes a RangeError without a code (a value the driver cannot bind) as the row’s own, nothing else', () => {
    expect(isDataError(new RangeError('too big'))).toBe(true);
    expect(isDataError(new Error('gone'))).toBe(false);
    expect(isDataError({ code: 23505 })).toBe(false);
    expect(isDataError(null)).toBe(false);
    expect(isDataError(undefined)).toBe(false);
  });
});

describe('database URLs', () => {
  it('parses sqlite: paths, including three slashes and :memory:', () => {
    expect(parseDbUrl('sqlite:./x/p.db')).toEqual({ client: 'sqlite', url: 'sqlite:./x/p.db', display: 'sqlite:./x/p.db', filename: resolve('./x/p.db') });
    expect(parseDbUrl('sqlite:///var/p.db')).toEqual({ client: 'sqlite', url: 'sqlite:///var/p.db', display: 'sqlite:/var/p.db', filename: '/var/p.db' });
    // A host part is refused, never guessed at (it once put the file at the root).
    expect(() => parseDbUrl('sqlite://rel.db')).toThrow(/has a host part/);
    expect(parseDbUrl('sqlite::memory:')).toMatchObject({ client: 'sqlite', filename: ':memory:', display: 'sqlite::memory:' });
    expect(DEFAULT_DB_URL).toBe('sqlite:./portal-sync.db');
  });

  it('parses postgres:// and postgresql://, redacting credentials and parameters for display', () => {
    expect(parseDbUrl('postgres://u:pw@db:5432/portal?sslmode=require')).toEqual({
      client: 'postgres',
      url: 'postgres://u:pw@db:5432/portal?sslmode=require',
      display: 'postgres://db:5432/portal',
    });
    expect(parseDbUrl('postgresql://u@db/portal').display).toBe('postgresql://db/portal');
    expect(redactUrl(new URL('postgres://a:b@h/d?x=1'))).toBe('postgres://h/d');
  });

  it('refuses other schemes, an empty sqlite path and a broken URL, without echoing it', () => {
    const error = (url: string) => {
      try {
        parseDbUrl(url);
      } catch (e) {
        expect(e).toBeInstanceOf(DbUrlError);
        return (e as Error).message;
      }
      throw new Error(`${url} was accepted`);
    };
    expect(error('sqlite:')).toBe('--db sqlite: needs a file path, e.g. sqlite:./portal-sync.db');
    // The value is quoted as typed, its password masked.
    expect(error('postgres://u:pw@[bad')).toBe('--db is not a valid postgres:// URL, got "postgres://u:***@[bad"');
    expect(error('mysql://u:pw@h/db')).toBe('--db must be sqlite:<path> or postgres://..., got "mysql://u:***@h/db"');
    expect(error('postgres:/h/db')).toBe('--db must be sqlite:<path> or postgres://..., got "postgres:/h/db"');
  });

  it('gives a copyable URL with only the password masked', () => {
    expect(copyableDbUrl(parseDbUrl('postgres://portal:s3cret@db/portal?sslmode=require'))).toBe('postgres://portal:***@db/portal?sslmode=require');
    expect(copyableDbUrl(parseDbUrl('postgres://portal@db/portal'))).toBe('postgres://portal@db/portal');
    expect(copyableDbUrl(parseDbUrl('sqlite:./p.db'))).toBe('sqlite:./p.db');
    expect(copyableDbUrl({ client: 'postgres', url: 'postgres://[x', display: 'shown' })).toBe('shown');
  });

  it('describes a driver error without the connection string', () => {
    const target = parseDbUrl('postgres://u:pw@db/portal');
    expect(describeDbError(target, new Error('cannot reach postgres://u:pw@db/portal now'))).toBe('cannot reach postgres://db/portal now');
    expect(driverMessage('plain')).toBe('plain');
    // Without the flag knex sets on a failed statement, ' - ' is part of the driver's own words.
    expect(driverMessage(new Error('select 1 - syntax error'))).toBe('select 1 - syntax error');
  });

  it('tells the two clients apart', () => {
    const handle = (client: string) => ({ client: { config: { client } } }) as unknown as Knex;
    expect(clientOf(handle('better-sqlite3'))).toBe('sqlite');
    expect(clientOf(handle('pg'))).toBe('postgres');
  });
});

describe('SQL spelling', () => {
  it('quotes identifiers, doubling quotes', () => {
    expect(quote('name')).toBe('"name"');
    expect(quote('a"b"c')).toBe('"a""b""c"');
  });

  it('spells IS DISTINCT FROM per database', () => {
    expect(distinctFrom('sqlite', 'a', 'b')).toBe('a IS NOT b');
    expect(distinctFrom('postgres', 'a', 'b')).toBe('a IS DISTINCT FROM b');
  });

  it('lists columns in order', () => {
    expect(columns({ id: 'text', n: 'integer' })).toEqual([
      { name: 'id', pgType: 'text' },
      { name: 'n', pgType: 'integer' },
    ]);
  });
});

describe('declared columns', () => {
  it('maps each declared type to the array type PostgreSQL receives', () => {
    expect(declaredColumns('devices', ['id', 'version', 'name', 'is_enabled', 'status_updated_at']).map((c) => [c.name, c.pgType])).toEqual([
      ['id', 'text'],
      ['version', 'bigint'],
      ['name', 'text'],
      ['is_enabled', 'boolean'],
      ['status_updated_at', 'timestamptz'],
    ]);
    expect(declaredColumn('lorawan_devices', 'rx_delay')).toEqual({ name: 'rx_delay', pgType: 'integer', spec: { type: 'integer' } });
    expect(() => declaredColumn('devices', 'nope')).toThrow('migrations/columns.cjs does not declare devices.nope');
    expect(() => declaredColumn('nope', 'id')).toThrow('migrations/columns.cjs does not declare nope.id');
  });

  it('checks every kind of value at its limits', () => {
    expect(valueProblem({ type: 'string', length: 2 }, '😀😀')).toBeNull();
    expect(valueProblem({ type: 'string', length: 2 }, '😀😀😀')).toBe('is 3 characters long; at most 2 fit');
    expect(valueProblem({ type: 'text' }, undefined)).toBeNull();
    expect(valueProblem({ type: 'text' }, null)).toBeNull();
    expect(valueProblem({ type: 'integer' }, -(2 ** 31) - 1)).toBe(`${-(2 ** 31) - 1} is outside the 32-bit integer range`);
    expect(valueProblem({ type: 'integer' }, '1')).toBe('is not a whole number');
    expect(valueProblem({ type: 'integer' }, undefined)).toBeNull();
    expect(valueProblem({ type: 'bigint' }, -Number.MAX_SAFE_INTEGER)).toBeNull();
    expect(valueProblem({ type: 'bigint' }, 1.5)).toBe('is not a whole number');
    expect(valueProblem({ type: 'bigint' }, '1')).toBe('is not a whole number');
    expect(valueProblem({ type: 'bigint' }, 2 ** 53)).toBe(`${2 ** 53} is larger than ${Number.MAX_SAFE_INTEGER}`);
    expect(valueProblem({ type: 'bigint' }, null)).toBeNull();
    expect(valueProblem({ type: 'bigint' }, undefined)).toBeNull();
    expect(valueProblem({ type: 'boolean' }, false)).toBeNull();
    expect(valueProblem({ type: 'boolean' }, null)).toBeNull();
    expect(valueProblem({ type: 'boolean' }, undefined)).toBeNull();
    expect(valueProblem({ type: 'boolean' }, 0)).toBe('is not a boolean');
    expect(valueProblem({ type: 'timestamptz' }, '2026-01-01T00:00:00Z')).toBeNull();
    expect(valueProblem({ type: 'timestamptz' }, null)).toBeNull();
    expect(valueProblem({ type: 'timestamptz' }, undefined)).toBeNull();
    expect(valueProblem({ type: 'timestamptz' }, 1234)).toBe('1234 is not a real instant');
    expect(valueProblem({ type: 'timestamptz' }, '2026-02-30T00:00:00Z')).toBe('"2026-02-30T00:00:00Z" is not a real instant');
  });

  it('takes each calendar part at its bounds only', () => {
    const ok = ['2026-01-31T00:00:00Z', '2026-12-01T23:59:59Z', '2000-02-29T00:00:00Z', '2026-04-30T00:00:00Z', '2026-03-31T00:00:00Z', '2026-02-28T00:00:00Z'];
    const bad = [
      '2026-00-10T00:00:00Z',
      '2026-01-00T00:00:00Z',
      '2026-01-32T00:00:00Z',
      '2026-12-32T00:00:00Z',
      '2026-01-01T00:60:00Z',
      '2026-01-01T00:00:60Z',
      '1900-02-29T00:00:00Z',
      '2026-06-31T00:00:00Z',
      '2026-01-01T00:00:00',
      '2026-01-01T00:00:00+01:00',
      ' 2026-01-01T00:00:00Z',
    ];
    for (const value of ok) expect(isRealInstant(value), value).toBe(true);
    for (const value of bad) expect(isRealInstant(value), value).toBe(false);
  });
});

describe('validating tag sets', () => {
  const validate = deviceValidator({});
  const record = (tags: string) => ({
    key: 'd1',
    version: 1,
    fields: { name: 'D', device_model_id: 'm', layer_id: null, is_enabled: true, is_connected: false, status_updated_at: null, last_activity_at: null, kind: 'standard', tags },
  });

  it('finds an escaped NUL even in a short encoding', () => {
    expect(validate(record(canonicalTags({ a: 'x\u0000' })))).toBe('tag value contains a NUL character');
    expect(validate(record(canonicalTags({ ['n\u0000']: 'x' })))).toBe('tag name contains a NUL character');
  });

  it('takes a long encoding whose rows all fit', () => {
    const many = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`tag${i}`, 'v'.repeat(20)]));
    expect(canonicalTags(many).length).toBeGreaterThan(255);
    expect(validate(record(canonicalTags(many)))).toBeNull();
    expect(validate(record(canonicalTags({ ...many, ['n'.repeat(256)]: 'v' })))).toBe('tag name is 256 characters long; at most 255 fit');
  });
});

describe('canonical encodings', () => {
  it('tags: names in code-unit order, values as JSON text', () => {
    expect(canonicalTags({})).toBe('{}');
    expect(canonicalTags({ b: '2', a: '1', B: '"q"' })).toBe('{"B":"\\"q\\"","a":"1","b":"2"}');
    expect(JSON.parse(canonicalTags({ 'é': 'x', z: '' }))).toEqual({ z: '', 'é': 'x' });
  });

  it('a tag set encodes stored rows and decodes to rows', () => {
    const set = tagSet('device_tag_values', 'device_id');
    expect(set).toMatchObject({ field: 'tags', noun: 'tag', table: 'device_tag_values', parentColumn: 'device_id' });
    expect(set.columns.map((c) => c.name)).toEqual(['name', 'value']);
    expect(set.encode([{ name: 'z', value: 'last' }, { name: 'a', value: null }, { name: 'n', value: 5 }])).toBe('{"a":"","n":"5","z":"last"}');
    expect(set.encode([])).toBe('{}');
    expect(set.decode('{"a":"","z":"last"}')).toEqual([
      ['a', ''],
      ['z', 'last'],
    ]);
  });

  it('modules: sorted by name, fixed key order', () => {
    expect(canonicalModules([])).toBe('[]');
    expect(
      canonicalModules([
        { image: 'i', version: 'v', status: 's', name: 'b' },
        { name: 'a', status: null, version: null, image: null },
        { name: 'B', status: null, version: null, image: null },
      ]),
    ).toBe(
      '[{"name":"B","status":null,"version":null,"image":null},{"name":"a","status":null,"version":null,"image":null},{"name":"b","status":"s","version":"v","image":"i"}]',
    );
  });
});

describe('storableRef', () => {
  it('shows NUL as \\0 and cuts a key longer than the column, by characters, with an ellipsis', () => {
    expect(storableRef('a\u0000b\u0000')).toBe('a\\0b\\0');
    const fits = 'k'.repeat(255);
    expect(storableRef(fits)).toBe(fits);
    const cut = storableRef('😀'.repeat(256));
    expect([...cut]).toHaveLength(255);
    expect(cut).toBe('😀'.repeat(254) + '…');
  });
});
