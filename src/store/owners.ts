import { quote } from './sql.js';

/**
 * Which rows of a table shared by two commands a store may load, update and delete. `devices` and
 * `edge_devices` hold both the Azure commands' rows and those `things` imported from AWS; the owner
 * mark is `thing_name` (migration 004): set on AWS rows, NULL on Azure rows. Each side sees only its
 * own rows, in SQL, so neither can overwrite or delete the other's even when their ids collide.
 */
export interface OwnerScope {
  /** The column carrying the mark. */
  readonly column: string;
  /** True: the rows where the column is set; false: the rows where it is NULL. */
  readonly marked: boolean;
}

/** Rows the Azure commands (`devices`, `edge`) own: no thing name. */
export const AZURE_ROWS: OwnerScope = { column: 'thing_name', marked: false };
/** Rows the `things` command owns: imported from an AWS thing, whose name they carry. */
export const AWS_THING_ROWS: OwnerScope = { column: 'thing_name', marked: true };

/** The SQL condition a row of `table` must meet to be the scope's own (for WHERE clauses and ON CONFLICT re-checks). */
export function ownedCondition(scope: OwnerScope, table: string): string {
  return `${quote(table)}.${quote(scope.column)} IS ${scope.marked ? 'NOT NULL' : 'NULL'}`;
}
