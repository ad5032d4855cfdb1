/**
 * Runs a script as a shell would, with only the environment given (`env -i`), in a process group of
 * its own: whatever the script leaves running in the background (an emulator started with `&`) can
 * then be found and ended, even after the shell itself has exited.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';

export interface ShellResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface ShellRun {
  /** Settles once the script, and every job it started that still holds its output, have ended. */
  readonly done: Promise<ShellResult>;
  output(): string;
  /** Ends what is left of the group: SIGTERM, then SIGKILL; each wait bounded. */
  stop(): Promise<void>;
}

const STOP_WAIT_MS = 5000;
const POLL_MS = 25;

export function startShell(shell: string, args: string[], opts: { cwd: string; env: Record<string, string> }): ShellRun {
  const assignments = Object.entries(opts.env).map(([name, value]) => `${name}=${value}`);
  const child = spawn('/usr/bin/env', ['-i', ...assignments, shell, ...args], { cwd: opts.cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const group = child.pid!;
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // 'close', not 'exit': the pipes stay open while a background job of the script holds them.
  const done = new Promise<ShellResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return {
    done,
    output: () => `stdout:\n${stdout}\nstderr:\n${stderr}`,
    async stop() {
      // A job that sent its output elsewhere outlives the pipes: the group, not 'close', says who is left.
      for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
        if (!groupAlive(group)) return;
        try {
          process.kill(-group, signal);
        } catch {
          return;
        }
        for (let waited = 0; waited < STOP_WAIT_MS && groupAlive(group); waited += POLL_MS) await pause(POLL_MS);
      }
      if (groupAlive(group)) throw new Error(`process group ${group} is still running after SIGKILL`);
    },
  };
}

/** Runs the script to its end; past `timeoutMs` its whole group is stopped and the test fails, with the output so far. */
export async function runShell(shell: string, args: string[], opts: { cwd: string; env: Record<string, string>; timeoutMs?: number }): Promise<ShellResult> {
  const run = startShell(shell, args, opts);
  const timeoutMs = opts.timeoutMs ?? 30_000;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), timeoutMs)));
  try {
    const result = await Promise.race([run.done, timedOut]);
    if (result) return result;
    const output = run.output();
    throw new Error(`${shell} ${args.join(' ')}\ndid not end within ${timeoutMs / 1000} s (the script, or a job it left in the background, still holds its output)\n${output}`);
  } finally {
    clearTimeout(timer);
    await run.stop();
  }
}

/** Some member of the group is running. An exited member nobody has reaped yet (a zombie) does not count. */
function groupAlive(group: number): boolean {
  try {
    process.kill(-group, 0);
  } catch {
    return false;
  }
  if (!existsSync('/proc/self/stat')) return true;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue;
    }
    // After the command name, which may hold spaces and parentheses: state ppid pgrp ...
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === group && state !== 'Z') return true;
  }
  return false;
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
