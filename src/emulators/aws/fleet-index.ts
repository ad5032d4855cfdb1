/**
 * SearchIndex (`POST /indices/search`) over the emulated account's AWS_Things fleet index, gated by
 * the fixture's `fleetIndexing` as AWS gates it by the account's indexing configuration:
 *
 *   thingIndexingMode OFF, or another index name    404 ResourceNotFoundException (no such index)
 *   indexStatus BUILDING                            400 IndexNotReadyException
 *   a `connectivity.*` field, connectivity OFF      400 InvalidQueryException (the field is not indexed)
 *   a query outside the grammar below               400 InvalidQueryException
 *   maxResults outside 1..100, a foreign nextToken  400 InvalidRequestException
 *
 * Query grammar (the part of AWS's Lucene-like syntax the tool and its tests send): terms
 * `field:value` joined by `AND`; fields `thingName`, `thingId`, `thingTypeName`, `attributes.<name>`
 * (values compared exactly, `*` matching any run of characters) and `connectivity.connected`
 * (`true` or `false`). Each matching thing is a `ThingDocument` (thingName, thingId, thingTypeName,
 * attributes, and `connectivity` {connected, timestamp in epoch ms} when connectivity is indexed),
 * in name order, paged with `nextToken` in the body (paging.ts tokens).
 */
import { AwsError, invalid, notFound } from './errors.js';
import { DEFAULT_CREATION, type AwsThing } from './fixture.js';
import { listingHash, pageOf } from './paging.js';
import { invalidToken, ok, type OpReply, type OpRequest } from './request.js';
import type { AwsState } from './state.js';

export const THING_INDEX = 'AWS_Things';
/** "This maximum number cannot exceed 100." (API reference, SearchIndex maxResults) */
export const SEARCH_MAX_RESULTS = 100;

type Term = { field: 'thingName' | 'thingId' | 'thingTypeName'; pattern: RegExp } | { field: 'attribute'; name: string; pattern: RegExp } | { field: 'connected'; value: boolean };

function invalidQuery(message: string): AwsError {
  return new AwsError(400, 'InvalidQueryException', message);
}

/** `*` matches any run of characters, everything else itself. */
function wildcard(value: string): RegExp {
  return new RegExp(`^${value.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 's');
}

/** The query's terms, or the InvalidQueryException AWS answers for what it cannot parse. */
export function parseSearchQuery(query: string, connectivityIndexed: boolean): Term[] {
  const terms: Term[] = [];
  for (const text of query.trim().split(/\s+AND\s+/)) {
    const colon = text.indexOf(':');
    const field = colon < 0 ? '' : text.slice(0, colon);
    const value = colon < 0 ? '' : text.slice(colon + 1);
    if (field === '' || value === '' || /\s/.test(text)) throw invalidQuery(`Syntax error in the query "${query}" near "${text}": expected field:value terms joined by AND`);
    if (field === 'thingName' || field === 'thingId' || field === 'thingTypeName') terms.push({ field, pattern: wildcard(value) });
    else if (field.startsWith('attributes.') && field.length > 'attributes.'.length) terms.push({ field: 'attribute', name: field.slice('attributes.'.length), pattern: wildcard(value) });
    else if (field === 'connectivity.connected') {
      if (!connectivityIndexed) throw invalidQuery(`The field connectivity.connected is not indexed: thing connectivity indexing (thingConnectivityIndexingMode) is OFF`);
      if (value !== 'true' && value !== 'false') throw invalidQuery(`connectivity.connected is a Boolean field: true or false, not "${value}"`);
      terms.push({ field: 'connected', value: value === 'true' });
    } else {
      throw invalidQuery(`The emulator's fleet index does not support the field "${field}" (it knows thingName, thingId, thingTypeName, attributes.<name>, connectivity.connected)`);
    }
  }
  return terms;
}

function matches(t: AwsThing, term: Term): boolean {
  switch (term.field) {
    case 'thingName':
      return term.pattern.test(t.name);
    case 'thingId':
      return term.pattern.test(t.id);
    case 'thingTypeName':
      return t.type !== undefined && term.pattern.test(t.type);
    case 'attribute': {
      const v = t.attributes[term.name];
      return v !== undefined && term.pattern.test(v);
    }
    case 'connected':
      return t.connected === term.value;
  }
}

