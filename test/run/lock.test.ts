import { spawn } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  acquireFileLock,
  acquirePostgresLock,
  ADVISORY_HOLDER_SQL,
  advisoryLockKey,
  LockHeldError,
  type HeldLock,
} from '../../src/run/lock.js';
import { postgresAvailable, requireOrSkip } from '../support/services.js';

async function expectHeld(p: Promise<unknown>): Promise<LockHeldError> {
  const err = await p.then(
    () => {
      throw new Error('expected LockHeldError, the lock was granted');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(LockHeldError);
  return err as LockHeldError;
}

/** Polls `cond` every `intervalMs`, at most `attempts` times. */
async function waitFor(cond: () => boolean, attempts: number, intervalMs: number): Promise<boolean> {
  for (let i = 0; i < attempts; i++) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  return cond();
}

describe('LockHeldError', () => {
  it('says in one line who holds the lock since when', () => {
    const err = new LockHeldError({ command: 'devices', since: new Date('2026-11-23T10:00:00.000Z'), holder: 'pid 123 on host h' });
    expect(err.message).toBe(
      'portal-sync devices is already running (lock held since 2026-11-23T10:00:00.000Z by pid 123 on host h); try again later',
    );
    expect(err.name).toBe('LockHeldError');
    expect(new LockHeldError({ command: 'things', since: null, holder: null }).message).toBe(
      'portal-sync things is already running (lock held); try again later',
    );
  });
});

describe('file lock', () => {
  let lockDir: string;
  const held: HeldLock[] = [];

  beforeEach(async () => {
    lockDir = path.join(await fsp.mkdtemp(path.join(os.tmpdir(), 'portal-sync-lock-')), 'nested', 'locks');
  });
  afterEach(async () => {
    for (const l of held.splice(0)) await l.release();
    await fsp.rm(path.dirname(path.dirname(lockDir)), { recursive: true, force: true });
  });

  it('acquires (creating the lock dir), records the owner, releases idempotently', async () => {
    const lock = await acquireFileLock({ command: 'devices', lockDir });
    held.push(lock);
    expect(lock.kind).toBe('file');
    expect(lock.compromised()).toBeNull();
    expect(existsSync(path.join(lockDir, 'devices.lock'))).toBe(true);
    // The owner record is inside the lock directory: the two come into existence together.
    const owner = JSON.parse(await fsp.readFile(path.join(lockDir, 'devices.lock', 'owner.json'), 'utf8'));
    expect(owner).toMatchObject({ pid: process.pid, hostname: os.hostname() });
    expect(new Date(owner.since).getTime()).toBeLessThanOrEqual(Date.now());

    await lock.release();
    await lock.release();
    expect(existsSync(path.join(lockDir, 'devices.lock'))).toBe(false);
    expect(existsSync(path.join(lockDir, 'devices.owner.json'))).toBe(false);

    const again = await acquireFileLock({ command: 'devices', lockDir });
    held.push(again);
  });

  it('refuses a second acquisition with the holder and since, other commands are independent', async () => {
    const before = Date.now();
    const lock = await acquireFileLock({ command: 'devices', lockDir });
    held.push(lock);
    const err = await expectHeld(acquireFileLock({ command: 'devices', lockDir }));
    expect(err.info.command).toBe('devices');
    expect(err.info.holder).toBe(`pid ${process.pid} on host ${os.hostname()}`);
    expect(err.info.since).toBeInstanceOf(Date);
    expect(err.info.since!.getTime()).toBeGreaterThanOrEqual(before - 5);
    expect(err.message).toContain('portal-sync devices is already running (lock held since ');
    expect(err.message).toMatch(/; try again later$/);

    const other = await acquireFileLock({ command: 'things', lockDir });
    held.push(other);
    expect(other.compromised()).toBeNull();
  });

  it('uses a safe file name for commands with spaces', async () => {
    const lock = await acquireFileLock({ command: 'metrics push', lockDir });
    held.push(lock);
    expect(existsSync(path.join(lockDir, 'metrics-push.lock'))).toBe(true);
    await expectHeld(acquireFileLock({ command: 'metrics push', lockDir }));
  });

  // What a holder leaves behind: this version keeps the owner record inside the lock directory,
  // earlier versions kept it beside an empty one. Both are understood.
  for (const layout of ['current', 'earlier'] as const) {
    const leaveLock = async (owner: { pid: number; hostname: string; since: string } | null) => {
      const lockPath = path.join(lockDir, 'devices.lock');
      await fsp.mkdir(lockPath, { recursive: true });
      if (owner) {
        const file = layout === 'current' ? path.join(lockPath, 'owner.json') : path.join(lockDir, 'devices.owner.json');
        await fsp.writeFile(file, JSON.stringify(owner));
      }
    };
    const ownerNow = async () => JSON.parse(await fsp.readFile(path.join(lockDir, 'devices.lock', 'owner.json'), 'utf8'));

    it(`recovers at once a lock left by a dead process on this host (${layout} layout)`, async () => {
      const child = spawn(process.execPath, ['-e', '']);
      const deadPid = child.pid!;
      await new Promise<void>((resolve) => child.once('exit', () => resolve()));

      // What a crashed holder leaves behind: a fresh lock dir (not stale by mtime) and its owner record.
      await leaveLock({ pid: deadPid, hostname: os.hostname(), since: new Date().toISOString() });

      const lock = await acquireFileLock({ command: 'devices', lockDir });
      held.push(lock);
      expect((await ownerNow()).pid).toBe(process.pid);
      expect(existsSync(path.join(lockDir, 'devices.owner.json'))).toBe(false);
    });

    it(`recovers a lock recorded under our own pid that this process does not hold, a restarted container (${layout} layout)`, async () => {
      await leaveLock({ pid: process.pid, hostname: os.hostname(), since: '2026-11-23T10:00:00.000Z' });
      const lock = await acquireFileLock({ command: 'devices', lockDir });
      held.push(lock);
      // ...but while we do hold it, our own pid is a live holder
      await expectHeld(acquireFileLock({ command: 'devices', lockDir }));
    });

    it(`does not take over a fresh lock of a live process or of another host (${layout} layout)`, async () => {
      const since = '2026-11-23T10:00:00.000Z';
      // pid 1 is alive (EPERM or not, it exists)
      await leaveLock({ pid: 1, hostname: os.hostname(), since });
      const err = await expectHeld(acquireFileLock({ command: 'devices', lockDir }));
      expect(err.info.holder).toBe(`pid 1 on host ${os.hostname()}`);
      expect(err.info.since?.toISOString()).toBe(since);

      // a pid that is surely dead, but on another host: only mtime staleness may free it
      await leaveLock({ pid: 2 ** 22 + 12345, hostname: `not-${os.hostname()}`, since });
      const err2 = await expectHeld(acquireFileLock({ command: 'devices', lockDir }));
      expect(err2.info.holder).toBe(`pid ${2 ** 22 + 12345} on host not-${os.hostname()}`);
    });
  }

  it('keeps an owner-less lock for 2 s, in case its maker is about to record itself, and takes it over after', async () => {
    // Only something else makes those: an earlier version between its mkdir and its owner record, a person.
    const lockPath = path.join(lockDir, 'devices.lock');
    await fsp.mkdir(lockPath, { recursive: true });
    const err = await expectHeld(acquireFileLock({ command: 'devices', lockDir }));
    expect(err.info.holder).toBeNull();

    const before = new Date(Date.now() - 2500);
    await fsp.utimes(lockPath, before, before);
    const lock = await acquireFileLock({ command: 'devices', lockDir });
    held.push(lock);
    expect(lock.compromised()).toBeNull();
  });

  it('takes over a lock whose mtime went stale (proper-lockfile staleness)', async () => {
    const lockPath = path.join(lockDir, 'devices.lock');
    await fsp.mkdir(lockPath, { recursive: true });
    const old = new Date(Date.now() - 60_000);
    await fsp.utimes(lockPath, old, old);
    const lock = await acquireFileLock({ command: 'devices', lockDir, staleMs: 5000 });
    held.push(lock);
    expect(lock.compromised()).toBeNull();
  });

  for (const layout of ['current', 'earlier'] as const) {
    it(`release never removes a lock that is no longer its own (taken over by the ${layout} layout)`, async () => {
      const lock = await acquireFileLock({ command: 'devices', lockDir });
      held.push(lock);
      // Taken over (it looked stale from another host, say) before our refresh timer noticed.
      const lockPath = path.join(lockDir, 'devices.lock');
      await fsp.rm(lockPath, { recursive: true });
      await fsp.mkdir(lockPath);
      const theirs = { pid: 4242, hostname: `not-${os.hostname()}`, since: new Date().toISOString(), token: 'theirs' };
      const ownerFile = layout === 'current' ? path.join(lockPath, 'owner.json') : path.join(lockDir, 'devices.owner.json');
      await fsp.writeFile(ownerFile, JSON.stringify(theirs));

      await lock.release();
      expect(existsSync(lockPath)).toBe(true);
      expect(JSON.parse(await fsp.readFile(ownerFile, 'utf8'))).toEqual(theirs);
    });
  }

  it('reports a compromised lock through compromised() instead of crashing', async () => {
    const lock = await acquireFileLock({ command: 'devices', lockDir, staleMs: 2000 });
    held.push(lock);
    expect(lock.compromised()).toBeNull();
    // Someone removes the lock under our feet; the update timer (every ~1 s) notices.
    await fsp.rm(path.join(lockDir, 'devices.lock'), { recursive: true });
    const noticed = await waitFor(() => lock.compromised() !== null, 100, 50);
    expect(noticed).toBe(true);
    expect(lock.compromised()!.message).toContain('portal-sync devices');
    expect(lock.compromised()!.message).toContain('lost');
    // release after compromise does not throw
    await lock.release();
    await lock.release();
  });
});

describe('PostgreSQL lock errors', () => {
  it('never puts the password of the connection string in errors', async () => {
    const err = await acquirePostgresLock({
      command: 'devices',
      connectionString: 'postgres://portal:s3cr3t-pw@127.0.0.1:1/portal',
    }).then(
      () => null,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toContain('127.0.0.1:1/portal');
    expect(err!.message).not.toContain('s3cr3t-pw');
    expect(err!.message).not.toContain('portal:s3cr3t');
  });
});

const pgCheck = await postgresAvailable();
const havePg = requireOrSkip('PostgreSQL advisory lock tests', pgCheck);
const pgUrl = pgCheck.ok ? pgCheck.url : '';

describe.runIf(havePg)('PostgreSQL advisory lock', () => {
  const held: HeldLock[] = [];
  const clients: pg.Client[] = [];
  afterEach(async () => {
    for (const l of held.splice(0)) await l.release();
    for (const c of clients.splice(0)) await c.end().catch(() => undefined);
  });
  afterAll(async () => {
    for (const l of held.splice(0)) await l.release();
  });

  const unique = () => `test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

  async function backendPidOf(applicationName: string): Promise<number[]> {
    const c = new pg.Client({ connectionString: pgUrl });
    clients.push(c);
    await c.connect();
    const res = await c.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [applicationName]);
    return res.rows.map((r) => r.pid);
  }

  it('derives a stable signed 64-bit key per command', () => {
    expect(advisoryLockKey('devices')).toBe(advisoryLockKey('devices'));
    expect(advisoryLockKey('devices')).not.toBe(advisoryLockKey('things'));
    for (const cmd of ['devices', 'things', 'edge', 'metrics push']) {
      const k = BigInt(advisoryLockKey(cmd));
      expect(k >= -(2n ** 63n) && k < 2n ** 63n).toBe(true);
    }
  });

  it('conflicts on the same command, names the holder, and is free again after release', async () => {
    const command = unique();
    const before = new Date(Date.now() - 1000);
    const first = await acquirePostgresLock({ command, connectionString: pgUrl });
    held.push(first);
    expect(first.kind).toBe('postgres');
    expect(first.compromised()).toBeNull();

    const [holderPid] = await backendPidOf(`portal-sync ${command}`);
    expect(holderPid).toBeTypeOf('number');

    const err = await expectHeld(acquirePostgresLock({ command, connectionString: pgUrl }));
    expect(err.info.command).toBe(command);
    expect(err.info.holder).toBe(`pid ${holderPid} (portal-sync ${command}) from 127.0.0.1`);
    expect(err.info.since).toBeInstanceOf(Date);
    expect(err.info.since!.getTime()).toBeGreaterThanOrEqual(before.getTime());
    expect(err.message).toContain(`portal-sync ${command} is already running (lock held since `);
    // the refused attempt closed its connection: only the holder's session is left
    expect(await backendPidOf(`portal-sync ${command}`)).toEqual([holderPid]);

    await first.release();
    await first.release();
    const second = await acquirePostgresLock({ command, connectionString: pgUrl });
    held.push(second);
    expect(second.compromised()).toBeNull();
  });

  it('does not conflict across commands', async () => {
    const a = await acquirePostgresLock({ command: unique(), connectionString: pgUrl });
    held.push(a);
    const b = await acquirePostgresLock({ command: unique(), connectionString: pgUrl });
    held.push(b);
    expect(a.compromised()).toBeNull();
    expect(b.compromised()).toBeNull();
  });

  it('finds the holder row for keys across the whole signed 64-bit range', async () => {
    // high bit set in classid / objid, both halves, negative keys: the classid/objid recombination must be exact
    const keys = ['-1', '-9223372036854775808', '9223372036854775807', '4294967295', '4294967296', '-4294967296', '2147483648', advisoryLockKey(unique())];
    const holder = new pg.Client({ connectionString: pgUrl, application_name: 'portal-sync key test' });
    clients.push(holder);
    await holder.connect();
    const [{ pid }] = (await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows;
    const observer = new pg.Client({ connectionString: pgUrl });
    clients.push(observer);
    await observer.connect();
    for (const key of keys) {
      expect((await holder.query('SELECT pg_try_advisory_lock($1::bigint) AS ok', [key])).rows[0].ok).toBe(true);
      const rows = (await observer.query(ADVISORY_HOLDER_SQL, [key])).rows;
      expect(rows, `key ${key}`).toHaveLength(1);
      expect(rows[0].pid).toBe(pid);
      expect(rows[0].application_name).toBe('portal-sync key test');
      await holder.query('SELECT pg_advisory_unlock($1::bigint)', [key]);
      expect((await observer.query(ADVISORY_HOLDER_SQL, [key])).rows).toHaveLength(0);
    }
    // the two-int4 form with the same halves is a different lock and must not match
    const key = advisoryLockKey(unique());
    const big = BigInt(key);
    const hi = Number(BigInt.asIntN(32, big >> 32n));
    const lo = Number(BigInt.asIntN(32, big));
    expect((await holder.query('SELECT pg_try_advisory_lock($1::int, $2::int) AS ok', [hi, lo])).rows[0].ok).toBe(true);
    expect((await observer.query(ADVISORY_HOLDER_SQL, [key])).rows).toHaveLength(0);
    await holder.query('SELECT pg_advisory_unlock($1::int, $2::int)', [hi, lo]);
  });

  it('reports a lost session through compromised()', async () => {
    const command = unique();
    const lock = await acquirePostgresLock({ command, connectionString: pgUrl });
    held.push(lock);
    const [holderPid] = await backendPidOf(`portal-sync ${command}`);
    const admin = new pg.Client({ connectionString: pgUrl });
    clients.push(admin);
    await admin.connect();
    await admin.query('SELECT pg_terminate_backend($1)', [holderPid]);
    expect(await waitFor(() => lock.compromised() !== null, 100, 50)).toBe(true);
    expect(lock.compromised()!.message).toContain(`portal-sync ${command}`);
    await lock.release();
    // and the lock is free for the next run
    const next = await acquirePostgresLock({ command, connectionString: pgUrl });
    held.push(next);
  });
});
