// LoRaWAN telemetry from the IoT Hub's Event Hubs-compatible endpoint (`telemetry`).
//  - `lorawan_telemetry`: one row per stored event, keyed by (partition, sequence number): a
//    sequence number alone repeats across partitions (the portal's own job keyed by it and lost
//    rows). Rows go with their device (ON DELETE CASCADE); the newest 100 per device are kept, found
//    through the (device, enqueued time) index.
//  - `eventhub_checkpoints`: where each partition's reading stopped, per namespace, hub and consumer
//    group. It is written in the same transaction as the rows it covers, so a crash loses or
//    repeats nothing.
//  - `eventhub_ownership`: which run reads which partition (the SDK's CheckpointStore ownership),
//    so two runs never read one partition at once.
const COLUMNS = require('./columns.cjs');

const T = COLUMNS.lorawan_telemetry;

/** @param {import('knex').TableBuilder} t @param {string} name @param {{ type: string, length?: number }} spec */
function column(t, name, spec) {
  switch (spec.type) {
    case 'string':
      return t.string(name, spec.length);
    case 'text':
      return t.text(name);
    case 'integer':
      return t.integer(name);
    case 'bigint':
      return t.bigInteger(name);
    case 'double':
      return t.double(name);
    case 'boolean':
      return t.boolean(name);
    case 'timestamptz':
      return t.timestamp(name, { useTz: true });
    default:
      throw new Error(`columns.cjs: unknown column type ${spec.type}`);
  }
}

/** @param {import('knex').TableBuilder} t */
function hubKey(t) {
  t.string('namespace', 255).notNullable();
  t.string('hub', 255).notNullable();
  t.string('consumer_group', 255).notNullable();
  t.string('partition_id', T.partition_id.length).notNullable();
}

/** @param {import('knex').Knex} knex */
exports.up = async function up(knex) {
  await knex.schema.createTable('lorawan_telemetry', (t) => {
    for (const [name, spec] of Object.entries(T)) {
      const c = column(t, name, spec);
      if (['partition_id', 'sequence_number', 'device_id', 'enqueued_at'].includes(name)) c.notNullable();
    }
    t.primary(['partition_id', 'sequence_number']);
    t.foreign('device_id').references('id').inTable('devices').onDelete('CASCADE');
    t.index(['device_id', 'enqueued_at'], 'lorawan_telemetry_device_newest');
  });
  await knex.schema.createTable('eventhub_checkpoints', (t) => {
    hubKey(t);
    t.string('event_offset', 64).notNullable();
    t.bigInteger('sequence_number').notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable();
    t.primary(['namespace', 'hub', 'consumer_group', 'partition_id']);
  });
  await knex.schema.createTable('eventhub_ownership', (t) => {
    hubKey(t);
    // '' once a run has given the partition up (the SDK's "abandoned").
    t.string('owner_id', 255).notNullable();
    t.string('etag', 64).notNullable();
    t.bigInteger('last_modified_ms').notNullable();
    t.primary(['namespace', 'hub', 'consumer_group', 'partition_id']);
  });
};

/** @param {import('knex').Knex} knex */
exports.down = async function down(knex) {
  await knex.schema.dropTableIfExists('eventhub_ownership');
  await knex.schema.dropTableIfExists('eventhub_checkpoints');
  await knex.schema.dropTableIfExists('lorawan_telemetry');
};
