import type { Scalar } from '../reconcile/index.js';
import { DECLARED, columnCheck } from '../store/schema.js';
import { BODY_FIELDS, type BodyField, type DeviceSkip, type TelemetryRow } from '../store/telemetry.js';

/** Why an event is not stored. The device reasons are decided at the write, against the portal's devices. */
export type SkipReason = 'malformed body' | 'module event' | 'not device telemetry' | DeviceSkip;

/** What the mapping needs of a received event (the SDK's ReceivedEventData has all of it). */
export interface HubEvent {
  readonly sequenceNumber: number;
  readonly offset: string;
  readonly enqueuedTimeUtc: Date;
  readonly body: unknown;
  readonly properties?: Readonly<Record<string, unknown>>;
  readonly systemProperties?: Readonly<Record<string, unknown>>;
}

export type Mapped =
  | { readonly row: TelemetryRow }
  | { readonly skip: Exclude<SkipReason, DeviceSkip>; readonly detail: string | null; readonly ref: string };

const DEVICE_ID = 'iothub-connection-device-id';
const MODULE_ID = 'iothub-connection-module-id';
const AUTH_METHOD = 'iothub-connection-auth-method';
const MESSAGE_SOURCE = 'iothub-message-source';

const FIELD_CHECKS = BODY_FIELDS.map((field) => [field, columnCheck(DECLARED['lorawan_telemetry']![field]!)] as const);

/**
 * One event of the IoT Hub's Event Hubs-compatible endpoint -> a telemetry row, or the reason it is
 * skipped (INVENTORIES.md: device-authenticated telemetry only, no module events, a body of LoRaWAN
 * fields each of the type its column holds). IoT Hub sets its `iothub-*` values as message
 * annotations (the SDK's systemProperties); events relayed by other tools carry them as application
 * properties, which are read second.
 */
export function mapHubEvent(event: HubEvent, partitionId: string): Mapped {
  const get = (name: string): unknown => event.systemProperties?.[name] ?? event.properties?.[name];
  const device = get(DEVICE_ID);
  const deviceId = typeof device === 'string' && device !== '' ? device : null;
  const ref = `${deviceId ?? '(no device id)'}@${partitionId}/${event.sequenceNumber}`;
  const skip = (reason: Exclude<SkipReason, DeviceSkip>, detail: string | null = null): Mapped => ({ skip: reason, detail, ref });

  const source = get(MESSAGE_SOURCE);
  if (source !== undefined && source !== 'Telemetry') return skip('not device telemetry', `message source ${String(source)}`);
  const scope = authScope(get(AUTH_METHOD));
  const moduleId = get(MODULE_ID);
  if ((typeof moduleId === 'string' && moduleId !== '') || scope === 'module') return skip('module event');
  if (deviceId === null) return skip('not device telemetry', `no ${DEVICE_ID}`);
  if (scope !== 'device') return skip('not device telemetry', scope === null ? `no ${AUTH_METHOD} scope` : `auth scope ${scope}`);

  const body = bodyObject(event.body);
  if (body === null) return skip('malformed body', 'not a JSON object');
  const fields = {} as Record<BodyField, Scalar>;
  let present = 0;
  for (const [field, check] of FIELD_CHECKS) {
    let value = body.get(field);
    // `data` is the decoded payload: an object when the decoder gives one; kept as its JSON.
    if (field === 'data' && value !== null && typeof value === 'object') value = JSON.stringify(value);
    const problem = check(value);
    if (problem !== null) return skip('malformed body', `${field} ${problem}`);
    if (value !== undefined && value !== null) present++;
    fields[field] = (value ?? null) as Scalar;
  }
  if (present === 0) return skip('malformed body', 'none of the LoRaWAN fields');
  return {
    row: { partitionId, sequenceNumber: event.sequenceNumber, deviceId, enqueuedAt: event.enqueuedTimeUtc.toISOString(), body: fields },
  };
}

/** `{"scope":"device",...}` -> 'device'; null when absent or unreadable. */
function authScope(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  try {
    const scope = (JSON.parse(value) as { scope?: unknown } | null)?.scope;
    return typeof scope === 'string' ? scope : null;
  } catch {
    return null;
  }
}

/** The body's fields by lower-case name, from what the SDK hands over (parsed JSON, text or bytes). */
function bodyObject(body: unknown): Map<string, unknown> | null {
  let value = body;
  if (value instanceof Uint8Array) value = Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8');
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      return null;
    }
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const fields = new Map<string, unknown>();
  for (const [key, v] of Object.entries(value)) fields.set(key.toLowerCase(), v);
  return fields;
}
