/** Runs the built CLI as a separate process, as cron would. `npm test` builds `dist/` first. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../bin/portal-sync', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Environment for a child: the parent's minus anything that would change the CLI's defaults. */
export function childEnv(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ['PORTAL_SYNC_DB', 'DATABASE_URL', 'PORTAL_SYNC_PUSHGATEWAY', 'IOTHUB_CONNECTION_STRING', 'IOTHUB_ENDPOINT', 'EVENTHUB_CONNECTION_STRING', 'NO_COLOR']) {
    delete env[name];
  }
  // The developer's AWS settings (a region, keys, a profile, endpoints) must not reach the CLI under
  // test: its AWS world is the emulator's env() alone. Only the SDK's Node-version notice stays off.
  for (const name of Object.keys(env)) {
    if (name.startsWith('AWS_') && name !== 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED') delete env[name];
  }
  return { ...env, ...extra };
}

export function spawnCli(args: string[], env: Record<string, string | undefined>): ChildProcess {
  return spawn(process.execPath, [CLI, ...args], { env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
}

export function collect(child: ChildProcess): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Asynchronous on purpose: the emulators serve from this process's event loop. */
export function runCli(args: string[], env: Record<string, string | undefined>): Promise<CliResult> {
  return collect(spawnCli(args, env));
}

export function parseJson(result: CliResult): Record<string, any> {
  try {
    return JSON.parse(result.stdout) as Record<string, any>;
  } catch {
    throw new Error(`stdout is not one JSON document (exit ${result.code}):\n${result.stdout}\nstderr:\n${result.stderr}`);
  }
}

/** Polls `condition` until it holds; bounded, so a broken condition fails the test instead of hanging. */
export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, attempts = 400, intervalMs = 25): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    if (await condition()) return;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}
