import {
  DeleteDynamicThingGroupCommand,
  DeleteThingTypeCommand,
  DescribeEndpointCommand,
  DescribeThingGroupCommand,
  DescribeThingTypeCommand,
  IoTClient,
  ListTagsForResourceCommand,
  ListThingsCommand,
  ListThingTypesCommand,
  SearchIndexCommand,
  type DescribeThingGroupCommandOutput,
  type DescribeThingTypeCommandOutput,
  type Tag,
  type ThingAttribute,
  type ThingDocument,
  type ThingTypeDefinition,
} from '@aws-sdk/client-iot';
import {
  GreengrassV2Client,
  ListCoreDevicesCommand,
  ListDeploymentsCommand,
  type CoreDevice,
  type CoreDeviceStatus,
  type Deployment,
} from '@aws-sdk/client-greengrassv2';
import { ConfigError, type AwsConfig } from '../../config.js';
import { formatDuration } from '../../duration.js';
import type { Logger } from '../../run/log.js';
import { ApiCallCounter, ProviderError } from '../errors.js';
import { Pacer } from '../pace.js';
import { backoffMs, DEFAULT_RETRY, REAL_CLOCK, scaledClock, type Clock } from '../retry.js';
import { edgeVerdictOf, type EdgeVerdict } from './edge.js';
import { boundedHttpHandler } from './http.js';
import { leanSdkClient } from './sdk-stack.js';
import { SdkThreads, type SdkThreadOptions } from './sdk-threads.js';
import { classifyAwsError, isMissingCredentials, type AwsFailure } from './errors.js';
import { FLEET_INDEX_UNAVAILABLE_ERRORS, FleetIndexUnavailable, THING_INDEX } from './fleet-index.js';
import { awsPages } from './paging.js';

// The SDK warns on every run that its releases after early 2027 need Node 22. This tool pins the
// SDK's versions and runs on Node 20 on purpose (package.json): the warning would only be noise on
// stderr, in every cron mail. Set before the first client is made, which is when the SDK checks.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** Items per page of the list calls: the most each one allows, so a pass costs the fewest calls. */
const IOT_PAGE_SIZE = 250;
const GREENGRASS_PAGE_SIZE = 100;
/** SearchIndex: "This maximum number cannot exceed 100" (API reference; older copies said 500). */
const SEARCH_PAGE_SIZE = 100;

/** AWS meters each API per second ("AWS IoT Core API throttling limits": transactions per second). */
const AWS_METERING_WINDOW_MS = 1_000;

type Service = 'iot' | 'dataPlane' | 'greengrass';
const SERVICE_NAME: Record<Service, string> = { iot: 'AWS IoT', dataPlane: 'AWS IoT data plane', greengrass: 'AWS Greengrass V2' };

export interface AwsIotDeps {
  /** Time as the client reads and waits on it; tests pass one whose waits take no real time. */
  readonly clock?: Clock;
  readonly random?: () => number;
  /** Worker threads the per-thing calls spill to in a big pass, and after how many calls (sdk-threads.ts). */
  readonly sdkThreads?: SdkThreadOptions;
}

/** What a request does when the resource is not there (404): give this value instead of failing. */
interface RequestOptions<T> {
  readonly what?: string;
  readonly notFound?: () => T;
  /**
   * An answer that says something about the account rather than this attempt (fleet indexing is
   * off): the error to throw instead, at once and unretried; null for any other failure.
   */
  readonly settled?: (error: unknown, failure: AwsFailure) => Error | null;
}

/**
 * The AWS IoT Core, IoT data plane and Greengrass V2 calls of the AWS inventories, over the real SDK
 * clients. One instance per pass: every request is counted under its SDK operation name in the
 * pass's counter, paced per operation, retried here (the SDK's own retries are off, so the counts and
 * the retry budget are ours), bounded by --request-timeout, and its failure mapped to a
 * ProviderError whose kind gives the exit code. Per-type answers are cached for the pass.
 */
