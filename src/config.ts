import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_MASS_DELETE, type MassDeletePolicy } from './reconcile/index.js';
import { DbUrlError, DEFAULT_DB_URL, parseDbUrl, type DbTarget } from './store/db.js';
import { ConnectionStringError, parseConnectionString, type IotHubCredentials } from './providers/iothub/sas.js';
import type { LogFormat } from './run/log.js';
import { DEFAULT_RETRY } from './providers/retry.js';
import { DurationError, formatDuration, parseDuration } from './duration.js';
import { parseRate, type Rate } from './providers/pace.js';

/** Bad configuration (the environment, credentials, paths): exit 78. Messages never quote a secret. */
export class ConfigError extends Error {}

/** A bad value typed on the command line (a flag's value): exit 64, as an unknown option is. */
export class UsageError extends Error {}

/** The error for a bad value, by where it came from: a flag is a usage error, the environment is configuration. */
function badValue(from: 'flag' | 'env', message: string): Error {
  return from === 'flag' ? new UsageError(message) : new ConfigError(message);
}

export type Env = Readonly<Record<string, string | undefined>>;

/** Options every pass command takes, as commander hands them over. */
export interface CommonOptions {
  db?: string;
  dryRun?: boolean;
  json?: boolean;
  detailedExitcode?: boolean;
  allowMassDelete?: boolean;
  maxDeleteShare?: string;
  lock?: string;
  lockDir?: string;
  pushgateway?: string;
  logFormat?: string;
  maxRows?: string;
  progress?: boolean;
  keepEvents?: string;
  maxDuration?: string;
}

export interface PassConfig {
  readonly command: string;
  /** What the run's lock is named after, when not the command (`jasper`: one lock per service provider). */
  readonly lockName?: string;
  readonly db: DbTarget;
  readonly dryRun: boolean;
  readonly json: boolean;
  readonly detailedExitcode: boolean;
  readonly massDelete: MassDeletePolicy;
  readonly lock: 'file' | 'postgres';
  readonly lockDir: string;
  /** A file lock not refreshed for this long belongs to a dead run on another host. */
  readonly lockStaleMs: number;
  readonly pushgateway: string | null;
  readonly logFormat: LogFormat;
  readonly maxRows: number;
  readonly color: boolean;
  readonly progress: boolean;
  /** No --db, PORTAL_SYNC_DB or DATABASE_URL: the default file in the working directory is used. */
  readonly dbIsDefault: boolean;
  /** Run-log events older than this are pruned after each pass; null keeps them all. */
  readonly keepEventsMs: number | null;
  /** A listing still running this long after the pass started stops there, as partial; null: no limit. */
  readonly maxDurationMs: number | null;
}

export function resolveDb(option: string | undefined, env: Env): DbTarget {
  const url = option ?? env.PORTAL_SYNC_DB ?? env.DATABASE_URL ?? DEFAULT_DB_URL;
  const source = option !== undefined ? '--db' : env.PORTAL_SYNC_DB !== undefined ? 'PORTAL_SYNC_DB' : env.DATABASE_URL !== undefined ? 'DATABASE_URL' : '--db';
  try {
    return parseDbUrl(url, source);
  } catch (error) {
    if (error instanceof DbUrlError) throw badValue(option === undefined ? 'env' : 'flag', error.message);
    throw error;
  }
}

export const DEFAULT_KEEP_EVENTS = '30d';

/** How long the run log keeps events: a duration, or `forever`. */
function resolveKeepEvents(option: string | undefined, env: string | undefined): number | null {
  const value = option ?? env ?? DEFAULT_KEEP_EVENTS;
  if (value === 'forever') return null;
  const from = option === undefined ? 'env' : 'flag';
  const name = from === 'flag' ? '--keep-events' : 'PORTAL_SYNC_KEEP_EVENTS';
  try {
    const ms = parseDuration(value);
    if (ms >= 3_600_000) return ms;
  } catch {
    // reported below, with what is accepted
  }
  throw badValue(from, `${name} must be a duration of at least 1h (e.g. 30d) or "forever", got "${value}"`);
}

