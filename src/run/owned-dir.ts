/**
 * A directory that names its owner from the moment it exists. The file lock and its guard are
 * such directories, with the owner record (owner.json) inside.
 *
 * One is built aside (a temporary directory with owner.json in it) and renamed into place.
 * rename(2) refuses to replace a directory that is not empty, and an owned directory never is, so
 * putting one in place is as exclusive as mkdir; and whatever point a crash hits, there is no
 * moment when it exists without its owner record.
 *
 * Removing one moves it aside first and then checks that what moved is the one meant (same inode,
 * same owner): a directory that a live process put in place meanwhile goes back, it is never
 * deleted.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { promises as fsp, readFileSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { errorCode } from './errors.js';

export interface Owner {
  pid: number;
  hostname: string;
  /** ISO time. */
  since: string;
  /**
   * Tells two owners with the same pid apart: a restarted container is pid 1 again. Absent in
   * records of earlier portal-sync versions.
   */
  token?: string;
}

export interface OwnedState {
  ino: number;
  mtimeMs: number;
  /** null when there is no readable owner record: the directory was made by something else. */
  owner: Owner | null;
}

/** An owner-less directory younger than this may still be getting its owner from whoever made it. */
export const OWNERLESS_GRACE_MS = 2000;

const OWNER_FILE = 'owner.json';
/** In the names of directories set aside, so leftovers can be told apart by host; never has a dot. */
const HOST_TAG = os.hostname().replace(/[^A-Za-z0-9-]/g, '_') || 'host';

/** Tokens of the owned directories this process holds or is putting in place. */
const heldHere = new Set<string>();

export function newOwner(): Owner & { token: string } {
  return { pid: process.pid, hostname: os.hostname(), since: new Date().toISOString(), token: randomUUID() };
}

/** While marked, a directory owned by `token` belongs to a live owner: this process. */
export function markHeld(token: string, held: boolean): void {
  if (held) heldHere.add(token);
  else heldHere.delete(token);
}

export function parseOwner(text: string): Owner | null {
  try {
    const o = JSON.parse(text) as Record<string, unknown> | null;
    if (!o || typeof o !== 'object') return null;
    if (typeof o.pid !== 'number' || typeof o.hostname !== 'string' || typeof o.since !== 'string') return null;
    const owner: Owner = { pid: o.pid, hostname: o.hostname, since: o.since };
    if (typeof o.token === 'string') owner.token = o.token;
    return owner;
  } catch {
    return null;
  }
}

export async function readOwner(file: string): Promise<Owner | null> {
  try {
    return parseOwner(await fsp.readFile(file, 'utf8'));
  } catch {
    return null;
  }
}

function asidePath(dirPath: string, kind: 'tmp' | 'dead'): string {
  return `${dirPath}.${HOST_TAG}.${process.pid}.${randomBytes(4).toString('hex')}.${kind}`;
}

/** Builds the directory aside, owner record inside; `placeOwned` puts it where it belongs. */
export async function prepareOwned(dirPath: string, owner: Owner): Promise<string> {
  const aside = asidePath(dirPath, 'tmp');
  await fsp.mkdir(aside);
  try {
    await fsp.writeFile(path.join(aside, OWNER_FILE), `${JSON.stringify(owner)}\n`);
  } catch (err) {
    await fsp.rm(aside, { recursive: true, force: true });
    throw err;
  }
  return aside;
}

/** Puts a prepared directory in place: false, and the prepared one gone, when something is there already. */
export async function placeOwned(prepared: string, dirPath: string): Promise<boolean> {
  try {
    // rename would replace an EMPTY directory: only something else makes those (an earlier
    // portal-sync, a person). Leave it to the caller to judge, like any directory in the way.
    if (await exists(dirPath)) return false;
    await fsp.rename(prepared, dirPath);
    return true;
  } catch (err) {
    if (errorCode(err) === 'ENOTEMPTY' || errorCode(err) === 'EEXIST') return false;
    throw err;
  } finally {
    await fsp.rm(prepared, { recursive: true, force: true });
  }
}

