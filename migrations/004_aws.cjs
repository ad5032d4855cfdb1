// AWS IoT Core and Greengrass V2 (`thing-types`, `things`, `greengrass`).
//  - `thing_name` on devices and edge devices: the AWS thing a row was imported from. It is also the
//    owner mark: rows with a thing name are the `things` command's, rows without one the Azure
//    commands', and neither touches (loads, updates or deletes) the other's rows.
//  - `thing_type_name` on device models: set by `thing-types` on the models it writes, which are
//    the only ones it may delete (the portal's own and Azure's models are not its to remove).
//  - `aws_thing_facts`: what DescribeThing and GetThingShadow said of a thing at a version, so a
//    later pass asks again only for things that are new or whose version moved (thingId never
//    changes; a standard thing without a classic shadow is remembered too, and not asked again).
const COLUMNS = require('./columns.cjs');

/** @param {import('knex').Knex} knex */
exports.up = async function up(knex) {
  const key = (t, name) => t.string(name, COLUMNS.aws_thing_facts.thing_name.length);
  await knex.schema.alterTable('devices', (t) => {
    key(t, 'thing_name').nullable().unique();
  });
  await knex.schema.alterTable('edge_devices', (t) => {
    key(t, 'thing_name').nullable().unique();
  });
  await knex.schema.alterTable('device_models', (t) => {
    key(t, 'thing_type_name').nullable();
  });
  await knex.schema.createTable('aws_thing_facts', (t) => {
    key(t, 'thing_name').primary();
    key(t, 'thing_id').notNullable();
    t.bigInteger('version').notNullable();
    key(t, 'thing_type_name').nullable();
    // NULL: not asked (an edge thing, or a thing without a type).
    t.boolean('has_classic_shadow').nullable();
  });
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  await knex.schema.dropTableIfExists('aws_thing_facts');
  await knex.schema.alterTable('device_models', (t) => t.dropColumn('thing_type_name'));
  await knex.schema.alterTable('edge_devices', (t) => {
    t.dropUnique(['thing_name']);
    t.dropColumn('thing_name');
  });
  await knex.schema.alterTable('devices', (t) => {
    t.dropUnique(['thing_name']);
    t.dropColumn('thing_name');
  });
};