export class AwsIot {
  private readonly iot: IoTClient;
  private readonly greengrass: GreengrassV2Client;
  /** Where the per-thing calls are sent from (the pass's thread, then workers), made by the first such call. */
  private threadPool: SdkThreads | null = null;
  private dataPlaneAt: Promise<string> | null = null;
  private readonly threadOptions: SdkThreadOptions;
  private readonly clock: Clock;
  private readonly random: () => number;
  /**
   * A pacer per operation: AWS meters each API on its own (DescribeThing 350/s, ListThings 10/s...),
   * so a throttled ListTagsForResource must not slow DescribeThing. --rate bounds each operation.
   */
  private readonly pacers = new Map<string, Pacer>();
  private readyCheck: Promise<void> | null = null;
  private region: string | undefined;
  /** The account of the ARNs read so far: AWS names no account elsewhere without an STS call. */
  private account: string | null = null;
  private readonly types = new Map<string, Promise<DescribeThingTypeCommandOutput>>();
  private readonly edges = new Map<string, Promise<EdgeVerdict>>();
  private readonly groups = new Map<string, Promise<DescribeThingGroupCommandOutput | null>>();

  constructor(
    private readonly config: AwsConfig,
    readonly calls: ApiCallCounter,
    /** Also what the pass's other AWS readers (the fleet gauges) log through. */
    readonly log: Pick<Logger, 'warn' | 'debug'>,
    deps: AwsIotDeps = {},
  ) {
    this.clock = deps.clock ?? scaledClock(config.timeScale, REAL_CLOCK);
    this.random = deps.random ?? Math.random;
    this.threadOptions = deps.sdkThreads ?? {};
    this.region = config.region;
    // Region, credentials and endpoints come from the SDK's own chain (AWS_REGION, AWS_PROFILE, the
    // AWS_ENDPOINT_URL_* variables...). maxAttempts 1: no retry behind our back.
    this.iot = leanSdkClient(new IoTClient(this.clientConfig()));
    this.greengrass = leanSdkClient(new GreengrassV2Client(this.clientConfig()));
  }

  /** Every page of ListThingTypes. */
  listThingTypes(): AsyncIterable<ThingTypeDefinition[]> {
    return awsPages('ListThingTypes', async (nextToken) => {
      const out = await this.request('iot', 'ListThingTypes', () => this.iot.send(new ListThingTypesCommand({ nextToken, maxResults: IOT_PAGE_SIZE })));
      return { items: out.thingTypes, nextToken: out.nextToken };
    });
  }

  /** One DescribeThingType per type and pass, whoever asks (its answer, or its failure, is kept). */
  describeThingType(name: string): Promise<DescribeThingTypeCommandOutput> {
    return cached(this.types, name, () =>
      this.request('iot', 'DescribeThingType', () => this.iot.send(new DescribeThingTypeCommand({ thingTypeName: name })), {
        what: `thing type ${name}`,
      }),
    );
  }

  /** Every tag of a resource, all pages. */
  async listTags(arn: string): Promise<Tag[]> {
    const tags: Tag[] = [];
    const pages = awsPages('ListTagsForResource', async (nextToken) => {
      const out = await this.request('iot', 'ListTagsForResource', () => this.iot.send(new ListTagsForResourceCommand({ resourceArn: arn, nextToken })), {
        what: arn,
      });
      return { items: out.tags, nextToken: out.nextToken };
    });
    for await (const page of pages) tags.push(...page);
    return tags;
  }

  /** Edge or not, by the type's `iotEdge` tag (DescribeThingType for its ARN, then its tags); once per type and pass. */
  thingTypeEdge(name: string): Promise<EdgeVerdict> {
    return cached(this.edges, name, async () => {
      const type = await this.describeThingType(name);
      if (!type.thingTypeArn) return { kind: 'unknown', reason: 'DescribeThingType gave no ARN to read its tags from' };
      return edgeVerdictOf(await this.listTags(type.thingTypeArn));
    });
  }

  /** `<account>/<region>` of what this client read, once a ListThings page has shown an ARN; null before (or for an empty account). */
  accountAndRegion(): string | null {
    return this.account !== null && this.region !== undefined ? `${this.account}/${this.region}` : null;
  }

  /** Every page of ListThings (name, type, version, attributes). */
  listThings(): AsyncIterable<ThingAttribute[]> {
    return awsPages('ListThings', async (nextToken) => {
      const out = await this.request('iot', 'ListThings', () => this.iot.send(new ListThingsCommand({ nextToken, maxResults: IOT_PAGE_SIZE })));
      this.account ??= accountOfArn(out.things?.[0]?.thingArn);
      return { items: out.things, nextToken: out.nextToken };
    });
  }

