/**
 * A run killed at any point of taking the file lock must not keep the next run out: the next run
 * gets the lock at once (well under a second), and while the first run is alive it never does.
 *
 * Each test runs the real acquisition in a child process, frozen at one step by the test-only
 * PORTAL_SYNC_LOCK_TEST_STOP_AT hook (src/run/lock-test-point.ts), then kills it with SIGKILL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireFileLock, LockHeldError, type HeldLock } from '../../src/run/lock.js';
import { builtModule } from '../support/built.js';

const LOCK_MODULE = builtModule('src/run/lock.ts');

/** Takes the `devices` lock in argv[1]; once held, says so and keeps it (and its refresh timer) until killed. */
const CHILD = `
const { acquireFileLock } = await import(${JSON.stringify(LOCK_MODULE)});
try {
  await acquireFileLock({ command: 'devices', lockDir: process.argv[1] });
  process.stderr.write('granted\\n');
  setInterval(() => {}, 60_000);
} catch (err) {
  process.stderr.write('refused: ' + err.message + '\\n');
  process.exitCode = 75;
}`;

interface Child {
  readonly process: ChildProcess;
  readonly pid: number;
  stderr(): string;
  /** SIGKILL, and wait until it is gone. */
  kill(): Promise<void>;
}

const children: Child[] = [];

