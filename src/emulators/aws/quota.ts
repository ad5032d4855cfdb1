/**
 * AWS's per-API rates, as the AWS emulator enforces them when asked: `emulate --quota aws` (the
 * published table below), per operation (`--quota ListThings=10/s,DescribeThing=350/s`), the
 * fixture's `aws.quota`, or the `quota` option of `startAwsEmulator`. Unasked, nothing is metered.
 *
 * The windows are the IoT Hub emulator's (iothub/quota.ts: a sliding window per operation on the
 * emulated clock, a refused request takes no slot), so `--time-scale` speeds both emulators alike.
 *
 * What AWS answers past a rate: ThrottlingException ("Rate exceeded"), with the status its service
 * model gives it (IoT: 400, IoT data plane and Greengrass V2: 429) and, for Greengrass V2 only,
 * `Retry-After` (its model binds `retryAfterSeconds` to that header; IoT's has no such member).
 */
import { parseRate, QuotaError } from '../iothub/quota.js';
import { isOperation, OPERATION_NAMES, type AwsOperation } from './operations.js';

/** Operation -> rate text such as "10/s". */
export type AwsQuotaSpec = Partial<Record<AwsOperation, string>>;

/**
 * AWS IoT Core's default API rates (requests per second per account and region, adjustable on
 * request), from the Service Quotas entries "<Operation> API TPS" of service code `iotcore`, which
 * the General Reference's "AWS IoT Core API throttling limits" table
 * (https://docs.aws.amazon.com/general/latest/gr/iot-core.html#throttling-limits) lists:
 *   ListThings L-57AAC135 10, DescribeThing L-0EF0F5EE 350, ListThingTypes L-F9EBF527 10,
 *   DescribeThingType L-DDCF8E97 100, ListTagsForResource L-D127B7BE 10,
 *   DeprecateThingType L-7F1DBFAE 15, DeleteThingType L-CFBDB489 15,
 *   DescribeThingGroup L-52E1E197 100, DeleteDynamicThingGroup L-9DF61146 5.
 * (Older copies of that table, and this project's DESIGN.md, give DescribeThingType 10/s; the
 * current Service Quotas default is 100/s.)
 * DescribeEndpoint (L-F30831DF), GetThingShadow (Device Shadow API, a per-account rate that varies by
 * region), SearchIndex (fleet indexing, AWS IoT Device Management) and the Greengrass V2 operations
 * have no figure we could source: they stay unmetered under `--quota aws` and can be metered by name.
 */
export const PUBLISHED_QUOTA: AwsQuotaSpec = {
  ListThings: '10/s',
  DescribeThing: '350/s',
  ListThingTypes: '10/s',
  DescribeThingType: '100/s',
  ListTagsForResource: '10/s',
  DeprecateThingType: '15/s',
  DeleteThingType: '15/s',
  DescribeThingGroup: '100/s',
  DeleteDynamicThingGroup: '5/s',
};

/** The word that stands for {@link PUBLISHED_QUOTA} on the command line. */
export const PUBLISHED = 'aws';

function unknownOperation(name: string): QuotaError {
  return new QuotaError(`unknown AWS operation "${name}" (expected ${OPERATION_NAMES.join(', ')})`);
}

/** Whether a `--quota` item names the AWS emulator (`aws` or an operation), so `emulate` can route it. */
export function isAwsQuotaItem(name: string): boolean {
  return name === PUBLISHED || isOperation(name);
}

/**
 * `aws`, `ListThings=10/s`, or both (`aws,ListThings=5/s`: the table, with ListThings overridden),
 * comma-separated. Later items win; naming an operation twice is refused.
 */
export function parseAwsQuotaOption(text: string): AwsQuotaSpec {
  let spec: AwsQuotaSpec = {};
  const given = new Set<string>();
  for (const part of text.split(',')) {
    const item = part.trim();
    if (item === '') continue;
    if (item === PUBLISHED) {
      spec = { ...PUBLISHED_QUOTA, ...spec };
      continue;
    }
    const eq = item.indexOf('=');
    if (eq < 0) throw new QuotaError(`"${item}" is not operation=rate (e.g. ListThings=10/s) or "${PUBLISHED}"`);
    const name = item.slice(0, eq).trim();
    if (!isOperation(name)) throw unknownOperation(name);
    if (given.has(name)) throw new QuotaError(`quota "${name}" is given twice`);
    given.add(name);
    spec[name] = parseRate(item.slice(eq + 1)).text;
  }
  if (Object.keys(spec).length === 0) throw new QuotaError(`no AWS quota given, e.g. ${PUBLISHED} or ListThings=10/s`);
  return spec;
}

/** The fixture's form, `{"ListThings": "10/s"}`; errors name the offending key. */
export function checkAwsQuotaSpec(input: unknown, where: string): AwsQuotaSpec {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) throw new QuotaError(`${where} must be an object like {"ListThings": "10/s"}`);
  const spec: AwsQuotaSpec = {};
  for (const [name, value] of Object.entries(input)) {
    if (!isOperation(name)) throw new QuotaError(`${where}.${name}: ${unknownOperation(name).message}`);
    if (typeof value !== 'string') throw new QuotaError(`${where}.${name} must be a string like "10/s"`);
    try {
      spec[name] = parseRate(value).text;
    } catch (err) {
      throw new QuotaError(`${where}.${name}: ${(err as Error).message}`);
    }
  }
  return spec;
}
