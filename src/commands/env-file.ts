/**
 * The environment `emulate` hands to the other commands, as `export NAME='value'` lines: what it
 * prints on stdout, and what `--write-env` writes for a shell that cannot wait on a pipe.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ConfigError } from '../config.js';
import { ensureDir } from '../store/ensure-dir.js';

/**
 * Single quotes keep `;` and `=` (a connection string holds both) inside the value for sh's `.`,
 * and readers of env files (Node's --env-file, dotenv, systemd) strip them too. A value with a quote
 * or a line break has no spelling all of them read alike: refused rather than written ambiguously.
 */
export function formatExports(env: Readonly<Record<string, string>>): string {
  return Object.entries(env)
    .map(([name, value]) => {
      // The message names the variable only: its value may hold a key.
      if (/['\r\n\0]/.test(value)) throw new ConfigError(`${name} holds a quote or a line break: it cannot be written as a quoted export line`);
      return `export ${name}='${value}'\n`;
    })
    .join('');
}

/**
 * Temp file + rename: whoever waits for the file to appear never reads half of it. Created
 * exclusively and readable by the owner only, like any file that holds a connection string.
 */
export function writeEnvFile(path: string, text: string): void {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    ensureDir(dirname(path));
    rmSync(temp, { force: true });
    writeFileSync(temp, text, { mode: 0o600, flag: 'wx' });
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw new ConfigError(`cannot write the env file ${path}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Once the servers are gone the file would send the next command to a closed port; it goes too,
 * unless another emulator has meanwhile written its own environment there.
 */
export function removeEnvFile(path: string, text: string): void {
  try {
    if (readFileSync(path, 'utf8') === text) rmSync(path, { force: true });
  } catch {
    // Already gone, or unreadable: nothing of ours to remove.
  }
}
