/**
 * `$management` READ requests, as `@azure/event-hubs` sends them (dist/esm/managementClient.js):
 * application properties operation=READ, name=<hub>, type=com.microsoft:eventhub or
 * com.microsoft:partition (+ partition=<id>), security_token=<SAS token for sb://host/<hub>>.
 *
 * The answer's body is an AMQP map the SDK reads field by field:
 *   eventhub:  name, type, created_at (timestamp: the SDK does new Date(created_at)),
 *              partition_count (int), partition_ids (strings)
 *   partition: name, type, partition, begin_sequence_number (long), last_enqueued_sequence_number
 *              (long), last_enqueued_offset (string, as SDK 6 types it), last_enqueued_time_utc
 *              (timestamp), is_partition_empty (boolean)
 * An unknown hub: status-code 404 with error-condition amqp:not-found and the "could not be found"
 * description (the SDK's MessagingEntityNotFoundError); a bad token 401; an unknown partition 400
 * com.microsoft:argument-out-of-range.
 */
import rhea, { type Message } from 'rhea';
import type { Hub } from './hub.js';

const { types } = rhea;

export type ManagementResult =
  | { ok: true; counted: 'eventhub' | 'partition'; body: Record<string, unknown> }
  | { ok: false; counted?: undefined; status: number; condition: string; description: string };

export interface ManagementContext {
  hub: Hub;
  /** `sb://host/<path>` */
  entity(path: string): string;
  notFound(path: string): string;
  /** Checks the request's security_token (or, without one, the connection's CBS claims) for `audience`. */
  authorized(token: string | undefined, audience: string): { ok: boolean; reason?: string };
}

export function handleManagementRequest(request: Message, ctx: ManagementContext): ManagementResult {
  const props = (request.application_properties ?? {}) as Record<string, unknown>;
  const fail = (status: number, condition: string, description: string): ManagementResult => ({ ok: false, status, condition, description });
  if (props['operation'] !== 'READ') return fail(501, 'amqp:not-implemented', `The operation '${String(props['operation'])}' is not supported.`);
  const f = ctx.hub.fixture;
  const name = typeof props['name'] === 'string' ? props['name'] : '';
  const token = typeof props['security_token'] === 'string' ? props['security_token'] : undefined;
  const auth = ctx.authorized(token, ctx.entity(name));
  if (!auth.ok) return fail(401, 'amqp:unauthorized-access', auth.reason ?? 'Unauthorized access.');
  if (name.toLowerCase() !== f.name.toLowerCase()) return fail(404, 'amqp:not-found', ctx.notFound(name));
  const type = props['type'];
  if (type === 'com.microsoft:eventhub') {
    return {
      ok: true,
      counted: 'eventhub',
      body: {
        name: f.name,
        type,
        created_at: new Date(f.createdAt),
        partition_count: types.wrap_int(f.partitionCount),
        partition_ids: ctx.hub.partitionIds,
      },
    };
  }
  if (type === 'com.microsoft:partition') {
    const id = String(props['partition']);
    const log = ctx.hub.logs.find((l) => l.id === id);
    if (!log) {
      return fail(400, 'com.microsoft:argument-out-of-range', `The specified partition is invalid for an EventHub partition sender or receiver. It should be between 0 and ${f.partitionCount - 1}.`);
    }
    const p = log.properties();
    return {
      ok: true,
      counted: 'partition',
      body: {
        name: f.name,
        type,
        partition: id,
        begin_sequence_number: types.wrap_long(p.beginSequenceNumber),
        last_enqueued_sequence_number: types.wrap_long(p.lastSequenceNumber),
        last_enqueued_offset: p.lastOffset,
        last_enqueued_time_utc: new Date(p.lastEnqueuedTime),
        is_partition_empty: p.isEmpty,
      },
    };
  }
  return fail(400, 'com.microsoft:argument-error', `The type '${String(type)}' is not supported (expected com.microsoft:eventhub or com.microsoft:partition).`);
}

/** The response message (correlation id and address are set by the caller). */
export function managementReply(result: ManagementResult): Message {
  if (result.ok) return { application_properties: { 'status-code': 200, 'status-description': 'OK' }, body: result.body };
  return {
    body: null,
    application_properties: { 'status-code': result.status, 'status-description': result.description, 'error-condition': result.condition },
  };
}
