import type { Knex } from 'knex';
import type { CurrentRecord, DesiredRecord, Plan, Scalar } from '../reconcile/index.js';
import { driverMessage, type DbClient } from './db.js';
import { writeIsolated } from './isolate.js';
import { chunks, mapLazily, toBool, toIso, toScalar } from './rows.js';
import { columnCheck, declaredColumns, valueProblem, type DeclaredColumn } from './schema.js';
import { ownedCondition, type OwnerScope } from './owners.js';
import { deleteRows, distinctFrom, insertRows, quote, type Column } from './sql.js';
import type { ApplyOutcome } from './types.js';

/**
 * Rows that belong to an entity and are replaced as a set (tag values, edge modules). The plan sees
 * the whole set as one field holding its canonical encoding, so a set compares as one string.
 */
export interface ChildSet {
  /** The plan field carrying the encoded set. */
  readonly field: string;
  /** What one row is called in a validation message ("tag"). */
  readonly noun: string;
  readonly table: string;
  readonly parentColumn: string;
  /** Child columns, without the parent column. */
  readonly columns: readonly DeclaredColumn[];
  /** The canonical encoding of one parent's rows, as read back from the table. */
  encode(rows: ReadonlyArray<Record<string, unknown>>): string;
  /** Rows (child columns only) from the encoding. */
  decode(value: string): Scalar[][];
}

/** Extra 1:1 data read alongside a batch of rows (a device's LoRaWAN row); adds fields in place. */
export type BatchExtension = (
  db: Knex,
  first: string,
  last: string,
) => Promise<(id: string, fields: Record<string, Scalar>) => void>;

/** A 1:1 table written with the entity, in the same unit of isolation (a device's LoRaWAN row). */
export interface EntityExtension {
  readonly load: BatchExtension;
  /** Its columns named like plan fields, for validation. */
  readonly columns: readonly DeclaredColumn[];
  write(
    db: Knex.Transaction,
    client: DbClient,
    written: readonly DesiredRecord[],
    stored: ReadonlyMap<string, CurrentRecord>,
  ): Promise<void>;
}

/** An entity table: `id`, `version`, then columns named like plan fields. */
export interface EntityTable {
  readonly table: string;
  readonly columns: readonly DeclaredColumn[];
  /** Fields that move without a version bump; their change updates a row at the same version. */
  readonly liveFields: readonly string[];
  readonly childSets: readonly ChildSet[];
  readonly extension?: EntityExtension;
  /**
   * The rows of a shared table this spec may load, update and delete (owners.ts); none: every row.
   * Enforced in SQL: the load's WHERE, the upsert's ON CONFLICT re-check (another owner's row with
   * the same id is a conflict, never overwritten) and the delete's WHERE.
   */
  readonly owner?: OwnerScope;
  /**
   * Apply the plan's deletes before its writes. Needed where a column besides the id is unique
   * (`thing_name`): a thing deleted and created again under its name gets a new id, and the old row
   * must be gone before the new one can take the name.
   */
  readonly deletesFirst?: boolean;
}

/**
 * Checks a record against what its columns hold (lengths, NUL, real instants, integer ranges), the
 * limits migrations/columns.cjs declares for the schema too. Returns why it cannot be stored, naming
 * the field as the source calls it (`labels`: column -> source field), or null.
 */
export function entityValidator(spec: EntityTable, labels: Readonly<Record<string, string>> = {}): (record: DesiredRecord) => string | null {
  const [id, , ...fieldColumns] = spec.columns;
  const checked = [...fieldColumns, ...(spec.extension?.columns ?? [])].map((c) => ({ name: c.name, check: columnCheck(c.spec) }));
  const label = (field: string) => labels[field] ?? field;
  // An encoded set shorter than its smallest limit, without an escaped NUL, cannot break any limit:
  // most records' tags are, and decoding them all would cost more than the rest of the checks.
  const shortest = new Map(spec.childSets.map((set) => [set, Math.min(...set.columns.map((c) => c.spec.length ?? Infinity))]));
  return (record) => {
    const keyProblem = valueProblem(id!.spec, record.key);
    if (keyProblem) return `${label('id')} ${keyProblem}`;
    // Versions count from 1 at every source we sync (IoT Hub twins, AWS things): 0 or less is corrupt.
    if (!Number.isSafeInteger(record.version) || record.version < 1) {
      return `${label('version')} ${record.version} is not a whole number from 1 to ${Number.MAX_SAFE_INTEGER}`;
    }
    for (const column of checked) {
      const problem = column.check(record.fields[column.name]);
      if (problem) return `${label(column.name)} ${problem}`;
    }
    for (const set of spec.childSets) {
      const encoded = record.fields[set.field];
      if (typeof encoded !== 'string' || (encoded.length <= shortest.get(set)! && !encoded.includes('\\u0000'))) continue;
      for (const row of set.decode(encoded)) {
        for (let i = 0; i < set.columns.length; i++) {
          const problem = valueProblem(set.columns[i]!.spec, row[i]);
          if (problem) return `${set.noun} ${set.columns[i]!.name} ${problem}`;
        }
      }
    }
    return null;
  };
}