export function resolveLogFormat(value: string | undefined): LogFormat {
  const format = value ?? 'text';
  if (format !== 'text' && format !== 'json') throw new UsageError(`--log-format must be text or json, got "${format}"`);
  return format;
}

export function resolvePassConfig(command: string, opts: CommonOptions, env: Env, stdoutIsTty: boolean): PassConfig {
  const dbIsDefault = opts.db === undefined && env.PORTAL_SYNC_DB === undefined && env.DATABASE_URL === undefined;
  if (dbIsDefault && !stdoutIsTty) {
    // Under cron or a CronJob the working directory is anyone's guess: the default would quietly be a
    // new, empty database there, every device skipped for want of models, and exit 0.
    throw new ConfigError(
      `no portal database given: set --db, PORTAL_SYNC_DB or DATABASE_URL (the default ${DEFAULT_DB_URL} is used only on a terminal, where it is named)`,
    );
  }
  const db = resolveDb(opts.db, env);
  const lock = opts.lock ?? env.PORTAL_SYNC_LOCK ?? 'file';
  const lockFrom = opts.lock === undefined ? 'env' : 'flag';
  if (lock !== 'file' && lock !== 'postgres') {
    throw badValue(lockFrom, `${lockFrom === 'flag' ? '--lock' : 'PORTAL_SYNC_LOCK'} must be file or postgres, got "${lock}"`);
  }
  if (lock === 'postgres' && db.client !== 'postgres') {
    throw badValue(lockFrom, '--lock postgres needs a PostgreSQL --db: the advisory lock lives in the portal database');
  }
  const maxShare = opts.maxDeleteShare === undefined ? DEFAULT_MASS_DELETE.maxShare : Number(opts.maxDeleteShare);
  if (!Number.isFinite(maxShare) || maxShare < 0 || maxShare > 1) {
    throw new UsageError('--max-delete-share must be a number between 0 and 1');
  }
  const maxRows = opts.maxRows === undefined ? 50 : Number(opts.maxRows);
  if (!Number.isInteger(maxRows) || maxRows < 0) throw new UsageError('--max-rows must be a whole number');
  const pushgateway = opts.pushgateway ?? env.PORTAL_SYNC_PUSHGATEWAY ?? null;
  if (pushgateway !== null) {
    try {
      const url = new URL(pushgateway);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error();
    } catch {
      const from = opts.pushgateway === undefined ? 'env' : 'flag';
      throw badValue(from, `${from === 'flag' ? '--pushgateway' : 'PORTAL_SYNC_PUSHGATEWAY'} must be an http(s) URL`);
    }
  }
  const lockStaleMs = env.PORTAL_SYNC_LOCK_STALE_MS === undefined ? 30_000 : Number(env.PORTAL_SYNC_LOCK_STALE_MS);
  if (!Number.isInteger(lockStaleMs) || lockStaleMs < 2000) throw new ConfigError('PORTAL_SYNC_LOCK_STALE_MS must be a whole number of milliseconds, at least 2000');
  const json = opts.json === true;
  return {
    command,
    db,
    dryRun: opts.dryRun === true,
    json,
    detailedExitcode: opts.detailedExitcode === true,
    massDelete: { ...DEFAULT_MASS_DELETE, maxShare, allow: opts.allowMassDelete === true },
    lock,
    lockDir: opts.lockDir ?? env.PORTAL_SYNC_LOCK_DIR ?? join(tmpdir(), 'portal-sync-locks'),
    lockStaleMs,
    pushgateway,
    logFormat: resolveLogFormat(opts.logFormat),
    maxRows,
    color: stdoutIsTty && !json && env.NO_COLOR === undefined && env.TERM !== 'dumb',
    progress: opts.progress !== false,
    dbIsDefault,
    keepEventsMs: resolveKeepEvents(opts.keepEvents, env.PORTAL_SYNC_KEEP_EVENTS),
    maxDurationMs: opts.maxDuration === undefined ? null : resolveDuration('--max-duration', opts.maxDuration),
  };
}

