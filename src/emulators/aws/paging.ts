/**
 * `nextToken` paging as AWS list operations do it: the client passes the token of the previous
 * page, `maxResults` bounds a page (over the maximum, or under 1: a validation error), and the last
 * page carries no token.
 *
 * A token is opaque to the client: base64url of `{"a": <last key returned>, "p": <page number it
 * leads to>, "l": <hash of the listing's operation and filters>}`. Resuming after a key (the lists are
 * sorted by it) keeps a listing right when an earlier item was deleted between pages; the page
 * number is what a `page` fault matches; the listing hash refuses a token from another listing.
 */
import { createHash } from 'node:crypto';

export interface PageInput {
  nextToken: string | undefined;
  maxResults: number;
}

export interface Token {
  after: string;
  page: number;
  listing: string;
}

export function listingHash(parts: readonly (string | undefined)[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('base64url').slice(0, 12);
}

export function encodeToken(t: Token): string {
  return Buffer.from(JSON.stringify({ a: t.after, p: t.page, l: t.listing })).toString('base64url');
}

/** The token, or undefined when it is not one of ours. */
export function decodeToken(text: string): Token | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) return undefined;
  try {
    const v = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown;
    if (v === null || typeof v !== 'object') return undefined;
    const { a, p, l } = v as { a?: unknown; p?: unknown; l?: unknown };
    if (typeof a !== 'string' || typeof l !== 'string' || typeof p !== 'number' || !Number.isSafeInteger(p) || p < 2) return undefined;
    return { after: a, page: p, listing: l };
  } catch {
    return undefined;
  }
}

/** The 1-based page a request asks for (1 without a token), or undefined for a token that does not decode. */
export function pageNumberOf(nextToken: string | undefined): number | undefined {
  if (nextToken === undefined || nextToken === '') return 1;
  return decodeToken(nextToken)?.page;
}

/** Index of the first item whose key is greater than `after` (items sorted by key). */
function firstAfter<T>(items: readonly T[], key: (t: T) => string, after: string): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (key(items[mid]!) <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export interface Page<T> {
  items: T[];
  nextToken?: string;
}

/**
 * One page of `items` (sorted by `key`, already filtered). Returns undefined for a token that is not
 * one of this listing's (the caller answers the service's validation error).
 * `repeat`: a broken paginator, whose every answer carries the token it was asked with (the first
 * page's token leads back to the first page).
 */
export function pageOf<T>(items: readonly T[], key: (t: T) => string, listing: string, input: PageInput, repeat = false): Page<T> | undefined {
  let start = 0;
  let page = 1;
  if (input.nextToken !== undefined && input.nextToken !== '') {
    const token = decodeToken(input.nextToken);
    if (!token || token.listing !== listing) return undefined;
    start = token.after === '' ? 0 : firstAfter(items, key, token.after);
    page = token.page;
  }
  const end = Math.min(items.length, start + input.maxResults);
  const out: Page<T> = { items: items.slice(start, end) };
  if (repeat) out.nextToken = input.nextToken || encodeToken({ after: '', page: 2, listing });
  else if (end < items.length) out.nextToken = encodeToken({ after: key(items[end - 1]!), page: page + 1, listing });
  return out;
}
