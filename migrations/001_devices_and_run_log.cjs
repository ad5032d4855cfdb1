// Initial schema: device models, devices (with LoRaWAN fields and tag values) and the run log.
// Plain CommonJS so the same file serves SQLite and PostgreSQL without a build step.

/** @param {import('knex').Knex} knex */
exports.up = async function up(knex) {
  await knex.schema.createTable('device_models', (t) => {
    t.string('id', 255).primary();
    t.string('name', 255).notNullable();
    t.text('description');
    t.boolean('support_lora_features').notNullable().defaultTo(false);
  });

  await knex.schema.createTable('devices', (t) => {
    t.string('id', 255).primary();
    t.string('name', 255).notNullable();
    t.string('device_model_id', 255).notNullable().index();
    t.bigInteger('version').notNullable();
    t.boolean('is_connected').notNullable().defaultTo(false);
    t.boolean('is_enabled').notNullable().defaultTo(true);
    t.string('layer_id', 255);
    t.timestamp('status_updated_at', { useTz: true });
    t.timestamp('last_activity_at', { useTz: true });
  });

  await knex.schema.createTable('lorawan_devices', (t) => {
    t.string('id', 255).primary().references('id').inTable('devices').onDelete('CASCADE');
    // Desired properties
    t.string('app_eui', 64);
    t.string('app_key', 64);
    t.string('app_s_key', 64);
    t.string('nwk_s_key', 64);
    t.string('dev_addr', 64);
    t.text('sensor_decoder');
    t.string('class_type', 16);
    t.integer('preferred_window');
    t.string('deduplication', 32);
    t.integer('rx1_dr_offset');
    t.integer('rx2_data_rate');
    t.integer('rx_delay');
    t.boolean('abp_relax_mode');
    t.integer('fcnt_up_start');
    t.integer('fcnt_down_start');
    t.integer('fcnt_reset_counter');
    t.boolean('supports_32bit_fcnt');
    t.integer('keep_alive_timeout');
    t.boolean('downlink');
    t.boolean('use_otaa');
    // Reported properties
    t.string('gateway_id', 255);
    t.string('data_rate', 64);
    t.string('tx_power', 64);
    t.integer('nb_rep');
    t.integer('reported_rx2_data_rate');
    t.integer('reported_rx1_dr_offset');
    t.integer('reported_rx_delay');
    t.boolean('already_logged_in_once');
  });

  await knex.schema.createTable('device_tag_values', (t) => {
    t.string('device_id', 255).notNullable().references('id').inTable('devices').onDelete('CASCADE');
    t.string('name', 255).notNullable();
    t.text('value');
    t.primary(['device_id', 'name']);
  });

  await knex.schema.createTable('device_labels', (t) => {
    t.string('device_id', 255).notNullable().references('id').inTable('devices').onDelete('CASCADE');
    t.string('name', 255).notNullable();
    t.string('color', 32);
    t.primary(['device_id', 'name']);
  });

  await knex.schema.createTable('sync_runs', (t) => {
    t.increments('id').primary();
    t.string('command', 64).notNullable();
    t.string('status', 16).notNullable();
    t.boolean('dry_run').notNullable().defaultTo(false);
    t.timestamp('started_at', { useTz: true }).notNullable();
    t.timestamp('finished_at', { useTz: true });
    t.integer('exit_code');
    t.text('summary');
    t.text('error');
    t.index(['command', 'started_at']);
  });

  await knex.schema.createTable('sync_events', (t) => {
    t.bigIncrements('id').primary();
    t.integer('run_id').notNullable().references('id').inTable('sync_runs').onDelete('CASCADE');
    t.timestamp('at', { useTz: true }).notNullable();
    t.string('level', 8).notNullable();
    t.string('type', 32).notNullable();
    t.string('ref', 255);
    t.text('message').notNullable();
    t.index(['run_id']);
    t.index(['ref']);
    t.index(['type', 'at']);
  });
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  for (const table of ['sync_events', 'sync_runs', 'device_labels', 'device_tag_values', 'lorawan_devices', 'devices', 'device_models']) {
    await knex.schema.dropTableIfExists(table);
  }
};
