/**
 * The guard: a short-lived owned directory beside a lock that makes removing an abandoned lock
 * one run's job. Without it, two runs that both found the same dead lock could both remove "it",
 * and the second would remove the lock the first had just taken.
 *
 * It is held for milliseconds. Like the lock it names its owner from the moment it exists, so a
 * guard left by a run killed on this host is removed at once; one from another host, whose pid
 * cannot be checked from here, once it is GUARD_STALE_MS old.
 */
import { lockTestPoint } from './lock-test-point.js';
import { createOwned, inspectOwned, isAbandoned, markHeld, newOwner, removeOwned, sameIncarnation } from './owned-dir.js';

const GUARD_STALE_MS = 10_000;
const GUARD_ATTEMPTS = 200;
const GUARD_DELAY_MS = 10;

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Runs `fn` holding the guard; undefined when a live run kept it for all of the ~2 s of attempts. */
export async function withGuard<T>(guardPath: string, fn: () => Promise<T>): Promise<{ value: T } | undefined> {
  const owner = newOwner();
  const { token } = owner;
  markHeld(token, true);
  try {
    for (let attempt = 0; attempt < GUARD_ATTEMPTS; attempt++) {
      if (await createOwned(guardPath, owner)) {
        try {
          lockTestPoint('guard');
          return { value: await fn() };
        } finally {
          await removeOwned(guardPath, (s) => s.owner?.token === token).catch(() => undefined);
        }
      }
      const seen = await inspectOwned(guardPath);
      if (!seen) continue; // gone meanwhile: try again at once
      if (isAbandoned(seen, seen.owner, GUARD_STALE_MS)) await removeOwned(guardPath, (s) => sameIncarnation(s, seen));
      else await delay(GUARD_DELAY_MS);
    }
    return undefined;
  } finally {
    markHeld(token, false);
  }
}
