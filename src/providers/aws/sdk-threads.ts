/**
 * Where a pass's per-thing calls (DescribeThing, GetThingShadow) are sent from: the pass's own thread
 * at first, then, once the pass has shown itself big, worker threads (sdk-thread.ts), each through
 * SDK clients of its own (sdk-calls.ts), each call to the thread with the fewest in flight.
 *
 * Why: a first `things` pass makes one or two calls per thing, and each costs the SDK's request
 * pipeline (serde, endpoint resolution, SigV4) far more CPU than the pass's own work on the answer
 * (bench/aws-client.ts). On one thread that pipeline bounded the pass whenever AWS answered faster
 * than the SDK could ask. A worker costs memory (its own SDK) and a start-up, so a pass with few
 * calls to make never starts one. The workers only send: pacing, retries, counting and the
 * classification of failures stay with the pass (client.ts), so --rate, --max-retries and the call
 * counts mean what they meant.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { ProviderError } from '../errors.js';
import { perThingSender, type PerThingSend } from './sdk-calls.js';
import { fromWire, type SdkThreadSettings, type ThreadAnswer, type ThreadCall, type ThreadReply, type ThreadRequest } from './sdk-wire.js';

/** Two workers; none on a one-core machine, where they would only take turns with the pass. */
export const DEFAULT_SDK_THREADS = availableParallelism() >= 2 ? 2 : 0;

/**
 * Calls the pass's own thread makes before the workers start: a steady-state or churn pass (a few
 * thousand calls at most) stays on one thread and in its memory; a first pass over a large account
 * spills to the workers after its first pages.
 */
export const CALLS_BEFORE_THREADS = 2_000;

/**
 * The thread's module beside this one. Tests run this module from its TypeScript source, which a
 * worker cannot load: there the thread runs the build of the same file (`npm test` builds first).
 */
const THREAD_MODULE = import.meta.url.endsWith('.ts')
  ? new URL(import.meta.url.replace('/src/providers/aws/sdk-threads.ts', '/dist/src/providers/aws/sdk-thread.js'))
  : new URL('./sdk-thread.js', import.meta.url);

interface Sender {
  /** Calls in flight; a stopped thread's is infinite, so it is never picked. */
  readonly load: number;
  send(call: ThreadCall): Promise<ThreadAnswer>;
  close(): Promise<void>;
}

/** The pass's own thread. */
class LocalSender implements Sender {
  load = 0;
  private readonly sendCall: PerThingSend;

  constructor(settings: SdkThreadSettings) {
    this.sendCall = perThingSender(settings);
  }

  async send(call: ThreadCall): Promise<ThreadAnswer> {
    this.load++;
    try {
      return await this.sendCall(call);
    } finally {
      this.load--;
    }
  }

  async close(): Promise<void> {}
}

interface Pending {
  readonly resolve: (answer: ThreadAnswer) => void;
  readonly reject: (error: Error) => void;
}

class ThreadSender implements Sender {
  private readonly pending = new Map<number, Pending>();
  private outbox: ThreadRequest[] = [];
  private nextId = 1;
  private stopped: Error | null = null;

  constructor(private readonly worker: Worker) {
    // An idle thread never keeps the process alive; one with calls in flight does (see send).
    worker.unref();
    worker.on('message', (replies: readonly ThreadReply[]) => {
      for (const reply of replies) {
        const call = this.pending.get(reply.id);
        if (!call) continue;
        this.pending.delete(reply.id);
        if ('answer' in reply) call.resolve(reply.answer);
        else call.reject(fromWire(reply.failure));
      }
      if (this.pending.size === 0) worker.unref();
    });
    worker.on('error', (error) => this.stop(error));
    worker.on('exit', (code) => this.stop(new Error(`exited with code ${code}`)));
  }

  get load(): number {
    return this.stopped ? Number.POSITIVE_INFINITY : this.pending.size;
  }

  send(call: ThreadCall): Promise<ThreadAnswer> {
    if (this.stopped) return Promise.reject(this.stopped);
    const id = this.nextId++;
    return new Promise<ThreadAnswer>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.ref();
      // Calls made in one turn of the event loop go in one message (see sdk-thread.ts).
      if (this.outbox.push({ id, call }) === 1) setImmediate(() => this.flush());
    });
  }

  async close(): Promise<void> {
    this.stop(new Error('the pass closed it'));
    await this.worker.terminate();
  }

  private flush(): void {
    const requests = this.outbox;
    this.outbox = [];
    if (!this.stopped) this.worker.postMessage(requests);
  }

  /** A thread that died fails what it had in flight and everything sent after: never a hang. */
  private stop(cause: Error): void {
    if (this.stopped) return;
    this.stopped = new ProviderError('aws', 'protocol', `the SDK thread of the pass stopped: ${cause.message}`);
    for (const call of this.pending.values()) call.reject(this.stopped);
    this.pending.clear();
    this.worker.unref();
  }
}

export interface SdkThreadOptions {
  /** Workers to spill to (0: the pass's thread alone); default {@link DEFAULT_SDK_THREADS}. */
  readonly threads?: number;
  /** Calls made on the pass's thread before the workers start; default {@link CALLS_BEFORE_THREADS}. */
  readonly callsBeforeThreads?: number;
  /** The workers' module (tests); default sdk-thread.js beside this one. */
  readonly module?: URL;
}

export class SdkThreads {
  private readonly local: LocalSender;
  private threads: ThreadSender[] = [];
  private localCalls = 0;

  constructor(
    private readonly settings: SdkThreadSettings,
    private readonly options: SdkThreadOptions = {},
  ) {
    const threads = options.threads ?? DEFAULT_SDK_THREADS;
    if (!Number.isInteger(threads) || threads < 0) throw new RangeError(`SDK threads: a whole number, got ${threads}`);
    this.local = new LocalSender(settings);
  }

  /** One call: on the pass's thread while the pass is small, then on the worker with the fewest in flight. */
  send(call: ThreadCall): Promise<ThreadAnswer> {
    const threads = this.options.threads ?? DEFAULT_SDK_THREADS;
    if (this.threads.length === 0 && (threads === 0 || this.localCalls < (this.options.callsBeforeThreads ?? CALLS_BEFORE_THREADS))) {
      this.localCalls++;
      return this.local.send(call);
    }
    if (this.threads.length === 0) {
      const module = this.options.module ?? THREAD_MODULE;
      this.threads = Array.from({ length: threads }, () => new ThreadSender(new Worker(module, { workerData: this.settings })));
    }
    let least = this.threads[0]!;
    for (const thread of this.threads) if (thread.load < least.load) least = thread;
    return least.send(call);
  }

  /** Whether the workers were started (tests, and the run's figures). */
  get spilled(): boolean {
    return this.threads.length > 0;
  }

  async close(): Promise<void> {
    await Promise.all([this.local, ...this.threads].map((s) => s.close()));
  }
}
