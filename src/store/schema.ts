import { createRequire } from 'node:module';
import { join } from 'node:path';
import { migrationsDir } from './migrate.js';
import type { Column } from './sql.js';

/** One column as `migrations/columns.cjs` declares it. */
export interface ColumnSpec {
  readonly type: 'string' | 'text' | 'integer' | 'bigint' | 'double' | 'boolean' | 'timestamptz';
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
  double: 'double precision',
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
  return columnCheck(spec)(value);
}

export type ValueCheck = (value: unknown) => string | null;

const checks = new WeakMap<ColumnSpec, ValueCheck>();

/** The check of one kind of column as its own small function: every record runs some 35 of them. */
export function columnCheck(spec: ColumnSpec): ValueCheck {
  let check = checks.get(spec);
  if (!check) checks.set(spec, (check = makeCheck(spec)));
  return check;
}

function makeCheck(spec: ColumnSpec): ValueCheck {
  switch (spec.type) {
    case 'string':
    case 'text': {
      const length = spec.length ?? Infinity;
      return (value) => {
        if (value === null || value === undefined) return null;
        if (typeof value !== 'string') return 'is not text';
        if (value.includes('\u0000')) return 'contains a NUL character';
        // PostgreSQL counts characters (code points), JavaScript counts UTF-16 units: count the slow way only when it matters.
        if (value.length > length) {
          const characters = [...value].length;
          if (characters > length) return `is ${characters} characters long; at most ${length} fit`;
        }
        return null;
      };
    }
    case 'integer':
      return (value) => {
        if (value === null || value === undefined) return null;
        if (typeof value !== 'number' || !Number.isInteger(value)) return 'is not a whole number';
        return value < INT32_MIN || value > INT32_MAX ? `${value} is outside the 32-bit integer range` : null;
      };
    case 'bigint':
      return (value) => {
        if (value === null || value === undefined) return null;
        if (typeof value !== 'number' || !Number.isInteger(value)) return 'is not a whole number';
        return Number.isSafeInteger(value) ? null : `${value} is larger than ${Number.MAX_SAFE_INTEGER}`;
      };
    case 'double':
      return (value) => (value === null || value === undefined || (typeof value === 'number' && Number.isFinite(value)) ? null : 'is not a finite number');
    case 'boolean':
      return (value) => (value === null || value === undefined || typeof value === 'boolean' ? null : 'is not a boolean');
    case 'timestamptz':
      return (value) =>
        value === null || value === undefined || (typeof value === 'string' && isRealInstant(value)) ? null : `${JSON.stringify(value)} is not a real instant`;
  }
}

/** A UTC instant whose every part exists on the calendar, in the years 1 to 9999. */
export function isRealInstant(value: string): boolean {
  // Checked twice per record: digits read in place, no match array and no Date object per value.
  if (value.length < 20 || !INSTANT.test(value)) return false;
  const year = digits(value, 0, 4);
  const month = digits(value, 5, 2);
  const day = digits(value, 8, 2);
  if (year < 1 || month < 1 || month > 12 || day < 1 || digits(value, 11, 2) > 23 || digits(value, 14, 2) > 59 || digits(value, 17, 2) > 59) return false;
  return day <= (month === 2 ? (isLeapYear(year) ? 29 : 28) : DAYS_IN_MONTH[month - 1]!);
}

/** The number written by `count` ASCII digits at `at` (the pattern has checked they are digits). */
function digits(text: string, at: number, count: number): number {
  let n = 0;
  for (let i = at; i < at + count; i++) n = n * 10 + (text.charCodeAt(i) - 48);
  return n;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}
