import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureDir } from '../../src/store/ensure-dir.js';
import { builtModule } from '../support/built.js';

describe('ensureDir', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'portal-sync-ensure-dir-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('creates every missing level, and leaves an existing directory alone', () => {
    const deep = join(root, 'a', 'b', 'c');
    ensureDir(deep);
    expect(statSync(deep).isDirectory()).toBe(true);
    writeFileSync(join(deep, 'kept'), 'x');
    ensureDir(deep);
    ensureDir(join(root, 'a'));
    expect(existsSync(join(deep, 'kept'))).toBe(true);
  });

  it('names the directory and the cause when a level is a file', () => {
    writeFileSync(join(root, 'file'), 'x');
    for (const dir of [join(root, 'file'), join(root, 'file', 'sub', 'dir')]) {
      const err = catchError(() => ensureDir(dir));
      expect(err.message).toMatch(new RegExp(`^cannot create the directory ${escape(dir)}: `));
      expect(err.code).toBe('ENOTDIR');
    }
  });

  // Node's recursive mkdir spins forever on this path, so the attempt runs in a child that a
  // deadline can kill: a hang must fail this test, not freeze the test worker.
  it.runIf(existsSync('/proc/self'))('fails at once under /proc, where a recursive mkdir never returns', async () => {
    const script = `
      import { ensureDir } from ${JSON.stringify(builtModule('src/store/ensure-dir.ts'))};
      const started = performance.now();
      try { ensureDir('/proc/nope/x'); console.log(JSON.stringify({ created: true })); }
      catch (e) { console.log(JSON.stringify({ message: e.message, code: e.code, ms: performance.now() - started })); }`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const deadline = setTimeout(() => child.kill('SIGKILL'), 5000);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.on('close', (_code, sig) => resolve(sig)));
    clearTimeout(deadline);
    expect(signal, 'ensureDir did not return within 5 s').toBeNull();
    const result = JSON.parse(out) as { message: string; code: string; ms: number };
    expect(result.code).toBe('ENOENT');
    expect(result.message).toMatch(/^cannot create the directory \/proc\/nope\/x: .*\/proc\/nope/);
    expect(result.ms).toBeLessThan(1000);
  });
});

function catchError(fn: () => void): Error & { code?: string } {
  try {
    fn();
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected an error');
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
