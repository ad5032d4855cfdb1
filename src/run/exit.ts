/** Exit codes of the command-line contract (sysexits where one fits). */
export const EXIT = {
  ok: 0,
  failed: 1,
  changes: 2,
  partial: 3,
  usage: 64,
  unavailable: 69,
  locked: 75,
  config: 78,
  /** 128 + the signal's number, as shells report a process ended by it. */
  interruptedInt: 130,
  interruptedTerm: 143,
} as const;

export type PassStatus = 'ok' | 'partial' | 'failed' | 'locked' | 'refused' | 'interrupted';
