// `navixy-customers`: the customer database's table for the embedded default, and the overrides.
//  - `customers`: one row per customer of the portal, as the customer database holds it (provider,
//    state, Navixy hash, number of gateways). `navixy-customers` only reads it, in one snapshot; a
//    separate customer database (--customers-db) needs a table or view of this name and these
//    columns (README, "navixy-customers").
//  - `navixy_overrides`: customers an operator took out of the sync (force-on: keep connected,
//    force-off: keep disconnected); the pass leaves them and their connection alone.
const COLUMNS = require('./columns.cjs');

/** @param {import('knex').TableBuilder} t @param {string} name @param {{ type: string, length?: number }} spec */
function column(t, name, spec) {
  switch (spec.type) {
    case 'string':
      return t.string(name, spec.length);
    case 'text':
      return t.text(name);
    case 'integer':
      return t.integer(name);
    default:
      throw new Error(`columns.cjs: unexpected column type ${spec.type} in 006`);
  }
}

/** @param {import('knex').Knex} knex */
exports.up = async function up(knex) {
  await knex.schema.createTable('customers', (t) => {
    for (const [name, spec] of Object.entries(COLUMNS.customers)) column(t, name, spec);
    t.primary(['reference']);
  });
  await knex.schema.createTable('navixy_overrides', (t) => {
    for (const [name, spec] of Object.entries(COLUMNS.navixy_overrides)) {
      const c = column(t, name, spec);
      if (name !== 'reason') c.notNullable();
    }
    t.primary(['customer_reference']);
    t.check("mode IN ('force-on', 'force-off')", [], 'navixy_overrides_mode');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  await knex.schema.dropTable('navixy_overrides');
  await knex.schema.dropTable('customers');
};