/** Rows per batch when reading an entity table: bounds the memory a large table costs to read. */
const READ_BATCH = 5_000;

/**
 * The table's rows as plan records keyed by id. Read in id order, a batch at a time with the child
 * rows of that id range: a few statements per batch, never one per row.
 */
export async function loadEntities(db: Knex, spec: EntityTable): Promise<Map<string, CurrentRecord>> {
  const current = new Map<string, CurrentRecord>();
  const fieldColumns = spec.columns.slice(2);
  let after: string | null = null;
  for (;;) {
    const query = db(spec.table).select(spec.columns.map((c) => c.name)).orderBy('id').limit(READ_BATCH);
    if (after !== null) query.where('id', '>', after);
    if (spec.owner) query.whereRaw(ownedCondition(spec.owner, spec.table));
    const rows: Array<Record<string, unknown>> = await query;
    if (rows.length === 0) break;
    const first = String(rows[0]!.id);
    const last = String(rows[rows.length - 1]!.id);
    const sets = await Promise.all(spec.childSets.map((set) => loadChildSet(db, set, first, last)));
    const addExtension = spec.extension ? await spec.extension.load(db, first, last) : null;
    for (const row of rows) {
      const id = String(row.id);
      const fields: Record<string, Scalar> = {};
      for (const column of fieldColumns) fields[column.name] = normalize(column, row[column.name]);
      spec.childSets.forEach((set, i) => (fields[set.field] = sets[i]!.get(id) ?? set.encode([])));
      addExtension?.(id, fields);
      current.set(id, { key: id, version: Number(row.version), fields });
    }
    if (rows.length < READ_BATCH) break;
    after = last;
  }
  return current;
}

/** A stored value as the plan compares it, by the column's type. */
export function normalize(column: Column, value: unknown): Scalar {
  if (value === null || value === undefined) return null;
  switch (column.pgType) {
    case 'boolean':
      return toBool(value);
    case 'timestamptz':
      return toIso(value);
    case 'bigint':
    case 'integer':
      return Number(value);
    default:
      return toScalar(value);
  }
}

async function loadChildSet(db: Knex, set: ChildSet, first: string, last: string): Promise<Map<string, string>> {
  const rows: Array<Record<string, unknown>> = await db(set.table)
    .whereBetween(set.parentColumn, [first, last])
    .select([set.parentColumn, ...set.columns.map((c) => c.name)])
    .orderBy(set.parentColumn);
  const out = new Map<string, string>();
  let parent: string | null = null;
  let group: Array<Record<string, unknown>> = [];
  for (const row of rows) {
    const id = String(row[set.parentColumn]);
    if (id !== parent) {
      if (parent !== null) out.set(parent, set.encode(group));
      parent = id;
      group = [];
    }
    group.push(row);
  }
  if (parent !== null) out.set(parent, set.encode(group));
  return out;
}

/**
 * Applies a plan to an entity table inside `trx`: multi-row upserts whose WHERE re-checks the
 * version (a concurrent writer's newer row is never overwritten), child sets replaced where they
 * changed, 1:1 extension rows, and deletes that re-check the stored version (children go by ON
 * DELETE CASCADE). Rows the database refuses are isolated and reported; the rest is applied. The
 * outcome counts what the statements changed (RETURNING), not what was planned.
 */
export async function applyEntityPlan(trx: Knex.Transaction, client: DbClient, spec: EntityTable, plan: Plan): Promise<ApplyOutcome> {
  const writes: DesiredRecord[] = [...plan.create, ...plan.update.map((u) => u.desired)];
  const stored = new Map(plan.update.map((u) => [u.desired.key, u.current]));
  // A live child set (edge modules) cannot be compared in SQL: such rows are re-checked against a
  // newer stored version only, which is what keeps a concurrent writer's data.
  const setFields = new Set(spec.childSets.map((c) => c.field));
  const childOnly = new Set(
    plan.update
      .filter((u) => u.cause === 'live' && u.changes.some((c) => setFields.has(c.field)))
      .map((u) => u.desired.key),
  );
  const describe = (error: unknown) => driverMessage(error);
  const where = spec.owner ? ownedCondition(spec.owner, spec.table) : undefined;
  const write = () => writeIsolated(trx, writes, keyOf, (db, batch) => writeBatch(db, client, spec, batch, stored, childOnly), describe);
  const remove = () => writeIsolated(trx, plan.delete, keyOf, (db, batch) => deleteRows(db, client, spec.table, batch, { checkVersion: true, where }), describe);
  let removed = spec.deletesFirst ? await remove() : null;
  const written = await write();
  removed ??= await remove();

  const writtenKeys = new Set(written.results.flat());
  const deletedKeys = new Set(removed.results.flat());
  const failedKeys = new Set([...written.failed, ...removed.failed].map((f) => f.key));
  const created: string[] = [];
  const updated: string[] = [];
  for (const d of writes) if (writtenKeys.has(d.key)) (stored.has(d.key) ? updated : created).push(d.key);
  const refused = (key: string, done: ReadonlySet<string>) => !done.has(key) && !failedKeys.has(key);
  const conflicts = [
    ...writes.filter((d) => refused(d.key, writtenKeys)).map(keyOf),
    ...plan.delete.filter((d) => refused(d.key, deletedKeys)).map(keyOf),
  ];
  return {
    created,
    updated,
    deleted: plan.delete.filter((d) => deletedKeys.has(d.key)).map(keyOf),
    conflicts,
    failed: [...written.failed, ...removed.failed],
  };
}

