/**
 * The operations the AWS emulator serves, named as the SDK names them (the `operation` of
 * `@aws-sdk/client-*` commands: `ListThingsCommand` -> `ListThings`), with the service each belongs to.
 * Stats, faults and quotas use these names.
 */

/** The SigV4 signing name of each service: what a request's credential scope must name. */
export type AwsService = 'iot' | 'iotdata' | 'greengrass';

export const OPERATIONS = {
  ListThings: 'iot',
  DescribeThing: 'iot',
  ListThingTypes: 'iot',
  DescribeThingType: 'iot',
  ListTagsForResource: 'iot',
  DeprecateThingType: 'iot',
  DeleteThingType: 'iot',
  DescribeThingGroup: 'iot',
  DeleteDynamicThingGroup: 'iot',
  DescribeEndpoint: 'iot',
  SearchIndex: 'iot',
  GetThingShadow: 'iotdata',
  ListDeployments: 'greengrass',
  ListCoreDevices: 'greengrass',
  GetCoreDevice: 'greengrass',
} as const satisfies Record<string, AwsService>;

export type AwsOperation = keyof typeof OPERATIONS;

export const OPERATION_NAMES = Object.keys(OPERATIONS) as AwsOperation[];

/** Operations that page with `nextToken` (page and repeat-token faults apply to them). */
export const LIST_OPERATIONS: readonly AwsOperation[] = ['ListThings', 'ListThingTypes', 'ListTagsForResource', 'ListDeployments', 'ListCoreDevices', 'SearchIndex'];

/** Operations about one thing, named in their path (the `thing` fault applies to them). */
export const THING_OPERATIONS: readonly AwsOperation[] = ['DescribeThing', 'GetThingShadow', 'GetCoreDevice'];

export function isOperation(name: string): name is AwsOperation {
  return Object.prototype.hasOwnProperty.call(OPERATIONS, name);
}
