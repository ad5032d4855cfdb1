/**
 * The AMQP 1.0 side of the emulator: what `@azure/event-hubs` (through core-amqp and rhea-promise)
 * opens on a connection, answered as the service answers it.
 *
 *   $cbs          a request/response pair: put-token requests (operation=put-token,
 *                 type=servicebus.windows.net:sastoken, name=<audience>, body=<SAS token>) get
 *                 status-code 200, or 401 with no error-condition: core-amqp maps 401 to
 *                 amqp:unauthorized-access, i.e. an error whose code is UnauthorizedError.
 *                 A granted claim lets the connection attach links at or below its audience.
 *   $management   READ of com.microsoft:eventhub / com.microsoft:partition (management.ts).
 *   <hub>/ConsumerGroups/<group>/Partitions/<id>
 *                 a receiver (a sending link on this side): streams.ts. An unknown hub or group is
 *                 refused with amqp:not-found and the service's "The messaging entity '...' could not
 *                 be found" (core-amqp gives it the code MessagingEntityNotFoundError); a link with no
 *                 claim for it with amqp:unauthorized-access.
 *
 * A refused link is attached then detached with the error, as the service does; the SDK sees the
 * error on the link. Deliveries are sent settled (the receiver's disposition would only cost a frame).
 */
import type { Server } from 'node:net';
import rhea, { type Connection, type EventContext, type Message, type Receiver, type Sender } from 'rhea';
import type { Hub } from './hub.js';
import { handleManagementRequest, managementReply } from './management.js';
import { encodeEvent } from './message.js';
import { checkSasToken, covers } from './sas.js';
import { FilterError, parseSelector, selectorOf } from './filter.js';
import type { Counters } from './stats.js';
import { PartitionStream, StreamRegistry } from './streams.js';

const CBS = '$cbs';
const MANAGEMENT = '$management';
const RUNTIME_METRIC = 'com.microsoft:enable-receiver-runtime-metric';
const EPOCH = 'com.microsoft:epoch';

/** rhea's link and connection fields that its typings leave out. */
interface LinkInternals {
  remote: { attach?: { source?: { address?: string; filter?: unknown }; target?: { address?: string }; properties?: Record<string, unknown>; desired_capabilities?: string | string[] } };
  local: { attach: { snd_settle_mode?: number } };
  set_source(fields: Record<string, unknown>): void;
  set_target(fields: Record<string, unknown>): void;
}
interface ConnectionInternals {
  socket?: { destroy(): void };
}

export interface AmqpNode {
  readonly server: Server;
  /** Sends what waits in every partition that grew to their open receivers. */
  wake(partitions: ReadonlySet<number>): void;
  close(): Promise<void>;
}

export interface AmqpNodeOptions {
  hub: Hub;
  counters: Counters;
  /** Re-reads the fixture file when it changed. */
  refresh(): void;
  now(): number;
  host: string;
  port: number;
}

function internals(link: Sender | Receiver): LinkInternals {
  return link as unknown as LinkInternals;
}

/** Attaches (echoing the peer's terminus, so the link counts as accepted) then detaches with `error`. */
function refuse(link: Sender | Receiver, condition: string, description: string): void {
  link.close({ condition, description });
}

