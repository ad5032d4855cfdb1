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
