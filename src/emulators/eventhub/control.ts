/**
 * The emulator's HTTP control server, on a port of its own (AMQP has the other):
 *
 *   GET    /__emulator/stats              counters, per-partition state, faults (stats.ts)
 *   DELETE /__emulator/stats              resets the counters (not the events)
 *   POST   /__emulator/eventhub/events    a JSON array of events (the fixture's shape): appended, all or
 *                                         none; 200 {"appended": n, "partitions": {"0": lastSeq, ...}}
 *   POST   /__emulator/eventhub/faults    a faults object (faults.ts): replaces the faults in force
 *
 * A malformed body is a 400 with a message naming the field.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { FixtureError } from '../fixture-file.js';
import type { EventHubFaults } from './faults.js';
import { normalizeFaults } from './faults.js';
import type { EventHubEventInput } from './fixture.js';
import type { EventHubEmulatorStats } from './stats.js';

const MAX_BODY_BYTES = 16 << 20;

export interface ControlActions {
  refresh(): void;
  stats(): EventHubEmulatorStats;
  resetStats(): void;
  append(events: readonly EventHubEventInput[]): Record<string, number>;
  setFaults(faults: EventHubFaults): EventHubFaults;
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
}

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY_BYTES) chunks.push(c);
    });
    req.on('end', () => {
      if (size > MAX_BODY_BYTES) return reject(new FixtureError(`the body is larger than ${MAX_BODY_BYTES} bytes`));
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown);
      } catch {
        reject(new FixtureError('the body is not valid JSON'));
      }
    });
    req.on('error', reject);
  });
}

export function createControlServer(actions: ControlActions): Server {
  const routes: Record<string, Partial<Record<string, (req: IncomingMessage) => Promise<[number, unknown]>>>> = {
    '/__emulator/stats': {
      GET: async () => [200, actions.stats()],
      DELETE: async () => {
        actions.resetStats();
        return [200, actions.stats()];
      },
    },
    '/__emulator/eventhub/events': {
      POST: async (req) => {
        const body = await readJson(req);
        if (!Array.isArray(body)) throw new FixtureError('the body must be a JSON array of events');
        const partitions = actions.append(body as EventHubEventInput[]);
        return [200, { appended: body.length, partitions }];
      },
    },
    '/__emulator/eventhub/faults': {
      POST: async (req) => [200, { faults: actions.setFaults(normalizeFaults(await readJson(req), 'faults')) }],
    },
  };
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const route = routes[path];
    if (!route) {
      req.resume();
      return send(res, 404, { message: `No such path: ${path}` });
    }
    const handler = route[req.method ?? ''];
    if (!handler) {
      req.resume();
      return send(res, 405, { message: `Method ${req.method ?? ''} is not allowed on ${path}` }, { allow: Object.keys(route).join(', ') });
    }
    actions.refresh();
    handler(req).then(
      ([status, body]) => send(res, status, body),
      (err: unknown) => {
        if (err instanceof FixtureError) send(res, 400, { message: err.message });
        else {
          process.stderr.write(`eventhub emulator: internal error: ${(err as Error).message}\n`);
          send(res, 500, { message: 'Internal emulator error' });
        }
      },
    );
  });
}