export async function startAmqpNode(opts: AmqpNodeOptions): Promise<AmqpNode> {
  const { hub, counters } = opts;
  const container = rhea.create_container({ id: 'portal-sync-eventhub-emulator' });
  const streams = new StreamRegistry();
  const streamOf = new Map<Sender, PartitionStream>();
  /** Per connection: the audiences its put-tokens granted, with their expiry (ms). */
  const claims = new WeakMap<Connection, Map<string, number>>();
  const connections = new Set<Connection>();
  let host = '';

  const entity = (path: string) => `sb://${host}/${path}`;
  const notFound = (path: string) =>
    `The messaging entity '${entity(path)}' could not be found. To know more visit https://aka.ms/sbResourceMgrExceptions.`;

  const claimed = (conn: Connection, audience: string): boolean => {
    const now = opts.now();
    for (const [scope, expiry] of claims.get(conn) ?? []) if (expiry > now && covers(scope, audience)) return true;
    return false;
  };

  const encode = (stored: Parameters<typeof encodeEvent>[0], last: Parameters<typeof encodeEvent>[1]) => encodeEvent(stored, last, opts.now());

  const drop = (s: PartitionStream) => {
    streams.remove(s);
    streamOf.delete(s.link);
  };
  const dropConnection = (conn: Connection) => {
    for (const s of streams.all()) if (s.link.connection === conn) drop(s);
  };

  const cut = (conn: Connection) => {
    counters.connectionsDropped++;
    dropConnection(conn);
    (conn as unknown as ConnectionInternals).socket?.destroy();
  };

  const hooks = {
    encode,
    delivered(stream: PartitionStream): boolean {
      counters.eventsDelivered++;
      if (hub.faults.deliveredShouldDrop()) {
        cut(stream.link.connection);
        return false;
      }
      return true;
    },
  };

  /** The sending link on `conn` that answers requests to `node` sent with `replyTo`. */
  const replyLink = (conn: Connection, node: string, replyTo: unknown): Sender | undefined =>
    conn.find_sender((s: Sender) => {
      const a = internals(s).remote.attach;
      return a?.source?.address === node && (s.name === replyTo || a?.target?.address === replyTo);
    }) ?? conn.find_sender((s: Sender) => internals(s).remote.attach?.source?.address === node);

  const reply = (conn: Connection, node: string, request: Message, response: Message) => {
    const link = replyLink(conn, node, request.reply_to);
    if (!link) return; // the requester never attached its reply link: nowhere to answer, as on the service
    link.send({ ...response, correlation_id: request.message_id, to: request.reply_to });
  };

  const putToken = (conn: Connection, request: Message): Message => {
    const props = (request.application_properties ?? {}) as Record<string, unknown>;
    const status = (code: number, description: string): Message => ({ body: null, application_properties: { 'status-code': code, 'status-description': description } });
    if (props['operation'] !== 'put-token') return status(400, `The operation '${String(props['operation'])}' is not supported by $cbs.`);
    if (hub.faults.refuseCbs) {
      counters.cbs.putTokenRefused++;
      return status(401, 'InvalidSignature: The token has an invalid signature. (injected fault: refuseCbs)');
    }
    const audience = typeof props['name'] === 'string' ? props['name'] : '';
    const check = checkSasToken(request.body, hub.fixture.keyName, hub.fixture.key, opts.now());
    if (!check.ok || !covers(check.audience!, audience)) {
      counters.cbs.putTokenRefused++;
      return status(401, check.reason ?? `InvalidAudience: The token's audience '${check.audience!}' does not cover '${audience}'.`);
    }
    const expiry = Number(/[?&\s]se=(\d+)/.exec(String(request.body))?.[1] ?? 0) * 1000;
    let map = claims.get(conn);
    if (!map) claims.set(conn, (map = new Map()));
    map.set(audience, expiry);
    counters.cbs.putTokenOk++;
    return status(200, 'OK');
  };

  container.on('connection_open', (ctx: EventContext) => {
    opts.refresh();
    counters.connections++;
    connections.add(ctx.connection);
  });

  const forget = (ctx: EventContext) => {
    connections.delete(ctx.connection);
    dropConnection(ctx.connection);
  };
  container.on('disconnected', forget);
  container.on('connection_close', forget);
  // A client that goes away mid-frame is a client's problem, not the emulator's.
  container.on('error', () => undefined);

  // The peer's sending links: requests to $cbs and $management. Producers are not emulated.
  container.on('receiver_open', (ctx: EventContext) => {
    const link = ctx.receiver!;
    const address = internals(link).remote.attach?.target?.address;
    internals(link).set_target({ address });
    if (address !== CBS && address !== MANAGEMENT) {
      refuse(link, 'amqp:not-implemented', `The emulator serves consumers only: cannot send to '${String(address)}'.`);
    }
  });

  container.on('message', (ctx: EventContext) => {
    const link = ctx.receiver!;
    const request = ctx.message!;
    const node = internals(link).remote.attach?.target?.address;
    if (node === CBS) reply(ctx.connection, CBS, request, putToken(ctx.connection, request));
    else if (node === MANAGEMENT) {
      opts.refresh();
      const result = handleManagementRequest(request, {
        hub,
        entity,
        notFound,
        authorized: (token, audience) => {
          if (token === undefined) return claimed(ctx.connection, audience) ? { ok: true } : { ok: false, reason: `Unauthorized access. 'Manage' claim is required for '${audience}'.` };
          const check = checkSasToken(token, hub.fixture.keyName, hub.fixture.key, opts.now());
          return check.ok && covers(check.audience!, audience) ? { ok: true } : { ok: false, reason: check.reason ?? 'InvalidAudience: The token does not cover the hub.' };
        },
      });
      if (result.counted) counters.management[result.counted]++;
      else counters.management.refused++;
      reply(ctx.connection, MANAGEMENT, request, managementReply(result));
    }
  });

  // The peer's receiving links: reply links of $cbs / $management, and partition receivers.
  container.on('sender_open', (ctx: EventContext) => {
    const link = ctx.sender!;
    const attach = internals(link).remote.attach ?? {};
    const address = attach.source?.address ?? '';
    internals(link).set_source({ address, ...(attach.source?.filter !== undefined ? { filter: attach.source.filter } : {}) });
    if (address === CBS || address === MANAGEMENT) return;
    opts.refresh();
    const refused = (condition: string, description: string) => {
      counters.receivers.refused++;
      refuse(link, condition, description);
    };
    const m = /^([^/]+)\/ConsumerGroups\/([^/]+)\/Partitions\/([^/]+)$/i.exec(address);
    const f = hub.fixture;
    if (!m || m[1]!.toLowerCase() !== f.name.toLowerCase()) return refused('amqp:not-found', notFound(m ? m[1]! : address));
    const group = f.consumerGroups.find((g) => g.toLowerCase() === m[2]!.toLowerCase());
    if (group === undefined) return refused('amqp:not-found', notFound(`${m[1]!}/ConsumerGroups/${m[2]!}`));
    const log = hub.logs.find((l) => l.id === m[3]);
    if (!log) {
      return refused(
        'com.microsoft:argument-out-of-range',
        `The specified partition is invalid for an EventHub partition sender or receiver. It should be between 0 and ${f.partitionCount - 1}.`,
      );
    }
    if (!claimed(ctx.connection, entity(address))) {
      return refused('amqp:unauthorized-access', `Unauthorized access. 'Listen' claim(s) are required to perform this operation. Resource: '${entity(address)}'.`);
    }
    let start;
    const selector = selectorOf(attach.source?.filter);
    try {
      start = selector === undefined ? undefined : parseSelector(selector);
    } catch (err) {
      if (err instanceof FilterError) return refused('com.microsoft:argument-error', err.message);
      throw err;
    }
    const rawEpoch = attach.properties?.[EPOCH];
    const epoch = typeof rawEpoch === 'number' ? rawEpoch : undefined;
    const key = StreamRegistry.key(group, log.id);
    const verdict = streams.judge(key, epoch, link.name);
    if (!verdict.ok) return refused(verdict.condition, verdict.description);
    for (const old of verdict.displaced) {
      drop(old);
      counters.receivers.stolen++;
      old.link.close({
        condition: 'amqp:link:stolen',
        description: `New receiver '${link.name}' with higher epoch of '${epoch!}' is created hence current receiver '${old.link.name}' with epoch '${old.epoch ?? 'none'}' is getting disconnected. If you are recreating the receiver, make sure a higher epoch is used.`,
      });
    }
    const caps = attach.desired_capabilities;
    const track = Array.isArray(caps) ? caps.includes(RUNTIME_METRIC) : caps === RUNTIME_METRIC;
    // Settled on send: no per-delivery bookkeeping on either side.
    internals(link).local.attach.snd_settle_mode = 1;
    const stream = new PartitionStream(link, log, key, epoch, log.firstFor(start), track, hooks);
    streams.add(stream);
    streamOf.set(link, stream);
    counters.receivers.opened++;
  });

  container.on('sendable', (ctx: EventContext) => {
    streamOf.get(ctx.sender!)?.pump();
  });
  const linkGone = (ctx: EventContext) => {
    const s = ctx.sender ? streamOf.get(ctx.sender) : undefined;
    if (s) drop(s);
  };
  container.on('sender_close', linkGone);
  container.on('sender_error', linkGone);

  const server = container.listen({ host: opts.host, port: opts.port }) as unknown as Server;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.once('listening', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  host = typeof addr === 'object' && addr ? `${addr.address.includes(':') ? `[${addr.address}]` : addr.address}:${addr.port}` : opts.host;

  return {
    server,
    wake(partitions) {
      for (const p of partitions) for (const s of streams.ofPartition(String(p))) s.pump();
    },
    close() {
      return new Promise<void>((resolve) => {
        for (const s of streams.all()) drop(s);
        for (const c of connections) (c as unknown as ConnectionInternals).socket?.destroy();
        connections.clear();
        server.close(() => resolve());
      });
    },
  };
}
