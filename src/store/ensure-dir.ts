/**
 * Creates a directory and its missing parents, and never hangs doing it.
 *
 * Node 20's own `mkdir(p, { recursive: true })` loops forever, at 100% CPU, when a parent exists
 * but refuses to hold the child with ENOENT, as /proc does (`/proc/nope/x`): it keeps going up to
 * the parent that exists and back down to the one it cannot make. The synchronous form also
 * blocks the event loop, so SIGTERM handlers never run. Here each missing level is created once,
 * from the deepest existing ancestor down, and the first failure is final.
 */
import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function fail(target: string, err: unknown): never {
  const reason = err instanceof Error ? err.message : String(err);
  throw Object.assign(new Error(`cannot create the directory ${target}: ${reason}`, { cause: err }), { code: codeOf(err) });
}

export function ensureDir(dir: string): void {
  const target = resolve(dir);
  const missing: string[] = [];
  for (let at = target; ; at = dirname(at)) {
    let isDir: boolean;
    try {
      isDir = statSync(at).isDirectory();
    } catch (err) {
      if (codeOf(err) !== 'ENOENT' || dirname(at) === at) fail(target, err);
      missing.push(at);
      continue;
    }
    if (isDir) break;
    fail(target, Object.assign(new Error(`${at} exists and is not a directory`), { code: 'ENOTDIR' }));
  }
  for (const level of missing.reverse()) {
    try {
      mkdirSync(level);
    } catch (err) {
      // Someone else made it meanwhile: as good as ours.
      if (codeOf(err) === 'EEXIST' && isDirectory(level)) continue;
      fail(target, err);
    }
  }
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
