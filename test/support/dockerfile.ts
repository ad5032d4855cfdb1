/**
 * A Dockerfile and its .dockerignore read as Docker reads them, for what can be checked without
 * Docker: which stage copies what from where, what each stage runs, and what the build context holds.
 */

export interface Instruction {
  /** Upper case: FROM, RUN, COPY... */
  readonly keyword: string;
  /** The rest of the instruction, continuation lines joined. */
  readonly args: string;
}

export interface Stage {
  /** The image, with the ARGs declared before the first FROM substituted. */
  readonly from: string;
  readonly name: string | null;
  readonly instructions: readonly Instruction[];
}

export interface Copy {
  /** `--from=<stage>`, or null for the build context. */
  readonly from: string | null;
  readonly sources: readonly string[];
  readonly destination: string;
}

/** The stages of a Dockerfile: comments and parser directives dropped, `\` continuations joined. */
export function parseDockerfile(text: string): Stage[] {
  const instructions: Instruction[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    if (/^\s*#/.test(raw)) continue; // comments (parser directives too) may sit between continued lines
    const line = raw.replace(/\s+$/, '');
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const whole = (pending + line).trim();
    pending = '';
    if (whole === '') continue;
    const match = /^(\w+)\s+([\s\S]*)$/.exec(whole);
    if (!match) throw new Error(`not a Dockerfile instruction: ${whole}`);
    instructions.push({ keyword: match[1]!.toUpperCase(), args: match[2]!.replace(/\s+/g, ' ').trim() });
  }
  if (pending.trim() !== '') throw new Error('the Dockerfile ends inside a continued line');

  const globalArgs: Record<string, string> = {};
  const stages: { from: string; name: string | null; instructions: Instruction[] }[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const from = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args);
      if (!from) throw new Error(`FROM ${instruction.args}: expected an image and an optional AS name`);
      const image = from[1]!.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string | undefined, b: string | undefined) => {
        const name = (a ?? b)!;
        if (globalArgs[name] === undefined) throw new Error(`FROM uses \${${name}}, which no ARG before the first FROM declares with a default`);
        return globalArgs[name]!;
      });
      stages.push({ from: image, name: from[2] ?? null, instructions: [] });
    } else if (stages.length === 0) {
      if (instruction.keyword !== 'ARG') throw new Error(`${instruction.keyword} before the first FROM`);
      const arg = /^(\w+)(?:=(\S*))?$/.exec(instruction.args);
      if (arg?.[2] !== undefined) globalArgs[arg[1]!] = arg[2];
    } else {
      stages.at(-1)!.instructions.push(instruction);
    }
  }
  return stages;
}

/** The COPY instructions of a stage (shell form; `--chown`, `--chmod` and `--link` are left out). */
export function copies(stage: Stage): Copy[] {
  return stage.instructions
    .filter((i) => i.keyword === 'COPY')
    .map((i) => {
      const words = i.args.split(' ');
      let from: string | null = null;
      while (words[0]?.startsWith('--')) {
        const flag = words.shift()!;
        if (flag.startsWith('--from=')) from = flag.slice('--from='.length);
      }
      if (words.length < 2 || words[0]!.startsWith('[')) throw new Error(`COPY ${i.args}: expected the shell form, sources then a destination`);
      return { from, sources: words.slice(0, -1), destination: words.at(-1)! };
    });
}

/** The working directory of a stage where its instruction number `before` runs (WORKDIR is absolute here). */
export function workdir(stage: Stage, before = stage.instructions.length): string {
  let dir = '/';
  for (const i of stage.instructions.slice(0, before)) {
    if (i.keyword !== 'WORKDIR') continue;
    if (!i.args.startsWith('/')) throw new Error(`WORKDIR ${i.args}: this reader only follows absolute paths`);
    dir = i.args;
  }
  return dir;
}

/** An exec-form ENTRYPOINT or CMD: its JSON array. */
export function execForm(stage: Stage, keyword: 'ENTRYPOINT' | 'CMD'): string[] | null {
  const last = stage.instructions.filter((i) => i.keyword === keyword).at(-1);
  if (!last) return null;
  const parsed: unknown = JSON.parse(last.args);
  if (!Array.isArray(parsed) || !parsed.every((w) => typeof w === 'string')) throw new Error(`${keyword} ${last.args}: not the exec form`);
  return parsed as string[];
}

/**
 * Whether the build context sends `path` (relative to the context), by .dockerignore's rules: each
 * pattern matches a path or one of its parents, `*` within one path segment, `**` across segments,
 * `!` re-includes, and the last pattern that matches decides.
 */
export function inBuildContext(dockerignore: string, path: string): boolean {
  const patterns = dockerignore
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const segments = path.split('/').filter((s) => s !== '' && s !== '.');
  const prefixes = segments.map((_, i) => segments.slice(0, i + 1).join('/'));
  let included = true;
  for (const pattern of patterns) {
    const negated = pattern.startsWith('!');
    const body = (negated ? pattern.slice(1) : pattern).replace(/^\/+|\/+$/g, '');
    const regex = new RegExp(`^${body.split('**').map((part) => part.split('*').map(escapeRegex).join('[^/]*')).join('.*')}$`);
    if (prefixes.some((p) => regex.test(p))) included = negated;
  }
  return included;
}

function escapeRegex(text: string): string {
  return text.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}
