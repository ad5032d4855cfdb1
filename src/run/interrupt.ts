import { EXIT } from './exit.js';

/**
 * SIGTERM (Kubernetes eviction, `kill`) and SIGINT (Ctrl-C) as a request the pass honours at its
 * next safe point: before the commit it aborts the transaction, releases the lock, records the run
 * as interrupted and exits 143/130; once committed it finishes recording and printing and exits with
 * the pass's own code. A second signal ends the process at once.
 */
export interface Interruption {
  /** The signal received, or null. */
  readonly received: () => NodeJS.Signals | null;
  /** Aborted on the first signal: waits (a page, a retry) end early. */
  readonly signal: AbortSignal;
}

export class InterruptedError extends Error {
  constructor(readonly signalName: NodeJS.Signals) {
    super(`interrupted by ${signalName} before the commit: nothing was applied`);
    this.name = 'InterruptedError';
  }
  get exitCode(): number {
    return interruptExitCode(this.signalName);
  }
}

export function interruptExitCode(signal: NodeJS.Signals): number {
  return signal === 'SIGINT' ? EXIT.interruptedInt : EXIT.interruptedTerm;
}

/** Never interrupted: for callers (tests, benchmarks) that run a pass without signal handling. */
export const NO_INTERRUPTION: Interruption = { received: () => null, signal: new AbortController().signal };

/** Installs the handlers for this process; call once, before the pass starts. */
export function handleInterrupts(): Interruption {
  const controller = new AbortController();
  let received: NodeJS.Signals | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    if (received !== null) process.exit(interruptExitCode(signal));
    received = signal;
    controller.abort(new InterruptedError(signal));
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return { received: () => received, signal: controller.signal };
}

/** Throws InterruptedError if a signal arrived: called at the pass's safe points. */
export function checkInterrupted(interruption: Interruption): void {
  const signal = interruption.received();
  if (signal !== null) throw new InterruptedError(signal);
}
