/**
 * Carrying out the plan of `navixy-customers`: all its closes, then all its establishes, each
 * verified by reading the customer's connections back. Up to --concurrency customers are acted on
 * at once; a customer's own requests go one after another, in the plan's order. A failed close is
 * retried once at once; a failed establish is recorded (the next pass plans it again). One
 * customer's failure never stops the others. What the read-backs showed replaces what the listing
 * said of those customers, so the validation checks the connections as they now are.
 *
 * Why at once: against a real service each action costs two round trips (the request and its
 * read-back); 625 actions one at a time at 100 ms a round trip took two minutes.
 */
import { mapConcurrent } from '../providers/concurrency.js';
import type { ForwarderClient } from '../providers/forwarder/client.js';
import type { ActionOutcome } from '../run/remote-actions.js';
import { isActive, type Connection, type CustomerVerdict, type NavixyLine } from '../reconcile/navixy.js';

export type ActionLine = Extract<NavixyLine, { kind: 'establish' | 'close' }>;

/** What became of one action: the pass's remote actions' outcomes (run/remote-actions.ts). */
export type NavixyOutcome = ActionOutcome;

export interface NavixyActionResult {
  readonly line: ActionLine;
  readonly outcome: NavixyOutcome;
}

export interface ActingContext {
  readonly client: ForwarderClient;
  readonly customers: ReadonlyMap<string, CustomerVerdict>;
  /** A signal arrived, or --max-duration passed (its name): the actions not yet started are skipped. */
  stopped(): string | null;
  /** Customers acted on at once. */
  readonly concurrency: number;
}

/** The connections as the pass now knows them: the listing, with each read-back customer's replaced. */
export class ConnectionModel {
  private readonly byRef = new Map<string, Connection[]>();

  constructor(listed: readonly Connection[]) {
    for (const c of listed) {
      const group = this.byRef.get(c.customerRef);
      if (group) group.push(c);
      else this.byRef.set(c.customerRef, [c]);
    }
  }

  replace(ref: string, connections: readonly Connection[]): void {
    this.byRef.set(ref, [...connections]);
  }

  all(): Connection[] {
    return [...this.byRef.values()].flat();
  }
}

export async function performNavixyActions(lines: readonly ActionLine[], ctx: ActingContext, model: ConnectionModel): Promise<NavixyActionResult[]> {
  const outcomes = new Array<NavixyOutcome>(lines.length);
  const closeFailed = new Set<string>();
  const notRun = (): NavixyOutcome | null => {
    const signal = ctx.stopped();
    if (signal === null) return null;
    return { status: 'skipped', reason: signal === '--max-duration' ? 'not run: stopped at --max-duration' : `not run: interrupted by ${signal}` };
  };
  // Closes first, every one of them: a customer's establish waits for its close, and the service
  // refuses a second active connection.
  await forEachCustomer(lines, 'close', ctx.concurrency, async (line, index) => {
    const outcome = notRun() ?? (await closeWithOneRetry(line as Extract<ActionLine, { kind: 'close' }>, ctx, model));
    if (outcome.status === 'failed') closeFailed.add(line.ref);
    outcomes[index] = outcome;
  });
  await forEachCustomer(lines, 'establish', ctx.concurrency, async (line, index) => {
    if (closeFailed.has(line.ref)) {
      outcomes[index] = { status: 'skipped', reason: 'not attempted: closing its connection with the earlier hash failed' };
      return;
    }
    outcomes[index] = notRun() ?? (await establish(line as Extract<ActionLine, { kind: 'establish' }>, ctx, model));
  });
  return lines.map((line, index) => ({ line, outcome: outcomes[index]! }));
}

/**
 * `act` on every line of `kind`, customers up to `concurrency` at once, each customer's lines one
 * after another in the plan's order (a customer may have several closes: duplicates).
 */
async function forEachCustomer(
  lines: readonly ActionLine[],
  kind: ActionLine['kind'],
  concurrency: number,
  act: (line: ActionLine, index: number) => Promise<void>,
): Promise<void> {
  const byCustomer = new Map<string, number[]>();
  lines.forEach((line, index) => {
    if (line.kind !== kind) return;
    const indexes = byCustomer.get(line.ref);
    if (indexes) indexes.push(index);
    else byCustomer.set(line.ref, [index]);
  });
  await mapConcurrent([...byCustomer.values()], concurrency, async (indexes) => {
    for (const index of indexes) await act(lines[index]!, index);
  });
}

async function closeWithOneRetry(line: Extract<ActionLine, { kind: 'close' }>, ctx: ActingContext, model: ConnectionModel): Promise<NavixyOutcome> {
  const first = await closeOnce(line, ctx, model);
  if (first.status !== 'failed') return first;
  const second = await closeOnce(line, ctx, model);
  if (second.status === 'failed') return { status: 'failed', error: `${second.error} (retried once after: ${first.error})` };
  return { status: 'done', message: `${second.message}, at the second attempt (the first: ${first.error})` };
}

async function closeOnce(line: Extract<ActionLine, { kind: 'close' }>, ctx: ActingContext, model: ConnectionModel): Promise<Exclude<NavixyOutcome, { status: 'skipped' }>> {
  let answer;
  try {
    answer = await ctx.client.close(line.connectionId, line.ref);
  } catch (error) {
    return { status: 'failed', error: messageOf(error) };
  }
  const check = await readBack(line.ref, ctx, model);
  if ('error' in check) return { status: 'failed', error: `closed, but not verified: ${check.error}` };
  const still = check.connections.find((c) => c.id === line.connectionId && isActive(c));
  if (still) return { status: 'failed', error: `the service answered ${answer.status === 'ok' ? 'closed' : 'not found'}, yet connection ${line.connectionId} is still ${still.status}` };
  return { status: 'done', message: answer.status === 'not-found' ? 'already closed' : 'closed' };
}

async function establish(line: Extract<ActionLine, { kind: 'establish' }>, ctx: ActingContext, model: ConnectionModel): Promise<NavixyOutcome> {
  const verdict = ctx.customers.get(line.ref);
  if (!verdict?.hash) return { status: 'failed', error: 'the customer has no hash in the snapshot' };
  let answer;
  try {
    answer = await ctx.client.establish(line.ref, verdict.hash);
  } catch (error) {
    return { status: 'failed', error: `${messageOf(error)}; planned again next pass` };
  }
  const check = await readBack(line.ref, ctx, model);
  if ('error' in check) return { status: 'failed', error: `established, but not verified: ${check.error}` };
  const live = check.connections.find((c) => isActive(c) && c.hashSha256 === verdict.hashSha256);
  if (!live) {
    const created = answer.status === 'ok' ? answer.connection : null;
    const what = answer.status === 'conflict' ? 'refused it as a conflict' : `answered ${created ? `connection ${created.id} (${created.status})` : 'without a connection'}`;
    return { status: 'failed', error: `the service ${what}, yet the customer has no active connection on its current hash; planned again next pass` };
  }
  return { status: 'done', message: answer.status === 'conflict' ? `already connected (${live.id})` : `established ${live.id} (${live.status})` };
}

async function readBack(ref: string, ctx: ActingContext, model: ConnectionModel): Promise<{ connections: Connection[] } | { error: string }> {
  try {
    const connections = await ctx.client.customerConnections(ref);
    model.replace(ref, connections);
    return { connections };
  } catch (error) {
    return { error: messageOf(error) };
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
