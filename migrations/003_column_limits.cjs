// Brings the columns of 001 and 002 to the one declaration in columns.cjs (names, module status and
// version, concentrator device type and thumbprint become text: a limit there protected nothing and
// turned one long value into a failed pass). PostgreSQL only: SQLite does not enforce declared
// lengths, and the validation before every write applies the same limits on both databases.
const COLUMNS = require('./columns.cjs');

/** @param {{ type: string, length?: number }} spec */
function sqlType(spec) {
  switch (spec.type) {
    case 'string':
      return `varchar(${spec.length})`;
    case 'text':
      return 'text';
    case 'integer':
      return 'integer';
    case 'bigint':
      return 'bigint';
    case 'double':
      return 'double precision';
    case 'boolean':
      return 'boolean';
    case 'timestamptz':
      return 'timestamptz';
    default:
      throw new Error(`columns.cjs: unknown column type ${spec.type}`);
  }
}

/** @param {import('knex').Knex} knex */
exports.up = async function up(knex) {
  if (knex.client.config.client !== 'pg') return;
  const { rows } = await knex.raw(
    `SELECT table_name, column_name, data_type, character_maximum_length
       FROM information_schema.columns WHERE table_schema = current_schema()`,
  );
  const current = new Map(rows.map((r) => [`${r.table_name}.${r.column_name}`, r]));
  for (const [table, columns] of Object.entries(COLUMNS)) {
    for (const [column, spec] of Object.entries(columns)) {
      const row = current.get(`${table}.${column}`);
      // A column a later migration adds (with its declared type) is not there yet: nothing to bring.
      if (!row) continue;
      const isText = row.data_type === 'text';
      const length = row.character_maximum_length === null ? null : Number(row.character_maximum_length);
      const same =
        (spec.type === 'text' && isText) ||
        (spec.type === 'string' && row.data_type === 'character varying' && length === spec.length) ||
        (spec.type !== 'text' && spec.type !== 'string');
      if (!same) await knex.raw(`ALTER TABLE ?? ALTER COLUMN ?? TYPE ${sqlType(spec)}`, [table, column]);
    }
  }
};

/** @param {import('knex').Knex} knex */
exports.down = async function down() {
  // Widening is not undone: shortening again could fail on rows written since.
};
