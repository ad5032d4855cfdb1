/**
 * `emulate --generate` takes one spec for every emulator (`devices=...,things=...,events=...`): each
 * generator takes its own keys out of it and leaves the rest to the others.
 */
export function takeSpecKeys(text: string, keys: readonly string[]): { rest: string; mine: string | undefined } {
  const rest: string[] = [];
  const mine: string[] = [];
  for (const part of text.split(',')) {
    const key = part.split('=')[0]!.trim();
    if (keys.includes(key)) mine.push(part.trim());
    else rest.push(part);
  }
  return { rest: rest.join(','), mine: mine.length > 0 ? mine.join(',') : undefined };
}

/**
 * The `key=value` items of one generator's part of a spec, in order: an item without `=` has an
 * empty value (the generator says what it wanted); a key not in `keys`, or given twice, is refused
 * with `fail`, naming it.
 */
export function specItems(text: string, keys: readonly string[], fail: (message: string) => Error): Array<{ key: string; value: string }> {
  const items: Array<{ key: string; value: string }> = [];
  const seen = new Set<string>();
  for (const part of text.split(',')) {
    const item = part.trim();
    if (item === '') continue;
    const eq = item.indexOf('=');
    const key = eq < 0 ? item : item.slice(0, eq).trim();
    const value = eq < 0 ? '' : item.slice(eq + 1).trim();
    if (!keys.includes(key)) throw fail(`generate spec: unknown key "${key}" (keys: ${keys.join(', ')})`);
    if (seen.has(key)) throw fail(`generate spec: "${key}" is given twice`);
    seen.add(key);
    items.push({ key, value });
  }
  return items;
}
