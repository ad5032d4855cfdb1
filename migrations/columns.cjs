// What each synced column can hold: the ONE declaration that both the schema (migrations) and the
// validation of every value before it is written (src/store/schema.ts) read, so they cannot drift.
// Not a migration itself (its name has no number): the runner only takes `NNN_*.cjs`.
//
// Types: `string` is varchar(length) (a limit that protects something: keys, which PostgreSQL's
// b-tree indexes cannot take at any size, codes and LoRa keys of a known shape); `text` has no limit
// (free text, where a limit would only turn a long name into a failed pass); `integer` is 32-bit;
// `bigint` is limited to what a JavaScript number holds exactly (versions are read back as numbers);
// `timestamptz` holds real calendar instants of the years 1 to 9999. No text column takes NUL.

const string = (length) => ({ type: 'string', length });
const text = { type: 'text' };
const integer = { type: 'integer' };
const bigint = { type: 'bigint' };
const boolean = { type: 'boolean' };
const timestamptz = { type: 'timestamptz' };
const double = { type: 'double' };

const KEY = string(255);

module.exports = {
  devices: {
    id: KEY,
    version: bigint,
    name: text,
    device_model_id: KEY,
    layer_id: KEY,
    is_enabled: boolean,
    is_connected: boolean,
    status_updated_at: timestamptz,
    last_activity_at: timestamptz,
    thing_name: KEY,
  },
  device_tag_values: {
    device_id: KEY,
    name: KEY,
    value: text,
  },
  lorawan_devices: {
    id: KEY,
    app_eui: string(64),
    app_key: string(64),
    app_s_key: string(64),
    nwk_s_key: string(64),
    dev_addr: string(64),
    sensor_decoder: text,
    class_type: string(16),
    preferred_window: integer,
    deduplication: string(32),
    rx1_dr_offset: integer,
    rx2_data_rate: integer,
    rx_delay: integer,
    abp_relax_mode: boolean,
    fcnt_up_start: integer,
    fcnt_down_start: integer,
    fcnt_reset_counter: integer,
    supports_32bit_fcnt: boolean,
    keep_alive_timeout: integer,
    downlink: boolean,
    use_otaa: boolean,
    gateway_id: KEY,
    data_rate: string(64),
    tx_power: string(64),
    nb_rep: integer,
    reported_rx2_data_rate: integer,
    reported_rx1_dr_offset: integer,
    reported_rx_delay: integer,
    already_logged_in_once: boolean,
  },
  edge_devices: {
    id: KEY,
    version: bigint,
    name: text,
    device_model_id: KEY,
    connection_state: string(32),
    is_enabled: boolean,
    nb_modules: integer,
    nb_devices: integer,
    thing_name: KEY,
  },
  edge_device_modules: {
    edge_device_id: KEY,
    name: KEY,
    status: text,
    version: text,
    image: text,
  },
  edge_device_tag_values: {
    edge_device_id: KEY,
    name: KEY,
    value: text,
  },
  concentrators: {
    id: KEY,
    version: bigint,
    name: text,
    lora_region: string(64),
    device_type: text,
    client_thumbprint: text,
    is_connected: boolean,
    is_enabled: boolean,
  },
  lora_gateway_ids: {
    id: KEY,
  },
  device_models: {
    id: KEY,
    name: KEY,
    description: text,
    thing_type_name: KEY,
  },
  edge_device_models: {
    id: KEY,
    name: KEY,
    description: text,
    external_identifier: KEY,
  },
  aws_thing_facts: {
    thing_name: KEY,
    thing_id: KEY,
    version: bigint,
    thing_type_name: KEY,
    has_classic_shadow: boolean,
  },
  // One event of the IoT Hub's Event Hubs-compatible endpoint from a LoRaWAN device; the body fields
  // keep the names the LoRaWAN network server writes (INVENTORIES.md, LoRaWAN telemetry).
  lorawan_telemetry: {
    partition_id: string(32),
    sequence_number: bigint,
    device_id: KEY,
    enqueued_at: timestamptz,
    time: string(64),
    tmms: bigint,
    freq: double,
    chan: integer,
    rfch: integer,
    modu: string(16),
    datr: string(32),
    rssi: double,
    lsnr: double,
    data: text,
    port: integer,
    fcnt: bigint,
    edgets: bigint,
    rawdata: text,
    eui: string(64),
    gatewayid: KEY,
    stationeui: string(64),
    dupmsg: boolean,
  },
  sync_events: {
    ref: KEY,
    message: text,
  },
  // The customer database of `navixy-customers`, read-only; these are the embedded default's tables.
  // Provider and state are free text on purpose: the rules read them trimmed and case-insensitively,
  // and a state they do not know is reported, not refused by the schema.
  customers: {
    reference: KEY,
    name: text,
    provider: string(64),
    state: string(64),
    navixy_hash: text,
    gateway_count: integer,
  },
  // Operators' manual overrides of `navixy-customers`, in the portal database.
  navixy_overrides: {
    customer_reference: KEY,
    mode: string(16),
    reason: text,
  },
  // `jasper`: the Cisco Control Center service providers it reads (their API keys are in the
  // environment, never here), and their SIMs, staged then promoted.
  jasper_service_providers: {
    id: string(64),
    name: text,
    api_base_url: text,
    username: text,
    billing_end_day: integer,
    billing_end_hour: integer,
    enabled: boolean,
  },
  jasper_devices: {
    provider_id: string(64),
    iccid: string(32),
    status: string(64),
    rate_plan: text,
    communication_plan: text,
  },
};