  /**
   * One thing that still has the type, or null when none has: AWS refuses to delete a type "if it
   * has things associated with it" (DeleteThingType), so a caller asks before planning that. One
   * ListThings call of one thing (thingTypeName, maxResults 1); a next page is asked for only when
   * a page came back empty with a token, as a filtered listing may. `more`: AWS gave a token after
   * the thing it named, so there may be others.
   */
  async thingOfType(typeName: string): Promise<ThingOfType | null> {
    let token: string | undefined;
    const pages = awsPages('ListThings', async (nextToken) => {
      const out = await this.request(
        'iot',
        'ListThings',
        () => this.iot.send(new ListThingsCommand({ thingTypeName: typeName, maxResults: 1, nextToken })),
        { what: `things of thing type ${typeName}` },
      );
      token = out.nextToken || undefined;
      return { items: out.things, nextToken: out.nextToken };
    });
    for await (const page of pages) {
      const thing = page[0];
      if (thing) return { name: thing.thingName ?? '(no name)', more: token !== undefined };
    }
    return null;
  }

  /** A thing's id (DescribeThing), sent on one of the pass's SDK threads. */
  describeThing(name: string): Promise<{ readonly thingId: string | undefined }> {
    return this.request(
      'iot',
      'DescribeThing',
      async () => {
        const answer = await this.threads().send({ operation: 'DescribeThing', thingName: name });
        return { thingId: 'thingId' in answer ? answer.thingId : undefined };
      },
      { what: `thing ${name}` },
    );
  }

  /** Whether the thing has a classic (unnamed) shadow: GetThingShadow answers it, or 404. On an SDK thread. */
  async hasClassicShadow(thingName: string): Promise<boolean> {
    const endpoint = await this.dataPlaneEndpoint();
    return this.request(
      'dataPlane',
      'GetThingShadow',
      async () => {
        await this.threads().send({ operation: 'GetThingShadow', thingName, endpoint });
        return true;
      },
      { what: `thing ${thingName}`, notFound: () => false },
    );
  }

  /** Stops the SDK threads, if the pass started them; a later per-thing call starts them again. */
  async close(): Promise<void> {
    const pool = this.threadPool;
    this.threadPool = null;
    await pool?.close();
  }

  /**
   * Every page of the AWS_Things fleet index's answer to `queryString` (SearchIndex). Fleet indexing
   * off, or the query naming a field the index does not hold (connectivity without connectivity
   * indexing), or the index still being built: a {@link FleetIndexUnavailable}, never retried.
   */
  searchThings(queryString: string): AsyncIterable<ThingDocument[]> {
    return awsPages('SearchIndex', async (nextToken) => {
      const out = await this.request(
        'iot',
        'SearchIndex',
        () => this.iot.send(new SearchIndexCommand({ indexName: THING_INDEX, queryString, nextToken, maxResults: SEARCH_PAGE_SIZE })),
        {
          what: `index ${THING_INDEX}, query ${queryString}`,
          settled: (error, failure) => {
            const code = (error as { name?: unknown } | null)?.name;
            if (typeof code !== 'string' || !FLEET_INDEX_UNAVAILABLE_ERRORS.has(code)) return null;
            return new FleetIndexUnavailable(code, `AWS SearchIndex (index ${THING_INDEX}, query ${queryString}): ${failure.detail}`, failure.status);
          },
        },
      );
      return { items: out.things, nextToken: out.nextToken };
    });
  }

  /**
   * Every page of ListCoreDevices (Greengrass V2): each core's health, in one listing per pass;
   * with `status`, only the core devices AWS reports in that status.
   */
  listCoreDevices(status?: CoreDeviceStatus): AsyncIterable<CoreDevice[]> {
    return awsPages('ListCoreDevices', async (nextToken) => {
      const out = await this.request('greengrass', 'ListCoreDevices', () =>
        this.greengrass.send(new ListCoreDevicesCommand({ nextToken, maxResults: GREENGRASS_PAGE_SIZE, ...(status !== undefined ? { status } : {}) })),
      );
      return { items: out.coreDevices, nextToken: out.nextToken };
    });
  }

  /** Every page of ListDeployments, the latest revision of each only. */
  listLatestDeployments(): AsyncIterable<Deployment[]> {
    return awsPages('ListDeployments', async (nextToken) => {
      const out = await this.request('greengrass', 'ListDeployments', () =>
        this.greengrass.send(new ListDeploymentsCommand({ historyFilter: 'LATEST_ONLY', nextToken, maxResults: GREENGRASS_PAGE_SIZE })),
      );
      return { items: out.deployments, nextToken: out.nextToken };
    });
  }

