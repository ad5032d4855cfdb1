/**
 * The runnable examples of README.md and examples/, read the way their readers use them, so that an
 * example that stops working fails a test instead of a user.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** The fenced block just after `<!-- tested: <name> -->` in README.md. */
export function readmeBlock(name: string): string {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const marker = `<!-- tested: ${name} -->`;
  const at = readme.indexOf(marker);
  if (at < 0) throw new Error(`README.md has no block marked ${marker}`);
  const block = /^\s*```[\w-]*\n([\s\S]*?)^```/m.exec(readme.slice(at + marker.length));
  if (!block || block.index !== 0) throw new Error(`${marker} in README.md is not followed by a fenced code block`);
  return block[1]!;
}

export interface CronJob {
  schedule: string;
  /** The command as cron hands it to the shell: `\%` unescaped. */
  command: string;
}

export interface Crontab {
  /** `NAME=value` lines: cron puts them in every job's environment. */
  variables: Record<string, string>;
  jobs: CronJob[];
  /** The env file the comments describe: its path and its lines, as written there. */
  envFile: { path: string; lines: string[] } | null;
}

/** A crontab as cron(8) reads it (crontab(5)), plus the env file its comments describe. */
export function parseCrontab(text: string): Crontab {
  const variables: Record<string, string> = {};
  const jobs: CronJob[] = [];
  let envFile: Crontab['envFile'] = null;
  let inEnvFile = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#')) {
      const first = /^#\s+(\/\S+):\s+([A-Za-z_]\w*=.*)$/.exec(line);
      const next = /^#\s+([A-Za-z_]\w*=.*)$/.exec(line);
      if (first && !envFile) {
        envFile = { path: first[1]!, lines: [first[2]!.trim()] };
        inEnvFile = true;
      } else if (inEnvFile && next) {
        envFile!.lines.push(next[1]!.trim());
      } else {
        inEnvFile = false;
      }
      continue;
    }
    inEnvFile = false;
    if (line === '') continue;
    const variable = /^([A-Za-z_]\w*)\s*=\s*(.*)$/.exec(line);
    if (variable) {
      // Matching quotes around the value are cron's, not the value's.
      variables[variable[1]!] = variable[2]!.replace(/^(['"])(.*)\1$/, '$2');
      continue;
    }
    const job = /^((?:\S+\s+){4}\S+)\s+(.*)$/.exec(line);
    if (!job) throw new Error(`not a crontab line: ${line}`);
    jobs.push({ schedule: job[1]!.replace(/\s+/g, ' '), command: cronCommand(job[2]!) });
  }
  return { variables, jobs, envFile };
}

/** crontab(5): an unescaped `%` ends the command (the rest is its stdin); `\%` is a plain `%`. */
function cronCommand(field: string): string {
  let command = '';
  for (let i = 0; i < field.length; i++) {
    if (field[i] === '\\' && field[i + 1] === '%') {
      command += '%';
      i++;
    } else if (field[i] === '%') {
      throw new Error(`a job with standard input after %: not supported by this test: ${field}`);
    } else {
      command += field[i];
    }
  }
  return command;
}