export interface IotHubConfig {
  readonly credentials: IotHubCredentials;
  readonly endpoint: string | undefined;
  readonly pageSize: number;
  readonly maxRetries: number;
  /** One HTTP request, from sending it to the last byte of its answer. */
  readonly requestTimeoutMs: number;
  /** Everything one page may take: its attempts and the waits between them. */
  readonly pageBudgetMs: number;
  /** Requests per unit of time the pass may make (`--rate`); null: as fast as the hub answers, slowing down on 429. */
  readonly rate: Rate | null;
  /** Emulated time runs this many times faster (tests and benchmarks against an emulator with the same --time-scale). */
  readonly timeScale: number;
}

export const DEFAULT_REQUEST_TIMEOUT = '30s';
export const DEFAULT_PAGE_BUDGET = '60s';
// Past this, a timer no longer fires when asked (setTimeout holds 2^31 - 1 ms); a day is plenty anyway.
const MAX_DURATION_MS = 24 * 3_600_000;

export interface IotHubOptions {
  pageSize?: string;
  maxRetries?: string;
  rate?: string;
  requestTimeout?: string;
  pageBudget?: string;
}

/** A duration option's value in ms: a usage error when it is not one, or is 0, or longer than a day. */
export function resolveDuration(option: string, value: string): number {
  let ms: number;
  try {
    ms = parseDuration(value);
  } catch (error) {
    if (error instanceof DurationError) throw new UsageError(`${option}: ${error.message}`);
    throw error;
  }
  if (ms <= 0) throw new UsageError(`${option} must be longer than 0 ms, got "${value}"`);
  if (ms > MAX_DURATION_MS) throw new UsageError(`${option} must be at most ${formatDuration(MAX_DURATION_MS)}, got "${value}"`);
  return ms;
}

export function resolveIotHubConfig(opts: IotHubOptions, env: Env): IotHubConfig {
  const connectionString = env.IOTHUB_CONNECTION_STRING;
  if (!connectionString) throw new ConfigError('IOTHUB_CONNECTION_STRING is not set (the hub\'s service connection string)');
  let credentials: IotHubCredentials;
  try {
    credentials = parseConnectionString(connectionString);
  } catch (error) {
    if (error instanceof ConnectionStringError) throw new ConfigError(error.message);
    throw error;
  }
  const endpoint = env.IOTHUB_ENDPOINT || undefined;
  if (endpoint !== undefined) {
    try {
      new URL(endpoint);
    } catch {
      throw new ConfigError('IOTHUB_ENDPOINT is not a valid URL');
    }
  }
  const pageSize = opts.pageSize === undefined ? 100 : Number(opts.pageSize);
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) throw new UsageError('--page-size must be a whole number from 1 to 1000');
  const maxRetries = opts.maxRetries === undefined ? DEFAULT_RETRY.maxRetries : Number(opts.maxRetries);
  if (!Number.isInteger(maxRetries) || maxRetries < 0 || maxRetries > 20) throw new UsageError('--max-retries must be a whole number from 0 to 20');
  const requestTimeoutMs = resolveDuration('--request-timeout', opts.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT);
  const pageBudgetMs = resolveDuration('--page-budget', opts.pageBudget ?? DEFAULT_PAGE_BUDGET);
  const rateText = opts.rate ?? env.PORTAL_SYNC_IOTHUB_RATE;
  const rate = rateText === undefined ? null : parseRate(rateText);
  if (rateText !== undefined && rate === null) {
    const from = opts.rate === undefined ? 'env' : 'flag';
    throw badValue(from, `${from === 'flag' ? '--rate' : 'PORTAL_SYNC_IOTHUB_RATE'} must be requests per unit of time, e.g. 20/min or 5/s, got "${rateText}"`);
  }
  return { credentials, endpoint, pageSize, maxRetries, requestTimeoutMs, pageBudgetMs, rate, timeScale: resolveTimeScale(env) };
}

/**
 * The AWS side's settings. Region, credentials and endpoints follow the SDK's own conventions (the SDK
 * reads them itself); they are only checked here, so that a bad endpoint URL is a configuration error
 * before anything runs instead of an obscure failure of the first request.
 */
