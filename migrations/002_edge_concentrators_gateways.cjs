// Azure IoT Edge devices with their modules, LoRaWAN concentrators, and LoRa gateway ids.

/** @param {import('knex').Knex} knex */
exports.up = async function up(knex) {
  await knex.schema.createTable('edge_device_models', (t) => {
    t.string('id', 255).primary();
    t.string('name', 255).notNullable();
    t.text('description');
    t.string('external_identifier', 255);
  });

  await knex.schema.createTable('edge_devices', (t) => {
    t.string('id', 255).primary();
    t.string('name', 255).notNullable();
    t.string('device_model_id', 255).notNullable().index();
    t.bigInteger('version').notNullable();
    t.string('connection_state', 32).notNullable();
    t.boolean('is_enabled').notNullable().defaultTo(true);
    t.integer('nb_modules').notNullable().defaultTo(0);
    t.integer('nb_devices').notNullable().defaultTo(0);
  });

  await knex.schema.createTable('edge_device_modules', (t) => {
    t.string('edge_device_id', 255).notNullable().references('id').inTable('edge_devices').onDelete('CASCADE');
    t.string('name', 255).notNullable();
    t.string('status', 64);
    t.string('version', 64);
    t.text('image');
    t.primary(['edge_device_id', 'name']);
  });

  await knex.schema.createTable('edge_device_tag_values', (t) => {
    t.string('edge_device_id', 255).notNullable().references('id').inTable('edge_devices').onDelete('CASCADE');
    t.string('name', 255).notNullable();
    t.text('value');
    t.primary(['edge_device_id', 'name']);
  });

  await knex.schema.createTable('concentrators', (t) => {
    t.string('id', 255).primary();
    t.string('name', 255).notNullable();
    t.string('lora_region', 64).notNullable();
    t.string('device_type', 255);
    t.string('client_thumbprint', 255);
    t.boolean('is_connected').notNullable().defaultTo(false);
    t.boolean('is_enabled').notNullable().defaultTo(true);
    t.bigInteger('version').notNullable();
  });

  await knex.schema.createTable('lora_gateway_ids', (t) => {
    t.string('id', 255).primary();
  });
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  for (const table of ['lora_gateway_ids', 'concentrators', 'edge_device_tag_values', 'edge_device_modules', 'edge_devices', 'edge_device_models']) {
    await knex.schema.dropTableIfExists(table);
  }
};