export async function createOwned(dirPath: string, owner: Owner): Promise<boolean> {
  return placeOwned(await prepareOwned(dirPath, owner), dirPath);
}

async function exists(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return false;
    throw err;
  }
}

/** null when there is nothing at `dirPath`. */
export async function inspectOwned(dirPath: string): Promise<OwnedState | null> {
  let st;
  try {
    st = await fsp.lstat(dirPath);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return null;
    throw err;
  }
  return { ino: st.ino, mtimeMs: st.mtimeMs, owner: await readOwner(path.join(dirPath, OWNER_FILE)) };
}

/** The same directory, not one put in the same place later. */
export function sameIncarnation(a: OwnedState, b: OwnedState): boolean {
  return a.ino === b.ino && a.owner?.token === b.owner?.token && a.owner?.pid === b.owner?.pid;
}

/** True when `pid` certainly does not run any more (on this host). */
function pidIsDead(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    // EPERM: it exists, it just belongs to someone else.
    return errorCode(err) === 'ESRCH';
  }
}

/**
 * Whether the directory may be removed from under its owner: its mtime went stale (whoever
 * holds it stopped refreshing it), its owner is a process of this host that is gone, or it has no
 * owner record and is past the grace time. A live owner on another host is told only by mtime.
 */
export function isAbandoned(state: OwnedState, owner: Owner | null, staleMs: number): boolean {
  const age = Date.now() - state.mtimeMs;
  if (age > staleMs) return true;
  if (!owner) return age > OWNERLESS_GRACE_MS;
  if (owner.hostname !== os.hostname()) return false;
  if (owner.pid === process.pid) return !(owner.token !== undefined && heldHere.has(owner.token));
  return pidIsDead(owner.pid);
}

/** Removes the directory when `isIt` says it is the one meant; true when it did. */
export async function removeOwned(dirPath: string, isIt: (state: OwnedState) => boolean): Promise<boolean> {
  const before = await inspectOwned(dirPath);
  if (!before || !isIt(before)) return false;
  const aside = asidePath(dirPath, 'dead');
  try {
    await fsp.rename(dirPath, aside);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return false;
    throw err;
  }
  const moved = await inspectOwned(aside);
  if (moved && sameIncarnation(moved, before)) {
    await fsp.rm(aside, { recursive: true, force: true });
    return true;
  }
  // Replaced between the look and the move: put the newcomer back. Should yet another one have
  // taken the place in these microseconds, the newcomer's refresh finds a directory that is not
  // its own and reports its lock compromised.
  await fsp.rename(aside, dirPath).catch(() => undefined);
  return false;
}

/** For process exit, when nothing asynchronous runs any more: removes the directory if `token` owns it. */
export function removeOwnedSync(dirPath: string, token: string): void {
  try {
    if (parseOwner(readFileSync(path.join(dirPath, OWNER_FILE), 'utf8'))?.token !== token) return;
    const aside = asidePath(dirPath, 'dead');
    renameSync(dirPath, aside);
    rmSync(aside, { recursive: true, force: true });
  } catch {
    // On the way out: a lock left behind names a dead owner, and the next run removes it.
  }
}

/**
 * Removes what killed processes of this host left beside these directories (all in one folder):
 * directories built aside and never put in place, or set aside and never deleted.
 */
export async function sweepLeftovers(...dirPaths: string[]): Promise<void> {
  if (dirPaths.length === 0) return;
  const folder = path.dirname(dirPaths[0]!);
  const prefixes = dirPaths.map((d) => `${path.basename(d)}.${HOST_TAG}.`);
  let names: string[];
  try {
    names = await fsp.readdir(folder);
  } catch {
    return;
  }
  for (const name of names) {
    const prefix = prefixes.find((p) => name.startsWith(p));
    const pid = prefix ? /^(\d+)\.[0-9a-f]+\.(?:tmp|dead)$/.exec(name.slice(prefix.length))?.[1] : undefined;
    if (pid !== undefined && Number(pid) !== process.pid && pidIsDead(Number(pid))) {
      await fsp.rm(path.join(folder, name), { recursive: true, force: true }).catch(() => undefined);
    }
  }
}
