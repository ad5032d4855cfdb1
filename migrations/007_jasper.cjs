// `jasper`: Cisco Control Center SIM inventories, through staging tables.
//  - `jasper_service_providers`: the providers a pass reads (managed by `jasper providers add|list|
//    remove`); each one's API key is read from JASPER_API_KEY_<ID>, never stored.
//  - `jasper_cursors`: per provider, the modifiedSince of the next incremental pass (moved only by a
//    complete, promoted listing) and, while a listing is cut short by --max-pages, where it resumes.
//  - `jasper_device_staging`: the pages of the listing in progress, as they arrived (duplicates and
//    bad records included: they are sorted out at promotion).
//  - `jasper_devices`: production, one row per provider and ICCID.
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
    case 'boolean':
      return t.boolean(name);
    default:
      throw new Error(`columns.cjs: unexpected column type ${spec.type} in 007`);
  }
}

/** @param {import('knex').Knex} knex */
exports.up = async function up(knex) {
  const P = COLUMNS.jasper_service_providers;
  await knex.schema.createTable('jasper_service_providers', (t) => {
    for (const [name, spec] of Object.entries(P)) {
      const c = column(t, name, spec);
      if (name === 'enabled') c.notNullable().defaultTo(true);
      else if (name !== 'name') c.notNullable();
    }
    t.primary(['id']);
    t.check('billing_end_day BETWEEN 1 AND 31', [], 'jasper_billing_end_day');
    t.check('billing_end_hour BETWEEN 0 AND 23', [], 'jasper_billing_end_hour');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.schema.createTable('jasper_cursors', (t) => {
    t.string('provider_id', P.id.length).notNullable().primary().references('id').inTable('jasper_service_providers').onDelete('CASCADE');
    // The start of the last complete pass: the next incremental pass asks for changes since (a little before) it.
    t.timestamp('modified_since', { useTz: true });
    // A listing not read to its end yet (--max-pages, a failed page): the modifiedSince it asks with,
    // when it began (the next cursor, once it is promoted) and the next page to read.
    t.timestamp('resume_modified_since', { useTz: true });
    t.timestamp('resume_started_at', { useTz: true });
    t.integer('resume_page');
    t.timestamp('updated_at', { useTz: true }).notNullable();
  });
  const D = COLUMNS.jasper_devices;
  await knex.schema.createTable('jasper_device_staging', (t) => {
    t.string('provider_id', D.provider_id.length).notNullable().references('id').inTable('jasper_service_providers').onDelete('CASCADE');
    t.integer('page_number').notNullable();
    t.integer('position').notNullable();
    // As the API gave them: validated at promotion, so a bad record is reported, not refused here.
    t.text('iccid');
    t.text('status');
    t.text('rate_plan');
    t.text('communication_plan');
    t.primary(['provider_id', 'page_number', 'position']);
  });
  await knex.schema.createTable('jasper_devices', (t) => {
    for (const [name, spec] of Object.entries(D)) {
      const c = column(t, name, spec);
      if (name === 'provider_id' || name === 'iccid') c.notNullable();
    }
    t.primary(['provider_id', 'iccid']);
    t.foreign('provider_id').references('id').inTable('jasper_service_providers').onDelete('CASCADE');
    t.timestamp('updated_at', { useTz: true }).notNullable();
  });
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  for (const table of ['jasper_devices', 'jasper_device_staging', 'jasper_cursors', 'jasper_service_providers']) await knex.schema.dropTable(table);
};
