/**
 * AWS IoT control-plane operations (service `iot`). Output shapes are the SDK's
 * (`ListThingsResponse`, `DescribeThingTypeResponse`, ... in `@aws-sdk/client-iot`); dates are epoch
 * seconds.
 */
import { AwsError, invalid, notFound } from './errors.js';
import type { AwsThing, AwsThingGroup, AwsThingType } from './fixture.js';
import { listingHash, pageOf } from './paging.js';
import { epochSeconds, invalidToken, maxResults, ok, optionalQuery, type OpReply, type OpRequest } from './request.js';
import type { AwsState } from './state.js';

/** ListThings / ListThingTypes: "Valid Range: Minimum value of 1. Maximum value of 250." (API reference) */
export const IOT_MAX_RESULTS = 250;
/** ListTagsForResource takes no maxResults; AWS allows 50 tags a resource, so one page holds them. */
const TAGS_PAGE = 50;
/** AWS: "You can delete a thing type only after it has been deprecated for 5 minutes." */
export const DELETE_AFTER_DEPRECATION_MS = 5 * 60_000;
const ENDPOINT_TYPES = ['iot:Data', 'iot:Data-ATS', 'iot:CredentialProvider', 'iot:Jobs'];

function thingAttribute(state: AwsState, t: AwsThing) {
  return {
    thingName: t.name,
    ...(t.type !== undefined ? { thingTypeName: t.type } : {}),
    thingArn: state.thingArn(t.name),
    attributes: t.attributes,
    version: t.version,
  };
}

function typeBody(state: AwsState, t: AwsThingType) {
  return {
    thingTypeName: t.name,
    thingTypeArn: state.thingTypeArn(t.name),
    thingTypeProperties: {
      ...(t.description !== undefined ? { thingTypeDescription: t.description } : {}),
      ...(t.searchableAttributes !== undefined ? { searchableAttributes: t.searchableAttributes } : {}),
    },
    thingTypeMetadata: {
      deprecated: t.deprecated,
      ...(t.deprecationDate !== undefined ? { deprecationDate: epochSeconds(t.deprecationDate) } : {}),
      creationDate: epochSeconds(t.creationDate),
    },
  };
}

function groupBody(state: AwsState, g: AwsThingGroup) {
  return {
    thingGroupName: g.name,
    thingGroupId: g.id,
    thingGroupArn: state.thingGroupArn(g.name),
    version: g.version,
    thingGroupProperties: g.description !== undefined ? { thingGroupDescription: g.description } : {},
    thingGroupMetadata: { rootToParentThingGroups: [], creationDate: epochSeconds(g.creationDate) },
    ...(g.queryString !== undefined ? { indexName: 'AWS_Things', queryString: g.queryString, queryVersion: '2017-09-30', status: 'ACTIVE' } : {}),
  };
}

const filteredThings = new WeakMap<AwsState, Map<string, AwsThing[]>>();

function listThings(req: OpRequest): OpReply {
  const { state } = req;
  const type = optionalQuery(req, 'thingTypeName');
  const attrName = optionalQuery(req, 'attributeName');
  const attrValue = optionalQuery(req, 'attributeValue');
  const prefix = req.query.get('usePrefixAttributeValue') === 'true';
  if (attrValue !== undefined && attrName === undefined) throw invalid('iot', 'attributeValue requires attributeName');
  const listing = listingHash(['ListThings', type, attrName, attrValue, String(prefix)]);
  let things = state.things;
  if (type !== undefined || attrName !== undefined) {
    // Filtered once per state and listing: paging a large filtered fleet stays linear.
    let cache = filteredThings.get(state);
    if (!cache) filteredThings.set(state, (cache = new Map()));
    let hit = cache.get(listing);
    if (!hit) {
      hit = state.things.filter((t) => {
        if (type !== undefined && t.type !== type) return false;
        if (attrName === undefined) return true;
        const v = t.attributes[attrName];
        if (v === undefined) return false;
        return attrValue === undefined || (prefix ? v.startsWith(attrValue) : v === attrValue);
      });
      cache.set(listing, hit);
    }
    things = hit;
  }
  const page = pageOf(things, (t) => t.name, listing, { nextToken: optionalQuery(req, 'nextToken'), maxResults: maxResults(req, IOT_MAX_RESULTS) }, req.repeatToken);
  if (!page) throw invalidToken(req);
  return ok({ things: page.items.map((t) => thingAttribute(state, t)), ...(page.nextToken !== undefined ? { nextToken: page.nextToken } : {}) });
}

function describeThing(req: OpRequest): OpReply {
  const t = req.state.thing(req.name!);
  if (!t) throw notFound(`Thing ${req.name!} cannot be found.`);
  return ok({ defaultClientId: t.name, ...thingAttribute(req.state, t), thingId: t.id });
}

function listThingTypes(req: OpRequest): OpReply {
  const { state } = req;
  const name = optionalQuery(req, 'thingTypeName');
  const types = name === undefined ? state.thingTypes : state.thingTypes.filter((t) => t.name === name);
  const listing = listingHash(['ListThingTypes', name]);
  const page = pageOf(types, (t) => t.name, listing, { nextToken: optionalQuery(req, 'nextToken'), maxResults: maxResults(req, IOT_MAX_RESULTS) }, req.repeatToken);
  if (!page) throw invalidToken(req);
  return ok({ thingTypes: page.items.map((t) => typeBody(state, t)), ...(page.nextToken !== undefined ? { nextToken: page.nextToken } : {}) });
}

