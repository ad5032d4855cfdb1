/**
 * TEST-ONLY fault injection for the file lock. With PORTAL_SYNC_LOCK_TEST_STOP_AT=<step> set, a
 * process that reaches <step> while acquiring a file lock says so on stderr and stops itself
 * (SIGSTOP): a test can then check that the process, alive but frozen there, is never taken over,
 * and that once it is killed (SIGKILL) at that very point the next run gets the lock at once.
 * Without the variable this is a no-op; nothing but tests sets it.
 */
import { writeSync } from 'node:fs';

/**
 * guard: holding the guard, about to remove an abandoned lock;
 * prepared: our lock directory, owner record inside, is built aside but not in place yet;
 * created: the lock directory is in place, proper-lockfile has not finished taking it.
 */
export type LockTestStep = 'guard' | 'prepared' | 'created';

export function lockTestPoint(step: LockTestStep): void {
  if (process.env.PORTAL_SYNC_LOCK_TEST_STOP_AT !== step) return;
  writeSync(2, `lock test point: ${step}\n`);
  process.kill(process.pid, 'SIGSTOP');
}
