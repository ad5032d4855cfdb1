/** Whether a thing type is for edge devices (Greengrass cores), by its `iotEdge` tag. */
export type EdgeVerdict =
  | { readonly kind: 'edge' }
  | { readonly kind: 'standard' }
  | { readonly kind: 'unknown'; readonly reason: string };

export const EDGE_TAG = 'iotEdge';

/** The tags of a resource as ListTagsForResource gives them. */
export interface AwsTag {
  readonly Key?: string | undefined;
  readonly Value?: string | undefined;
}

/**
 * The verdict of a type's tags (INVENTORIES.md, AWS): the key `iotEdge` in any case, its value `true`
 * or `false` in any case. No such tag, any other value, or two such tags (keys differing only in case)
 * that disagree leave the type unknown, with the reason; it is then skipped, never guessed.
 */
export function edgeVerdictOf(tags: readonly AwsTag[]): EdgeVerdict {
  const found = tags.filter((t) => t.Key?.toLowerCase() === EDGE_TAG.toLowerCase());
  if (found.length === 0) return { kind: 'unknown', reason: `no ${EDGE_TAG} tag (true or false) says whether it is for edge devices` };
  const verdicts = new Set<boolean>();
  for (const tag of found) {
    const value = (tag.Value ?? '').toLowerCase();
    if (value !== 'true' && value !== 'false') {
      return { kind: 'unknown', reason: `tag ${tag.Key} is ${JSON.stringify(tag.Value ?? '')}, not true or false` };
    }
    verdicts.add(value === 'true');
  }
  if (verdicts.size > 1) {
    const said = found.map((t) => `${t.Key}=${t.Value}`).join(', ');
    return { kind: 'unknown', reason: `tags ${said} disagree on whether it is for edge devices` };
  }
  return verdicts.has(true) ? { kind: 'edge' } : { kind: 'standard' };
}