function thingTypeOr404(req: OpRequest): AwsThingType {
  const t = req.state.thingType(req.name!);
  if (!t) throw notFound(`Thing Type ${req.name!} cannot be found.`);
  return t;
}

function describeThingType(req: OpRequest): OpReply {
  const t = thingTypeOr404(req);
  const { thingTypeName, ...rest } = typeBody(req.state, t);
  return ok({ thingTypeName, thingTypeId: t.id, ...rest });
}

function listTagsForResource(req: OpRequest): OpReply {
  const arn = optionalQuery(req, 'resourceArn');
  if (arn === undefined) throw invalid('iot', '1 validation error detected: Value null at \'resourceArn\' failed to satisfy constraint: Member must not be null');
  const tags = req.state.tagsOf(arn);
  if (!tags) throw notFound(`Resource ${arn} cannot be found.`);
  const list = Object.entries(tags)
    .map(([Key, Value]) => ({ Key, Value }))
    .sort((a, b) => (a.Key < b.Key ? -1 : a.Key > b.Key ? 1 : 0));
  const page = pageOf(list, (t) => t.Key, listingHash(['ListTagsForResource', arn]), { nextToken: optionalQuery(req, 'nextToken'), maxResults: TAGS_PAGE }, req.repeatToken);
  if (!page) throw invalidToken(req);
  return ok({ tags: page.items, ...(page.nextToken !== undefined ? { nextToken: page.nextToken } : {}) });
}

function deprecateThingType(req: OpRequest): OpReply {
  const t = thingTypeOr404(req);
  const body = req.body ?? {};
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw invalid('iot', 'The request body must be a JSON object.');
  const undo = (body as { undoDeprecate?: unknown }).undoDeprecate;
  if (undo !== undefined && typeof undo !== 'boolean') throw invalid('iot', 'undoDeprecate must be a boolean.');
  if (undo === true) {
    t.deprecated = false;
    delete t.deprecationDate;
  } else if (!t.deprecated) {
    // Deprecating a deprecated type again keeps its date: the 5 minutes do not start over.
    t.deprecated = true;
    t.deprecationDate = req.now;
  }
  return ok({});
}

function deleteThingType(req: OpRequest): OpReply {
  const t = thingTypeOr404(req);
  if (!t.deprecated || t.deprecationDate === undefined) {
    throw invalid('iot', `Thing type ${t.name} must be deprecated before it can be deleted.`);
  }
  if (req.now - t.deprecationDate < DELETE_AFTER_DEPRECATION_MS) {
    throw invalid('iot', `Thing type ${t.name} cannot be deleted until it has been deprecated for 5 minutes.`);
  }
  // "You cannot delete a thing type if it has things associated with it" (API reference,
  // DeleteThingType): InvalidRequestException (400), as for the other refusals. AWS's exact message was
  // not found in any public source; this one is written in the style of its other IoT messages.
  if (req.state.firstThingOfType(t.name) !== undefined) {
    throw invalid('iot', `Can not delete thing type ${t.name} because there are things associated with it.`);
  }
  req.state.deleteThingType(t.name);
  return ok({});
}

function describeThingGroup(req: OpRequest): OpReply {
  const g = req.state.thingGroup(req.name!);
  if (!g) throw notFound(`Thing Group ${req.name!} cannot be found.`);
  return ok(groupBody(req.state, g));
}

/** The service model lists no ResourceNotFoundException here: deleting an absent group succeeds. */
function deleteDynamicThingGroup(req: OpRequest): OpReply {
  const g = req.state.thingGroup(req.name!);
  if (!g) return ok({});
  if (g.queryString === undefined) throw invalid('iot', `Thing group ${g.name} is not a dynamic thing group.`);
  const expected = optionalQuery(req, 'expectedVersion');
  if (expected !== undefined && Number(expected) !== g.version) {
    throw new AwsError(409, 'VersionConflictException', `The version of thing group ${g.name} is ${g.version}, not ${expected}.`);
  }
  req.state.deleteThingGroup(g.name);
  return ok({});
}

function describeEndpoint(req: OpRequest): OpReply {
  const type = optionalQuery(req, 'endpointType');
  if (type !== undefined && !ENDPOINT_TYPES.includes(type)) throw invalid('iot', `Endpoint type ${type} is not valid.`);
  return ok({ endpointAddress: req.endpointAddress });
}

export const IOT_HANDLERS = {
  ListThings: listThings,
  DescribeThing: describeThing,
  ListThingTypes: listThingTypes,
  DescribeThingType: describeThingType,
  ListTagsForResource: listTagsForResource,
  DeprecateThingType: deprecateThingType,
  DeleteThingType: deleteThingType,
  DescribeThingGroup: describeThingGroup,
  DeleteDynamicThingGroup: deleteDynamicThingGroup,
  DescribeEndpoint: describeEndpoint,
} satisfies Record<string, (req: OpRequest) => OpReply>;