  /** A thing group, or null when there is none of that name; once per group and pass. */
  describeThingGroup(name: string): Promise<DescribeThingGroupCommandOutput | null> {
    return cached(this.groups, name, () =>
      this.request<DescribeThingGroupCommandOutput | null>(
        'iot',
        'DescribeThingGroup',
        () => this.iot.send(new DescribeThingGroupCommand({ thingGroupName: name })),
        { what: `thing group ${name}`, notFound: () => null },
      ),
    );
  }

  /** Deletes a (deprecated) thing type; 'absent' when it is gone already (another run got there first). */
  deleteThingType(name: string): Promise<'deleted' | 'absent'> {
    return this.request<'deleted' | 'absent'>(
      'iot',
      'DeleteThingType',
      async () => {
        await this.iot.send(new DeleteThingTypeCommand({ thingTypeName: name }));
        return 'deleted';
      },
      { what: `thing type ${name}`, notFound: () => 'absent' },
    );
  }

  /** Deletes a dynamic thing group; 'absent' (not a failure) when there is none of that name. */
  deleteDynamicThingGroup(name: string): Promise<'deleted' | 'absent'> {
    return this.request<'deleted' | 'absent'>(
      'iot',
      'DeleteDynamicThingGroup',
      async () => {
        await this.iot.send(new DeleteDynamicThingGroupCommand({ thingGroupName: name }));
        return 'deleted';
      },
      { what: `thing group ${name}`, notFound: () => 'absent' },
    );
  }

  /**
   * Region and credentials, checked once before the first request: missing either is a configuration
   * error saying which, not a failure of whatever call came first.
   */
  private ready(): Promise<void> {
    return (this.readyCheck ??= this.checkConfiguration());
  }

  private async checkConfiguration(): Promise<void> {
    try {
      this.region = await this.iot.config.region();
    } catch {
      throw new ConfigError('no AWS region: set AWS_REGION (or a region in the AWS_PROFILE profile of the AWS config file)');
    }
    try {
      const credentials = this.iot.config.credentials as unknown as (() => Promise<unknown>) | undefined;
      await credentials?.();
    } catch (error) {
      if (isMissingCredentials(error)) {
        throw new ConfigError(
          'no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE (the SDK\'s default credentials chain found none)',
        );
      }
      throw new ConfigError(`the AWS credentials could not be loaded: ${(error as Error).message ?? String(error)}`);
    }
  }

  /** The per-thing calls' threads, made with this pass's region, IoT endpoint and HTTP bounds. */
  private threads(): SdkThreads {
    return (this.threadPool ??= new SdkThreads({ region: this.region, iotEndpoint: this.config.endpoints.iot, ...this.httpBounds() }, this.threadOptions));
  }

  /**
   * The data plane's endpoint, found once per pass: the one the environment names, or the account's
   * `iot:Data-ATS` endpoint from DescribeEndpoint, over https, or over http when the IoT endpoint
   * itself is http (only an emulator is).
   */
  private dataPlaneEndpoint(): Promise<string> {
    return (this.dataPlaneAt ??= (async () => {
      if (this.config.endpoints.dataPlane !== undefined) return this.config.endpoints.dataPlane;
      const out = await this.request('iot', 'DescribeEndpoint', () => this.iot.send(new DescribeEndpointCommand({ endpointType: 'iot:Data-ATS' })));
      if (!out.endpointAddress) throw new ProviderError('aws', 'protocol', 'AWS DescribeEndpoint (iot:Data-ATS) gave no endpoint address');
      const scheme = this.config.endpoints.iot?.startsWith('http:') ? 'http' : 'https';
      return `${scheme}://${out.endpointAddress}`;
    })());
  }

  /** In real time: an emulated minute lasts 60/timeScale real seconds, as scaledClock makes it. */
  private httpBounds() {
    return { timeoutMs: Math.max(1, Math.round(this.config.requestTimeoutMs / this.config.timeScale)), concurrency: this.config.concurrency };
  }

  /**
   * What every SDK client of the pass is made with. `cacheMiddleware`: the middleware stack is
   * resolved once per command type, not per call (the SDK only does so for a send without options,
   * hence --request-timeout in the HTTP handler, http.ts, rather than an `abortSignal` per call).
   * Each client has its own handler, and so its own keep-alive agents.
   */
  private clientConfig() {
    return {
      region: this.config.region,
      maxAttempts: 1,
      cacheMiddleware: true,
      requestHandler: boundedHttpHandler(this.httpBounds()),
    };
  }

  private pacerOf(operation: string): Pacer {
    let pacer = this.pacers.get(operation);
    if (!pacer) {
      pacer = new Pacer(this.config.rate, this.clock, { windowMs: AWS_METERING_WINDOW_MS });
      this.pacers.set(operation, pacer);
    }
    return pacer;
  }

