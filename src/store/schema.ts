import { createRequire } from 'node:module';
import { join } from 'node:path';
import { migrationsDir } from './migrate.js';
import type { Column } from './sql.js';

/** One column as `migrations/columns.cjs` declares it. */
export interface ColumnSpec {
  readonly type: 'string' | 'text' | 'integer' | 'bigint' | 'boolean' | 'timestamptz';
  /** Characters a `string` column holds. */
  readonly length?: number;
}

/** A bulk-insert column that also knows what it can hold. */
export interface DeclaredColumn extends Column {
  readonly spec: ColumnSpec;
}

const require = createRequire(import.meta.url);

/** The declaration the migrations read too: one source for the schema's limits and the validation. */
export const DECLARED: Readonly<Record<string, Readonly<Record<string, ColumnSpec>>>> = require(
  join(migrationsDir(), 'columns.cjs'),
) as Record<string, Record<string, ColumnSpec>>;

const PG_TYPE: Record<ColumnSpec['type'], Column['pgType']> = {
  string: 'text',
  text: 'text',
  integer: 'integer',
  bigint: 'bigint',
  boolean: 'boolean',
  timestamptz: 'timestamptz',
};

export function declaredColumn(table: string, name: string): DeclaredColumn {
  const spec = DECLARED[table]?.[name];
  if (!spec) throw new Error(`migrations/columns.cjs does not declare ${table}.${name}`);
  return { name, pgType: PG_TYPE[spec.type], spec };
}

/** Columns of `table` in the given order (the order of a bulk insert's values). */
export function declaredColumns(table: string, names: readonly string[]): DeclaredColumn[] {
  return names.map((name) => declaredColumn(table, name));
}

const INT32_MIN = -2_147_483_648;
const INT32_MAX = 2_147_483_647;
const INSTANT = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.\d+)?Z$/;

/**
 * Why `value` cannot be stored in a column of this kind, or null when it can (null values are left
 * to NOT NULL constraints). Never quotes a text value: it may be a secret (a LoRa key).
 */
export function valueProblem(spec: ColumnSpec, value: unknown): string | null {
  if (value === null || value === undefined) return null;
  switch (spec.type) {
    case 'string':
    case 'text': {
      if (typeof value !== 'string') return 'is not text';
      if (value.includes('\u0000')) return 'contains a NUL character';
      const length = spec.length;
      // PostgreSQL counts characters (code points), JavaScript counts UTF-16 units: count the slow way only when it matters.
      if (length !== undefined && value.length > length) {
        const characters = [...value].length;
        if (characters > length) return `is ${characters} characters long; at most ${length} fit`;
      }
      return null;
    }
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value)) return 'is not a whole number';
      return value < INT32_MIN || value > INT32_MAX ? `${value} is outside the 32-bit integer range` : null;
    case 'bigint':
      if (typeof value !== 'number' || !Number.isInteger(value)) return 'is not a whole number';
      return Number.isSafeInteger(value) ? null : `${value} is larger than ${Number.MAX_SAFE_INTEGER}`;
    case 'boolean':
      return typeof value === 'boolean' ? null : 'is not a boolean';
    case 'timestamptz':
      return typeof value === 'string' && isRealInstant(value) ? null : `${JSON.stringify(value)} is not a real instant`;
  }
}

/** A UTC instant whose every part exists on the calendar, in the years 1 to 9999. */
export function isRealInstant(value: string): boolean {
  const m = INSTANT.exec(value);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (year < 1 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return false;
  // Day 0 of the next month is the last day of this one; setUTCFullYear keeps years below 100 as they are.
  const last = new Date(0);
  last.setUTCFullYear(year, month, 0);
  return day <= last.getUTCDate();
}
