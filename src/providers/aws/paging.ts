import { ProviderError } from '../errors.js';

/** One page of a list call: its items and the token of the next page (absent or empty on the last). */
export interface AwsPage<T> {
  readonly items: readonly T[] | undefined;
  readonly nextToken: string | undefined | null;
}

/**
 * Every page of an AWS list call, in order. A next token already sent once (a paginator that does
 * not advance, or one that cycles) ends the listing with an error instead of asking again for ever:
 * the pass then knows the listing is incomplete and deletes nothing.
 */
export async function* awsPages<T>(
  operation: string,
  fetchPage: (nextToken: string | undefined) => Promise<AwsPage<T>>,
): AsyncGenerator<T[]> {
  const sentOnPage = new Map<string, number>();
  let token: string | undefined;
  for (let page = 1; ; page++) {
    const { items, nextToken } = await fetchPage(token);
    yield [...(items ?? [])];
    if (nextToken === undefined || nextToken === null || nextToken === '') return;
    const earlier = sentOnPage.get(nextToken);
    if (earlier !== undefined) {
      throw new ProviderError(
        'aws',
        'protocol',
        `AWS ${operation}: page ${page} gave the next token already used for page ${earlier}; the listing stops there instead of looping`,
      );
    }
    sentOnPage.set(nextToken, page + 1);
    token = nextToken;
  }
}