  /**
   * One call, retried while it fails in a way a later attempt may not (throttling, 5xx, the network,
   * a timeout), at most --max-retries times, waiting what the service asked (Retry-After) or an
   * exponential backoff. Every attempt is counted.
   */
  private async request<T>(service: Service, operation: string, send: () => Promise<T>, options: RequestOptions<T> = {}): Promise<T> {
    await this.ready();
    for (let attempt = 0; ; attempt++) {
      const pacer = this.pacerOf(operation);
      this.calls.quota.waitMs += await pacer.acquire();
      const sentAt = this.clock.now();
      this.calls.add(operation);
      let failure: AwsFailure;
      try {
        // Bounded by --request-timeout in the clients' HTTP handler (http.ts): a request past it fails as a TimeoutError.
        const result = await send();
        pacer.succeeded();
        return result;
      } catch (error) {
        failure = classifyAwsError(error, this.clock.now());
        const settled = options.settled?.(error, failure);
        if (settled) throw settled;
      }
      if (failure.kind === 'not-found' && options.notFound) return options.notFound();
      if (failure.throttled) {
        this.calls.quota.throttled++;
        pacer.throttled(sentAt);
      }
      if (!failure.retryable || attempt >= this.config.maxRetries) throw this.toError(service, operation, failure, attempt + 1, options.what);
      const waitMs = failure.retryAfterMs ?? backoffMs(attempt, { ...DEFAULT_RETRY, maxRetries: this.config.maxRetries }, this.random);
      const message = `AWS ${operation}${options.what ? ` (${options.what})` : ''}: ${this.describe(service, failure)}; retry ${attempt + 1} of ${this.config.maxRetries} in ${waitMs} ms`;
      // Throttling is the quota at work, not a fault: with requests in flight the pacer probes the
      // rate and some 429s are expected. Their count and the time waited end the table's last line.
      if (failure.throttled) this.log.debug(message);
      else this.log.warn(message);
      await this.clock.sleep(waitMs);
      if (failure.throttled) this.calls.quota.waitMs += waitMs;
    }
  }

  private describe(service: Service, failure: AwsFailure): string {
    if (failure.kind === 'timeout') return `timed out after ${formatDuration(this.config.requestTimeoutMs)}`;
    if (failure.kind === 'unreachable') return `${this.endpointName(service)} is ${failure.detail}`;
    return failure.detail;
  }

  private endpointName(service: Service): string {
    const url = this.config.endpoints[service];
    return url !== undefined ? `${SERVICE_NAME[service]} at ${url}` : `the ${SERVICE_NAME[service]} endpoint of ${this.region ?? 'the region'}`;
  }

  private toError(service: Service, operation: string, failure: AwsFailure, attempts: number, what: string | undefined): ProviderError {
    const subject = `AWS ${operation}${what ? ` (${what})` : ''}`;
    if (failure.kind === 'auth') {
      // Names the operation (an IAM policy may allow some calls and not others), never a key.
      return new ProviderError(
        'aws',
        'auth',
        `${subject} was refused: ${failure.detail}; check the AWS credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE) and that their IAM policy allows ${service === 'greengrass' ? 'greengrass' : 'iot'}:${operation}`,
        failure.status,
      );
    }
    const kind = failure.kind === 'not-found' ? 'bad-request' : failure.kind;
    const after = failure.retryable ? ` after ${attempts} attempt${attempts === 1 ? '' : 's'}` : '';
    return new ProviderError('aws', kind, `${subject} failed${after}: ${this.describe(service, failure)}`, failure.status);
  }
}

/** A thing that has a given type, as {@link AwsIot.thingOfType} found it. */
export interface ThingOfType {
  readonly name: string;
  /** The listing went on after it: other things may have the type too. */
  readonly more: boolean;
}

/** The promise of `key` in `cache`, made by `make` on first use. */
function cached<T>(cache: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> {
  let promise = cache.get(key);
  if (!promise) {
    promise = make();
    // Kept even when it fails: a type whose describe failed is not asked again for each of its things.
    promise.catch(() => undefined);
    cache.set(key, promise);
  }
  return promise;
}

/** The account field of an ARN (`arn:aws:iot:<region>:<account>:...`), or null. */
function accountOfArn(arn: string | undefined): string | null {
  const account = arn?.split(':')[4];
  return account && /^\d{12}$/.test(account) ? account : null;
}