export interface AwsConfig {
  /** AWS_REGION; undefined leaves it to the SDK's profile (AWS_PROFILE, ~/.aws/config), checked when the pass starts. */
  readonly region: string | undefined;
  /** The endpoint URLs the SDK will use, as the environment sets them (undefined: AWS's own). */
  readonly endpoints: {
    readonly iot: string | undefined;
    readonly dataPlane: string | undefined;
    readonly greengrass: string | undefined;
  };
  readonly maxRetries: number;
  /** One request, from sending it to the last byte of its answer. */
  readonly requestTimeoutMs: number;
  /** Per-record calls in flight at once (`things --concurrency`). */
  readonly concurrency: number;
  /** Requests per unit of time the pass may make (`--rate`); null: as fast as AWS answers, slowing down on throttling. */
  readonly rate: Rate | null;
  /** Emulated time runs this many times faster (tests and benchmarks against an emulator with the same --time-scale). */
  readonly timeScale: number;
}

export interface AwsOptions {
  maxRetries?: string;
  requestTimeout?: string;
  concurrency?: string;
  rate?: string;
}

export const DEFAULT_AWS_CONCURRENCY = 8;

/** The environment variables the SDK reads an endpoint from, per service (the service's own first). */
const AWS_ENDPOINT_VARIABLES = {
  iot: 'AWS_ENDPOINT_URL_IOT',
  dataPlane: 'AWS_ENDPOINT_URL_IOT_DATA_PLANE',
  greengrass: 'AWS_ENDPOINT_URL_GREENGRASSV2',
} as const;

function awsEndpoint(env: Env, variable: string): string | undefined {
  const name = env[variable] ? variable : env.AWS_ENDPOINT_URL ? 'AWS_ENDPOINT_URL' : null;
  if (name === null) return undefined;
  const value = env[name]!;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`${name} is not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`${name} must be an http(s) URL`);
  return value;
}

export function resolveAwsConfig(opts: AwsOptions, env: Env): AwsConfig {
  const region = env.AWS_REGION?.trim() || undefined;
  // The SDK's switch to ignore every configured endpoint (AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true).
  const ignore = env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS?.toLowerCase() === 'true';
  const endpoint = (variable: string) => (ignore ? undefined : awsEndpoint(env, variable));
  const endpoints = {
    iot: endpoint(AWS_ENDPOINT_VARIABLES.iot),
    dataPlane: endpoint(AWS_ENDPOINT_VARIABLES.dataPlane),
    greengrass: endpoint(AWS_ENDPOINT_VARIABLES.greengrass),
  };
  const maxRetries = opts.maxRetries === undefined ? DEFAULT_RETRY.maxRetries : Number(opts.maxRetries);
  if (!Number.isInteger(maxRetries) || maxRetries < 0 || maxRetries > 20) throw new UsageError('--max-retries must be a whole number from 0 to 20');
  const requestTimeoutMs = resolveDuration('--request-timeout', opts.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT);
  const concurrency = opts.concurrency === undefined ? DEFAULT_AWS_CONCURRENCY : Number(opts.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) throw new UsageError('--concurrency must be a whole number from 1 to 64');
  const rate = opts.rate === undefined ? null : parseRate(opts.rate);
  if (opts.rate !== undefined && rate === null) throw new UsageError(`--rate must be requests per unit of time, e.g. 10/s or 600/min, got "${opts.rate}"`);
  return { region, endpoints, maxRetries, requestTimeoutMs, concurrency, rate, timeScale: resolveTimeScale(env) };
}

/** Time passes this many times faster against an emulator run with the same --time-scale (tests, benchmarks). */
function resolveTimeScale(env: Env): number {
  const timeScale = env.PORTAL_SYNC_TIME_SCALE === undefined ? 1 : Number(env.PORTAL_SYNC_TIME_SCALE);
  if (!Number.isFinite(timeScale) || timeScale < 1 || timeScale > 10_000) throw new ConfigError('PORTAL_SYNC_TIME_SCALE must be a number from 1 to 10000');
  return timeScale;
}
