import type { Knex } from 'knex';
import type { DbClient } from './db.js';
import { chunks, mapLazily, toBool } from './rows.js';
import { columnCheck, declaredColumns } from './schema.js';
import { insertRows, quote } from './sql.js';

/**
 * What DescribeThing and GetThingShadow said of a thing at a version (`aws_thing_facts`, migration
 * 004), so that a later pass asks again only for things that are new or whose version moved.
 */
export interface ThingFact {
  readonly thingName: string;
  readonly thingId: string;
  readonly version: number;
  readonly thingTypeName: string | null;
  /** null: not asked (an edge thing), or asked and the answer failed. */
  readonly hasClassicShadow: boolean | null;
}

const FACT_COLUMNS = declaredColumns('aws_thing_facts', ['thing_name', 'thing_id', 'version', 'thing_type_name', 'has_classic_shadow']);
const CHECKS = FACT_COLUMNS.map((c) => columnCheck(c.spec));

export async function loadThingFacts(db: Knex): Promise<Map<string, ThingFact>> {
  const rows: Array<Record<string, unknown>> = await db('aws_thing_facts').select(FACT_COLUMNS.map((c) => c.name));
  const facts = new Map<string, ThingFact>();
  for (const r of rows) {
    const thingName = String(r.thing_name);
    facts.set(thingName, {
      thingName,
      thingId: String(r.thing_id),
      version: Number(r.version),
      thingTypeName: r.thing_type_name === null || r.thing_type_name === undefined ? null : String(r.thing_type_name),
      hasClassicShadow: toBool(r.has_classic_shadow),
    });
  }
  return facts;
}

const valuesOf = (f: ThingFact) => [f.thingName, f.thingId, f.version, f.thingTypeName, f.hasClassicShadow] as const;

/**
 * Stores facts (one upsert per chunk). A fact a column cannot hold (a name longer than AWS allows,
 * from a misbehaving endpoint) is left out: that thing is asked again next pass, nothing breaks.
 */
export async function writeThingFacts(trx: Knex.Transaction, client: DbClient, facts: readonly ThingFact[]): Promise<number> {
  const storable = facts.filter((f) => valuesOf(f).every((v, i) => CHECKS[i]!(v) === null));
  const set = Object.fromEntries(FACT_COLUMNS.slice(1).map((c) => [c.name, `excluded.${quote(c.name)}`]));
  await insertRows(trx, client, 'aws_thing_facts', FACT_COLUMNS, mapLazily(storable, (f) => [...valuesOf(f)]), { upsert: { target: ['thing_name'], set } });
  return storable.length;
}

/** Forgets the facts of things no longer listed (only ever after a complete listing). */
export async function deleteThingFacts(trx: Knex.Transaction, thingNames: readonly string[]): Promise<void> {
  for (const chunk of chunks(thingNames, 500)) await trx('aws_thing_facts').whereIn('thing_name', chunk).del();
}
