/**
 * The SDK thread of a pass (sdk-threads.ts): sends the per-thing calls it is handed through its own
 * SDK clients and answers each with the little the pass reads from it. Pacing, retries and counting
 * stay with the pass.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { perThingSender } from './sdk-calls.js';
import { toWire, type SdkThreadSettings, type ThreadReply, type ThreadRequest } from './sdk-wire.js';

// As client.ts, for the clients of this thread (the SDK checks when its first client is made).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const port = parentPort!;
const send = perThingSender(workerData as SdkThreadSettings);

// Replies finished in one turn of the event loop go back in one message: a message costs a thread
// wake-up, which at tens of thousands of calls was a tenth of the pass's CPU.
let outbox: ThreadReply[] = [];
const flush = () => {
  const replies = outbox;
  outbox = [];
  port.postMessage(replies);
};
const reply = (r: ThreadReply) => {
  if (outbox.push(r) === 1) setImmediate(flush);
};

port.on('message', (requests: readonly ThreadRequest[]) => {
  for (const request of requests) {
    send(request.call).then(
      (answer) => reply({ id: request.id, answer }),
      (error: unknown) => reply({ id: request.id, failure: toWire(error) }),
    );
  }
});
