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
import rhea, { type Message } from 'rhea';
import { createHash } from 'node:crypto';
import type { PartitionProperties, StoredEvent } from './log.js';

const { types, message: amqpMessage } = rhea;

/** A stable generation id per device, shaped like IoT Hub's (18 digits). */
function generationIdOf(deviceId: string): string {
  const h = createHash('sha256').update(deviceId).digest();
  return `63${(h.readBigUInt64BE(0) % 10n ** 16n).toString().padStart(16, '0')}`;
}

/** The iothub-* values IoT Hub stamps on a device (or module) message. */
export function iotHubProperties(stored: StoredEvent): Record<string, unknown> {
  const e = stored.event;
  if (e.deviceId === undefined) return {};
  const props: Record<string, unknown> = { 'iothub-connection-device-id': e.deviceId };
  if (e.moduleId !== undefined) props['iothub-connection-module-id'] = e.moduleId;
  props['iothub-connection-auth-method'] = JSON.stringify({ scope: e.authScope, type: 'sas', issuer: 'iothub', acceptingIpFilterRule: null });
  props['iothub-connection-auth-generation-id'] = e.authGenerationId ?? generationIdOf(e.moduleId === undefined ? e.deviceId : `${e.deviceId}/${e.moduleId}`);
  props['iothub-enqueuedtime'] = new Date(stored.enqueuedTime);
  props['iothub-message-source'] = e.messageSource;
  return props;
}

export function toAmqpMessage(stored: StoredEvent, lastEnqueued: PartitionProperties | undefined, now: number): Message {
  const e = stored.event;
  const iothub = iotHubProperties(stored);
  const annotations: Record<string, unknown> = {
    ...iothub,
    'x-opt-sequence-number': types.wrap_long(stored.sequenceNumber),
    'x-opt-offset': stored.offset,
    'x-opt-enqueued-time': new Date(stored.enqueuedTime),
  };
  if (e.partitionKey !== undefined) annotations['x-opt-partition-key'] = e.partitionKey;
  const msg: Message = {
    body: amqpMessage.data_section(e.body),
    content_type: 'application/json',
    content_encoding: 'utf-8',
    message_annotations: annotations,
    application_properties: { ...e.properties, ...iothub },
  };
  if (lastEnqueued) {
    msg.delivery_annotations = {
      last_enqueued_sequence_number: types.wrap_long(lastEnqueued.lastSequenceNumber),
      last_enqueued_offset: lastEnqueued.lastOffset,
      last_enqueued_time_utc: new Date(lastEnqueued.lastEnqueuedTime),
      runtime_info_retrieval_time_utc: new Date(now),
    };
  }
  return msg;
}
