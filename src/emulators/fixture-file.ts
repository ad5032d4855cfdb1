/**
 * A fixture file that emulators re-read when it changes, shared by every emulator that serves a
 * section of the same file (`emulate --fixture fleet.json` hands the one path to each of them).
 *
 * The file is checked on each request (a `stat`, no watcher thread: nothing to leak, and a test that
 * rewrites the file sees the change on its very next request). It counts as changed when its mtime,
 * size or inode changed. A file that cannot be read or parsed keeps the previous fleet, with one line
 * on stderr per bad version of the file (not one per request).
 */
import { readFileSync, statSync } from 'node:fs';

/** A fixture that cannot be read or is malformed; the message names the file and the field. */
export class FixtureError extends Error {
  override name = 'FixtureError';
}

/** Parses fixture JSON; errors name the source and the position, never quote the text (it may hold keys). */
export function parseFixtureJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    // V8 quotes a snippet of the text in some JSON errors; the text may hold a key, so only the
    // position is reported.
    const m = /position (\d+)/.exec((err as Error).message);
    let where = '';
    if (m) {
      const pos = Number(m[1]);
      const before = text.slice(0, pos);
      where = ` at line ${before.split('\n').length}, column ${pos - before.lastIndexOf('\n')}`;
    } else if (text.trim() === '') {
      where = ' (the file is empty)';
    }
    throw new FixtureError(`${source}: not valid JSON${where}`);
  }
}

/** Reads a fixture file's JSON. Throws {@link FixtureError}. */
export function readFixtureJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new FixtureError(`${path}: cannot read fixture: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseFixtureJson(text, path);
}

function stampOf(path: string): string {
  const st = statSync(path);
  return `${st.mtimeMs}:${st.size}:${st.ino}`;
}

/**
 * Loads `path` with `load` now (a failure throws: a bad file at start is the caller's mistake), then
 * again from `refresh()` whenever the file changed, handing each new value to `install`.
 */
export class FixtureFile<T> {
  private loadedStamp: string;
  private failedStamp: string | undefined;

  constructor(
    readonly path: string,
    private readonly load: (path: string) => T,
    private readonly install: (value: T) => void,
    /** Prefix of the stderr lines, e.g. `aws emulator`. */
    private readonly label: string,
  ) {
    const stamp = stampOf(path);
    install(load(path));
    this.loadedStamp = stamp;
  }

  /** Reloads when the file changed since the last load; a bad file keeps the previous value. */
  refresh(): void {
    let stamp: string;
    try {
      stamp = stampOf(this.path);
    } catch (err) {
      stamp = `error:${(err as NodeJS.ErrnoException).code ?? 'unknown'}`;
      if (stamp !== this.failedStamp) {
        this.failedStamp = stamp;
        process.stderr.write(`${this.label}: cannot stat fixture ${this.path} (${stamp.slice(6)}); keeping the previous fleet\n`);
      }
      return;
    }
    if (stamp === this.loadedStamp || stamp === this.failedStamp) return;
    try {
      this.install(this.load(this.path));
      this.loadedStamp = stamp;
      this.failedStamp = undefined;
    } catch (err) {
      this.failedStamp = stamp;
      process.stderr.write(`${this.label}: fixture reload failed, keeping the previous fleet: ${(err as Error).message.split('\n')[0]}\n`);
    }
  }
}
