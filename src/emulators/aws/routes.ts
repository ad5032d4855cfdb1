/**
 * Which operation a request names, from its method and path, as the SDKs' schemas bind them
 * (`http` trait of each operation in `@aws-sdk/client-iot`, `client-iot-data-plane`,
 * `client-greengrassv2`):
 *
 *   GET    /things                                   ListThings
 *   GET    /things/{thingName}                       DescribeThing
 *   GET    /things/{thingName}/shadow                GetThingShadow (data plane; ?name= for a named shadow)
 *   GET    /thing-types                              ListThingTypes
 *   GET    /thing-types/{thingTypeName}              DescribeThingType
 *   POST   /thing-types/{thingTypeName}/deprecate    DeprecateThingType (body {"undoDeprecate": bool})
 *   DELETE /thing-types/{thingTypeName}              DeleteThingType
 *   GET    /tags?resourceArn=                        ListTagsForResource
 *   GET    /thing-groups/{thingGroupName}            DescribeThingGroup
 *   DELETE /dynamic-thing-groups/{thingGroupName}    DeleteDynamicThingGroup
 *   GET    /endpoint?endpointType=                   DescribeEndpoint
 *   POST   /indices/search                           SearchIndex (body {"indexName", "queryString", "nextToken", "maxResults"})
 *   GET    /greengrass/v2/deployments                ListDeployments
 *   GET    /greengrass/v2/coreDevices                ListCoreDevices
 *   GET    /greengrass/v2/coreDevices/{name}         GetCoreDevice
 */
import { OPERATIONS, type AwsOperation, type AwsService } from './operations.js';

export type AwsRoute =
  | { kind: 'operation'; operation: AwsOperation; service: AwsService; name?: string }
  /** A label that is not valid percent-encoding. */
  | { kind: 'badLabel'; operation: AwsOperation; service: AwsService }
  | { kind: 'unknown' };

interface Pattern {
  method: string;
  /** Path segments; `*` is the label. */
  segments: string[];
  operation: AwsOperation;
}

const PATTERNS: Pattern[] = (
  [
    ['GET', '/things', 'ListThings'],
    ['GET', '/things/*', 'DescribeThing'],
    ['GET', '/things/*/shadow', 'GetThingShadow'],
    ['GET', '/thing-types', 'ListThingTypes'],
    ['GET', '/thing-types/*', 'DescribeThingType'],
    ['POST', '/thing-types/*/deprecate', 'DeprecateThingType'],
    ['DELETE', '/thing-types/*', 'DeleteThingType'],
    ['GET', '/tags', 'ListTagsForResource'],
    ['GET', '/thing-groups/*', 'DescribeThingGroup'],
    ['DELETE', '/dynamic-thing-groups/*', 'DeleteDynamicThingGroup'],
    ['GET', '/endpoint', 'DescribeEndpoint'],
    ['POST', '/indices/search', 'SearchIndex'],
    ['GET', '/greengrass/v2/deployments', 'ListDeployments'],
    ['GET', '/greengrass/v2/coreDevices', 'ListCoreDevices'],
    ['GET', '/greengrass/v2/coreDevices/*', 'GetCoreDevice'],
  ] as const
).map(([method, path, operation]) => ({ method, segments: path.split('/').slice(1), operation }));

export function matchAwsRoute(method: string, path: string): AwsRoute {
  const segments = path.split('/').slice(1);
  for (const p of PATTERNS) {
    if (p.method !== method || p.segments.length !== segments.length) continue;
    let label: string | undefined;
    let ok = true;
    for (let i = 0; i < segments.length && ok; i++) {
      if (p.segments[i] === '*') {
        if (segments[i] === '') ok = false;
        else label = segments[i];
      } else ok = p.segments[i] === segments[i];
    }
    if (!ok) continue;
    const service = OPERATIONS[p.operation];
    if (label === undefined) return { kind: 'operation', operation: p.operation, service };
    try {
      return { kind: 'operation', operation: p.operation, service, name: decodeURIComponent(label) };
    } catch {
      return { kind: 'badLabel', operation: p.operation, service };
    }
  }
  return { kind: 'unknown' };
}
