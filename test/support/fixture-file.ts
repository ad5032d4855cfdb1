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
