/** Child processes run the built JavaScript (`npm test` builds `dist/` first), like the CLI tests. */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(p) : entry.name.endsWith('.ts') ? statSync(p).mtimeMs : 0);
  }
  return newest;
}

/**
 * The file URL of a source module's build, e.g. `src/run/lock.ts`. A build older than any source
 * file would test old code without saying so: refuse it instead.
 */
export function builtModule(source: string): string {
  const out = join(ROOT, 'dist', source.replace(/\.ts$/, '.js'));
  if (!existsSync(out) || statSync(out).mtimeMs < newestSource(join(ROOT, 'src'))) {
    throw new Error(`${out} is missing or older than the sources: run \`npm run build\` first (npm test does)`);
  }
  return pathToFileURL(out).href;
}
