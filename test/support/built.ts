/** Child processes run the built JavaScript (`npm test` builds `dist/` first), like the CLI tests. */
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * The file URL of a source module's build, e.g. `src/run/lock.ts`. A stale build would test old
 * code without saying so: refuse it instead.
 */
export function builtModule(source: string): string {
  const src = fileURLToPath(new URL(`../../${source}`, import.meta.url));
  const out = fileURLToPath(new URL(`../../dist/${source.replace(/\.ts$/, '.js')}`, import.meta.url));
  if (!existsSync(out) || statSync(out).mtimeMs < statSync(src).mtimeMs) {
    throw new Error(`${out} is missing or older than ${source}: run \`npm run build\` first (npm test does)`);
  }
  return pathToFileURL(out).href;
}