/** Polls `cond` every 10 ms until it holds or `ms` ran out; never a fixed sleep. */
async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Starts a child that takes the lock and waits until it reports `marker` (it stopped at a step, or holds the lock). */
async function childAt(lockDir: string, stopAt: string | null, marker: string): Promise<Child> {
  const env = { ...process.env };
  delete env.PORTAL_SYNC_LOCK_TEST_STOP_AT;
  if (stopAt) env.PORTAL_SYNC_LOCK_TEST_STOP_AT = stopAt;
  const proc = spawn(process.execPath, ['--input-type=module', '-e', CHILD, lockDir], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const child: Child = {
    process: proc,
    pid: proc.pid!,
    stderr: () => stderr,
    kill: async () => {
      proc.kill('SIGKILL');
      await exited;
    },
  };
  children.push(child);
  await until(() => stderr.includes(marker) || proc.exitCode !== null, 10_000, `the child to report "${marker}"`);
  expect(stderr, 'the child did not get to the step').toContain(marker);
  return child;
}

/** Takes the lock, retrying while it is held, for at most `ms`; returns how long that took. */
async function acquireWithin(lockDir: string, ms: number): Promise<{ lock: HeldLock; elapsedMs: number }> {
  const started = performance.now();
  for (;;) {
    try {
      const lock = await acquireFileLock({ command: 'devices', lockDir });
      return { lock, elapsedMs: performance.now() - started };
    } catch (err) {
      if (!(err instanceof LockHeldError) || performance.now() - started > ms) throw err;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

async function expectHeld(lockDir: string): Promise<LockHeldError> {
  const err = await acquireFileLock({ command: 'devices', lockDir }).then(
    async (lock) => {
      await lock.release();
      throw new Error('the lock was granted while a live process was taking or holding it');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(LockHeldError);
  return err as LockHeldError;
}

describe('file lock: a run killed while taking the lock', () => {
  let lockDir: string;
  const held: HeldLock[] = [];

  beforeEach(async () => {
    lockDir = path.join(await fsp.mkdtemp(path.join(os.tmpdir(), 'portal-sync-crash-')), 'locks');
  });
  afterEach(async () => {
    for (const c of children.splice(0)) await c.kill();
    for (const l of held.splice(0)) await l.release();
    await fsp.rm(path.dirname(lockDir), { recursive: true, force: true });
  });

  it('holding the guard while removing a dead lock: a live one is respected, a killed one is no obstacle', async () => {
    // The guard is taken to remove an abandoned lock: leave one behind first.
    await (await childAt(lockDir, null, 'granted')).kill();
    const child = await childAt(lockDir, 'guard', 'lock test point: guard');

    await expectHeld(lockDir);
    await child.kill();
    const { lock, elapsedMs } = await acquireWithin(lockDir, 1000);
    held.push(lock);
    expect(elapsedMs).toBeLessThan(1000);
  });

  it('with its lock built aside, not yet in place: the next run gets the lock at once', async () => {
    const child = await childAt(lockDir, 'prepared', 'lock test point: prepared');
    await child.kill();
    const { lock, elapsedMs } = await acquireWithin(lockDir, 1000);
    held.push(lock);
    expect(elapsedMs).toBeLessThan(1000);
  });

  it('with the lock directory just created: it already names its holder, and a killed holder is no obstacle', async () => {
    const child = await childAt(lockDir, 'created', 'lock test point: created');
    const err = await expectHeld(lockDir);
    expect(err.info.holder).toBe(`pid ${child.pid} on host ${os.hostname()}`);
    expect(err.info.since).toBeInstanceOf(Date);

    await child.kill();
    const { lock, elapsedMs } = await acquireWithin(lockDir, 1000);
    held.push(lock);
    expect(elapsedMs).toBeLessThan(1000);
  });

  it('while holding the lock: a live holder is named and kept, a killed one is no obstacle', async () => {
    const child = await childAt(lockDir, null, 'granted');
    const err = await expectHeld(lockDir);
    expect(err.info.holder).toBe(`pid ${child.pid} on host ${os.hostname()}`);

    await child.kill();
    const { lock, elapsedMs } = await acquireWithin(lockDir, 1000);
    held.push(lock);
    expect(elapsedMs).toBeLessThan(1000);
  });

  it('leaves nothing behind once the next run has released the lock', async () => {
    for (const step of ['prepared', 'created']) await (await childAt(lockDir, step, `lock test point: ${step}`)).kill();
    await (await childAt(lockDir, null, 'granted')).kill();
    await (await childAt(lockDir, 'guard', 'lock test point: guard')).kill();
    const { lock } = await acquireWithin(lockDir, 1000);
    await lock.release();
    expect(await fsp.readdir(lockDir)).toEqual([]);
  });
});

describe('file lock: runs racing for one lock', () => {
  let lockDir: string;
  beforeEach(async () => {
    lockDir = path.join(await fsp.mkdtemp(path.join(os.tmpdir(), 'portal-sync-race-')), 'locks');
  });
  afterEach(async () => {
    for (const c of children.splice(0)) await c.kill();
    await fsp.rm(path.dirname(lockDir), { recursive: true, force: true });
  });

  it('exactly one of several processes recovering the same dead lock gets it', async () => {
    await (await childAt(lockDir, null, 'granted')).kill();
    const racers = await Promise.all(Array.from({ length: 6 }, () => childAt(lockDir, null, '\n')));
    await until(() => racers.every((r) => /granted|refused/.test(r.stderr())), 10_000, 'every racer to finish trying');
    const winners = racers.filter((r) => r.stderr().includes('granted'));
    expect(winners).toHaveLength(1);
    for (const r of racers.filter((x) => x !== winners[0])) expect(r.stderr()).toContain('is already running');
  });

  it('exactly one of several acquisitions in one process gets it', async () => {
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => acquireFileLock({ command: 'devices', lockDir })));
    const granted = results.filter((r): r is PromiseFulfilledResult<HeldLock> => r.status === 'fulfilled');
    expect(granted).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(LockHeldError);
    await granted[0]!.value.release();
  });

  it('a run ended by SIGTERM removes its lock on the way out', async () => {
    const child = await childAt(lockDir, null, 'granted');
    child.process.kill('SIGTERM');
    await until(() => child.process.exitCode !== null || child.process.signalCode !== null, 5000, 'the child to exit');
    expect(existsSync(path.join(lockDir, 'devices.lock'))).toBe(false);
  });
});
