/**
 * An event as the AMQP message the service delivers from IoT Hub's built-in endpoint.
 *
 * Body: one data section, the UTF-8 bytes (content-type application/json, encoding utf-8, as IoT Hub
 * routes device JSON). Message annotations, which `@azure/event-hubs` turns into
 * ReceivedEventData (dist/esm/eventData.js):
 *   x-opt-sequence-number  long       -> sequenceNumber
 *   x-opt-offset           string     -> offset (a string in SDK 6)
 *   x-opt-enqueued-time    timestamp  -> enqueuedTimeUtc (a Date)
 *   x-opt-partition-key    string     -> partitionKey (when the event has one)
 * and every other annotation lands in systemProperties (timestamps as epoch ms): IoT Hub's
 *   iothub-connection-device-id, iothub-connection-module-id (module events only),
 *   iothub-connection-auth-method (a JSON string), iothub-connection-auth-generation-id,
 *   iothub-enqueuedtime (timestamp), iothub-message-source.
 * The same iothub-* values are also application properties (-> properties), beside the event's own.
 *
 * With the receiver-runtime-metric capability, delivery annotations carry the partition's last
 * enqueued event (read by the SDK for trackLastEnqueuedEventProperties):
 *   last_enqueued_sequence_number long, last_enqueued_offset string,
 *   last_enqueued_time_utc timestamp, runtime_info_retrieval_time_utc timestamp.
 */
import { createHash } from 'node:crypto';
import type { PartitionProperties, StoredEvent } from './log.js';
import { binary, list, long, map, NULL_VALUE, scalar, section, SECTION, string, symbol, timestamp } from './wire.js';

/** A stable generation id per device, shaped like IoT Hub's (18 digits). */
function generationIdOf(identity: string): string {
  const h = createHash('sha256').update(identity).digest();
  return `63${(h.readBigUInt64BE(0) % 10n ** 16n).toString().padStart(16, '0')}`;
}

/** The iothub-* values of one device (or module) and scope, but the enqueued time, encoded once. */
interface SenderParts {
  values: Record<string, string>;
  /** key/value pairs for message annotations (symbol keys) and application properties (string keys). */
  annotations: Buffer[];
  properties: Buffer[];
}
const senders = new Map<string, SenderParts>();
const MAX_CACHED = 100_000;

function senderParts(deviceId: string, moduleId: string | undefined, scope: 'device' | 'module', generationId: string | undefined, source: string): SenderParts {
  const key = `${deviceId}\0${moduleId ?? ''}\0${scope}\0${generationId ?? ''}\0${source}`;
  let parts = senders.get(key);
  if (!parts) {
    if (senders.size >= MAX_CACHED) senders.clear();
    const values: Record<string, string> = { 'iothub-connection-device-id': deviceId };
    if (moduleId !== undefined) values['iothub-connection-module-id'] = moduleId;
    values['iothub-connection-auth-method'] = JSON.stringify({ scope, type: 'sas', issuer: 'iothub', acceptingIpFilterRule: null });
    values['iothub-connection-auth-generation-id'] = generationId ?? generationIdOf(moduleId === undefined ? deviceId : `${deviceId}/${moduleId}`);
    values['iothub-message-source'] = source;
    const entries = Object.entries(values);
    parts = {
      values,
      annotations: entries.flatMap(([k, v]) => [symbol(k), string(v)]),
      properties: entries.flatMap(([k, v]) => [string(k), string(v)]),
    };
    senders.set(key, parts);
  }
  return parts;
}

const ENQUEUED_KEY = { symbol: symbol('iothub-enqueuedtime'), string: string('iothub-enqueuedtime') };
const SEQUENCE = symbol('x-opt-sequence-number');
const OFFSET = symbol('x-opt-offset');
const ENQUEUED = symbol('x-opt-enqueued-time');
const PARTITION_KEY = symbol('x-opt-partition-key');
const LAST_SEQUENCE = symbol('last_enqueued_sequence_number');
const LAST_OFFSET = symbol('last_enqueued_offset');
const LAST_TIME = symbol('last_enqueued_time_utc');
const RETRIEVAL_TIME = symbol('runtime_info_retrieval_time_utc');
// properties: message-id, user-id, to, subject, reply-to, correlation-id (all null), content-type, content-encoding.
const PROPERTIES = section(SECTION.properties, list([NULL_VALUE, NULL_VALUE, NULL_VALUE, NULL_VALUE, NULL_VALUE, NULL_VALUE, symbol('application/json'), symbol('utf-8')]));

/** The iothub-* values IoT Hub stamps on a device (or module) message (enqueued time as epoch ms). */
export function iotHubProperties(stored: StoredEvent): Record<string, string | number> {
  const e = stored.event;
  if (e.deviceId === undefined) return {};
  return { ...senderParts(e.deviceId, e.moduleId, e.authScope, e.authGenerationId, e.messageSource).values, 'iothub-enqueuedtime': stored.enqueuedTime };
}

/** The encoded message (sent as is: rhea's send with a format). */
export function encodeEvent(stored: StoredEvent, lastEnqueued: PartitionProperties | undefined, now: number): Buffer {
  const e = stored.event;
  const sections: Buffer[] = [];
  if (lastEnqueued) {
    sections.push(
      section(
        SECTION.deliveryAnnotations,
        map([
          LAST_SEQUENCE,
          long(lastEnqueued.lastSequenceNumber),
          LAST_OFFSET,
          string(lastEnqueued.lastOffset),
          LAST_TIME,
          timestamp(lastEnqueued.lastEnqueuedTime),
          RETRIEVAL_TIME,
          timestamp(now),
        ]),
      ),
    );
  }
  const enqueued = timestamp(stored.enqueuedTime);
  const annotations: Buffer[] = [];
  const properties: Buffer[] = [];
  for (const [k, v] of Object.entries(e.properties)) properties.push(string(k), scalar(v));
  if (e.deviceId !== undefined) {
    const parts = senderParts(e.deviceId, e.moduleId, e.authScope, e.authGenerationId, e.messageSource);
    annotations.push(...parts.annotations, ENQUEUED_KEY.symbol, enqueued);
    properties.push(...parts.properties, ENQUEUED_KEY.string, enqueued);
  }
  annotations.push(SEQUENCE, long(stored.sequenceNumber), OFFSET, string(stored.offset), ENQUEUED, enqueued);
  if (e.partitionKey !== undefined) annotations.push(PARTITION_KEY, string(e.partitionKey));
  sections.push(section(SECTION.messageAnnotations, map(annotations)), PROPERTIES);
  if (properties.length > 0) sections.push(section(SECTION.applicationProperties, map(properties)));
  sections.push(section(SECTION.data, binary(e.body)));
  return Buffer.concat(sections);
}
