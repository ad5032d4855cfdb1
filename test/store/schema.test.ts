import { describe, expect, it } from 'vitest';
import { DECLARED, isRealInstant, valueProblem } from '../../src/store/schema.js';
import { migrateLatest } from '../../src/store/migrate.js';
import { BACKENDS, createTestDatabase } from '../support/backends.js';
import { deviceValidator } from '../../src/store/devices.js';
import { DEVICE_FIELD_SOURCES } from '../../src/commands/devices-mapping.js';

describe('valueProblem', () => {
  it('holds text to its length in characters, not UTF-16 units, and refuses NUL', () => {
    expect(valueProblem({ type: 'string', length: 3 }, 'abc')).toBeNull();
    expect(valueProblem({ type: 'string', length: 3 }, 'abcd')).toBe('is 4 characters long; at most 3 fit');
    expect(valueProblem({ type: 'string', length: 3 }, '😀😀😀')).toBeNull();
    expect(valueProblem({ type: 'double' }, -87.25)).toBeNull();
    expect(valueProblem({ type: 'double' }, Number.NaN)).toBe('is not a finite number');
    expect(valueProblem({ type: 'double' }, '1.5')).toBe('is not a finite number');
    expect(valueProblem({ type: 'text' }, 'x'.repeat(100_000))).toBeNull();
    expect(valueProblem({ type: 'text' }, 'a\u0000')).toBe('contains a NUL character');
    expect(valueProblem({ type: 'text' }, 42)).toBe('is not text');
  });

  it('holds integers to 32 bits and bigints to what a number holds exactly', () => {
    expect(valueProblem({ type: 'integer' }, 2 ** 31 - 1)).toBeNull();
    expect(valueProblem({ type: 'integer' }, -(2 ** 31))).toBeNull();
    expect(valueProblem({ type: 'integer' }, 2 ** 31)).toMatch(/outside the 32-bit integer range/);
    expect(valueProblem({ type: 'integer' }, 1.5)).toBe('is not a whole number');
    expect(valueProblem({ type: 'bigint' }, Number.MAX_SAFE_INTEGER)).toBeNull();
    expect(valueProblem({ type: 'bigint' }, 2 ** 53)).toMatch(/is larger than/);
    expect(valueProblem({ type: 'boolean' }, 'true')).toBe('is not a boolean');
    expect(valueProblem({ type: 'integer' }, null)).toBeNull();
  });

  it('takes only real calendar instants of the years 1 to 9999', () => {
    for (const ok of ['2024-02-29T00:00:00.000Z', '0001-01-01T00:00:00Z', '9999-12-31T23:59:59.999Z', '2026-11-23T10:00:00.1234567Z']) {
      expect(isRealInstant(ok), ok).toBe(true);
    }
    for (const bad of ['2023-02-29T00:00:00Z', '0000-01-01T00:00:00Z', '2024-13-45T25:61:61Z', '2024-04-31T00:00:00Z', '2024-01-01T24:00:00Z', '2024-01-01', 'soon']) {
      expect(isRealInstant(bad), bad).toBe(false);
    }
  });
});

describe('device validation', () => {
  const validate = deviceValidator(DEVICE_FIELD_SOURCES);
  const record = (version: number, fields: Record<string, unknown> = {}) => ({
    key: 'd1',
    version,
    fields: { name: 'D', device_model_id: 'm', layer_id: null, is_enabled: true, is_connected: false, status_updated_at: null, last_activity_at: null, kind: 'standard', tags: '{}', ...fields } as never,
  });

  it('takes versions from 1 (IoT Hub twin versions count from 1; the emulator refuses less, as the hub never sends it)', () => {
    expect(validate(record(1))).toBeNull();
    expect(validate(record(0))).toBe('version 0 is not a whole number from 1 to 9007199254740991');
    expect(validate(record(-1))).toBe('version -1 is not a whole number from 1 to 9007199254740991');
    expect(validate(record(2 ** 53))).toMatch(/^version 9007199254740992 is not a whole number/);
  });

  it('names the twin field, and checks tag rows', () => {
    expect(validate(record(1, { layer_id: 'l'.repeat(256) }))).toBe('tags.layerId is 256 characters long; at most 255 fit');
    expect(validate(record(1, { tags: JSON.stringify({ ['n'.repeat(256)]: 'v' }) }))).toBe('tag name is 256 characters long; at most 255 fit');
    expect(validate(record(1, { app_key: 'k'.repeat(65) }))).toBe('desired.AppKey is 65 characters long; at most 64 fit');
  });
});

describe.each(BACKENDS)('the schema on %s', (backend) => {
  it('holds what migrations/columns.cjs declares, column by column', async () => {
    const db = await createTestDatabase(backend);
    try {
      const k = db.knex();
      await migrateLatest(k);
      for (const [table, columns] of Object.entries(DECLARED)) {
        const info = await k(table).columnInfo();
        for (const [column, spec] of Object.entries(columns)) {
          const actual = info[column];
          expect(actual, `${table}.${column}`).toBeDefined();
          if (backend === 'postgres') {
            const expected =
              spec.type === 'string'
                ? { type: 'character varying', maxLength: spec.length }
                : spec.type === 'text'
                  ? { type: 'text', maxLength: null }
                  : spec.type === 'double'
                    ? { type: 'double precision', maxLength: null }
                    : null;
            if (expected) expect({ type: actual!.type, maxLength: actual!.maxLength }, `${table}.${column}`).toEqual(expected);
          }
        }
      }
    } finally {
      await db.drop();
    }
  });
});