const keyOf = (record: { readonly key: string }) => record.key;

/** Upserts a batch, replaces its changed child sets and writes its extension rows; returns the keys written. */
async function writeBatch(
  db: Knex.Transaction,
  client: DbClient,
  spec: EntityTable,
  batch: readonly DesiredRecord[],
  stored: ReadonlyMap<string, CurrentRecord>,
  childOnly: ReadonlySet<string>,
): Promise<string[]> {
  const t = quote(spec.table);
  const setFields = new Set(spec.childSets.map((c) => c.field));
  const liveColumns = spec.liveFields.filter((f) => !setFields.has(f));
  const liveChanged = liveColumns.map((f) => distinctFrom(client, `${t}.${quote(f)}`, `excluded.${quote(f)}`));
  const sameVersionGate = liveChanged.length > 0 ? ` OR (${t}.version = excluded.version AND (${liveChanged.join(' OR ')}))` : '';
  // Only the spec's own row is ever updated: a row of another owner under the same id is a conflict.
  const owned = spec.owner ? ` AND ${ownedCondition(spec.owner, spec.table)}` : '';
  const fieldColumns = spec.columns.slice(2);
  const upsert = async (records: DesiredRecord[], where: string) =>
    insertRows(
      db,
      client,
      spec.table,
      spec.columns,
      mapLazily(records, (d) => [d.key, d.version, ...fieldColumns.map((c) => d.fields[c.name] ?? null)]),
      {
        upsert: { target: ['id'], set: Object.fromEntries(spec.columns.slice(1).map((c) => [c.name, `excluded.${quote(c.name)}`])), where },
        returning: 'id',
      },
    );
  const returned = [
    ...(await upsert(batch.filter((d) => !childOnly.has(d.key)), `(${t}.version < excluded.version${sameVersionGate})${owned}`)),
    ...(await upsert(batch.filter((d) => childOnly.has(d.key)), `${t}.version <= excluded.version${owned}`)),
  ];
  const applied = new Set(returned.map((r) => String(r.id)));
  const written = batch.filter((d) => applied.has(d.key));

  for (const set of spec.childSets) {
    const changed = written.filter((d) => stored.get(d.key)?.fields[set.field] !== d.fields[set.field]);
    const replaced = changed.filter((d) => stored.has(d.key)).map(keyOf);
    for (const chunk of chunks(replaced, 500)) await db(set.table).whereIn(set.parentColumn, chunk).del();
    function* rows(): Generator<Scalar[]> {
      for (const d of changed) for (const row of set.decode(String(d.fields[set.field] ?? set.encode([])))) yield [d.key, ...row];
    }
    await insertRows(db, client, set.table, [{ name: set.parentColumn, pgType: 'text' }, ...set.columns], rows());
  }
  if (spec.extension) await spec.extension.write(db, client, written, stored);
  return written.map(keyOf);
}

/** Tag values (`<parent>, name, value`) as one child set. */
export function tagSet(table: string, parentColumn: string): ChildSet {
  return {
    field: 'tags',
    noun: 'tag',
    table,
    parentColumn,
    columns: declaredColumns(table, ['name', 'value']),
    encode(rows) {
      const tags: Record<string, string> = {};
      for (const row of rows) tags[String(row.name)] = row.value === null || row.value === undefined ? '' : String(row.value);
      return canonicalTags(tags);
    },
    decode(value) {
      const tags = JSON.parse(value) as Record<string, string>;
      return Object.keys(tags).map((name) => [name, tags[name]!]);
    },
  };
}

/**
 * Tags as one comparable value: JSON of name -> text with names in code-unit order. One flat string
 * built by join(): a 100,000-device pass holds one per device, and ropes cost several times more.
 */
export function canonicalTags(tags: Readonly<Record<string, string>>): string {
  const names = Object.keys(tags).sort();
  const parts: string[] = ['{'];
  names.forEach((name, i) => parts.push(i === 0 ? '' : ',', JSON.stringify(name), ':', JSON.stringify(tags[name])));
  parts.push('}');
  return parts.join('');
}