function thingDocument(t: AwsThing, connectivityIndexed: boolean) {
  return {
    thingName: t.name,
    thingId: t.id,
    ...(t.type !== undefined ? { thingTypeName: t.type } : {}),
    attributes: t.attributes,
    // A thing that never connected has no timestamp (AWS: "connected false with no additional session details").
    ...(connectivityIndexed ? { connectivity: { connected: t.connected, ...(t.connected ? { timestamp: DEFAULT_CREATION } : {}) } } : {}),
  };
}

interface SearchBody {
  indexName: string;
  queryString: string;
  nextToken: string | undefined;
  maxResults: number;
}

function readBody(req: OpRequest): SearchBody {
  const body = req.body ?? {};
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw invalid('iot', 'The request body must be a JSON object.');
  const b = body as Record<string, unknown>;
  const text = (key: string): string | undefined => {
    const v = b[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') throw invalid('iot', `1 validation error detected: Value at '${key}' failed to satisfy constraint: Member must be a string`);
    return v;
  };
  const queryString = text('queryString');
  if (queryString === undefined || queryString === '') {
    throw invalid('iot', "1 validation error detected: Value null at 'queryString' failed to satisfy constraint: Member must not be null");
  }
  const max = b['maxResults'] ?? SEARCH_MAX_RESULTS;
  if (typeof max !== 'number' || !Number.isSafeInteger(max) || max < 1 || max > SEARCH_MAX_RESULTS) {
    throw invalid('iot', `1 validation error detected: Value '${String(max)}' at 'maxResults' failed to satisfy constraint: Member must be an integer from 1 to ${SEARCH_MAX_RESULTS}`);
  }
  const nextToken = text('nextToken');
  return { indexName: text('indexName') || THING_INDEX, queryString, nextToken: nextToken === '' ? undefined : nextToken, maxResults: max };
}

/** The nextToken of a SearchIndex body, for the page a `page` fault matches (undefined: none, or no JSON). */
export function searchTokenOf(bodyText: string | undefined): string | undefined {
  try {
    const v = (JSON.parse(bodyText ?? '') as { nextToken?: unknown } | null)?.nextToken;
    return typeof v === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

const hits = new WeakMap<AwsState, Map<string, AwsThing[]>>();

function searchIndex(req: OpRequest): OpReply {
  const { state } = req;
  const body = readBody(req);
  const indexing = state.fixture.fleetIndexing;
  if (body.indexName !== THING_INDEX || indexing.thingIndexingMode === 'OFF') throw notFound(`Index ${body.indexName} does not exist.`);
  if (indexing.indexStatus !== 'ACTIVE') throw new AwsError(400, 'IndexNotReadyException', `Index ${THING_INDEX} is not ready: it is ${indexing.indexStatus}.`);
  const connectivityIndexed = indexing.thingConnectivityIndexingMode === 'STATUS';
  const terms = parseSearchQuery(body.queryString, connectivityIndexed);
  const listing = listingHash(['SearchIndex', body.indexName, body.queryString]);
  // Matched once per state and query: paging a large fleet stays linear.
  let cache = hits.get(state);
  if (!cache) hits.set(state, (cache = new Map()));
  let matched = cache.get(listing);
  if (!matched) {
    matched = state.things.filter((t) => terms.every((term) => matches(t, term)));
    cache.set(listing, matched);
  }
  const page = pageOf(matched, (t) => t.name, listing, { nextToken: body.nextToken, maxResults: body.maxResults }, req.repeatToken);
  if (!page) throw invalidToken(req);
  return ok({ things: page.items.map((t) => thingDocument(t, connectivityIndexed)), thingGroups: [], ...(page.nextToken !== undefined ? { nextToken: page.nextToken } : {}) });
}

export const FLEET_INDEX_HANDLERS = {
  SearchIndex: searchIndex,
} satisfies Record<string, (req: OpRequest) => OpReply>;
