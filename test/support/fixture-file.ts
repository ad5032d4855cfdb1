/** The fleet file a test emulator serves, in a folder of its own, rewritten by the test between passes. */
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface FixtureFile<F> {
  readonly dir: string;
  readonly path: string;
  /** Writes the fixture with a new mtime, so the emulator sees the change even within one clock tick. */
  write(fixture: F): void;
  remove(): void;
}

/**
 * `section`: the fleet file's key a bare fixture is written under (`aws`, `eventhub`...); a fixture
 * that already has that key is the whole file. Without one, the fixture is the whole file.
 */
export function fixtureFile<F extends object>(prefix: string, section?: string): FixtureFile<F> {
  const dir = mkdtempSync(join(tmpdir(), `portal-sync-${prefix}-`));
  const path = join(dir, 'fleet.json');
  let mtime = Math.floor(Date.now() / 1000);
  return {
    dir,
    path,
    write(fixture) {
      const whole = section === undefined || section in fixture ? fixture : { [section]: fixture };
      writeFileSync(path, JSON.stringify(whole, null, 2));
      mtime += 2;
      utimesSync(path, mtime, mtime);
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** An emulator serving a fixture file of its own, which the test rewrites between passes. */
export interface EmulatorOnFile<F, E> {
  readonly emulator: E;
  readonly fixturePath: string;
  readonly dir: string;
  write(fixture: F): void;
  /** Stops the emulator, then removes its folder. */
  close(): Promise<void>;
}

/** Writes `fixture` to a new fixture file (see {@link fixtureFile}) and starts an emulator on it. */
export async function emulatorOnFile<F extends object, E extends { close(): Promise<void> }>(
  prefix: string,
  section: string | undefined,
  fixture: F,
  start: (fixturePath: string) => Promise<E>,
): Promise<EmulatorOnFile<F, E>> {
  const file = fixtureFile<F>(prefix, section);
  file.write(fixture);
  const emulator = await start(file.path);
  return {
    emulator,
    fixturePath: file.path,
    dir: file.dir,
    write: file.write,
    async close() {
      await emulator.close();
      file.remove();
    },
  };
}
