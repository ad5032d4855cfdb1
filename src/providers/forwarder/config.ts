import { ConfigError, DEFAULT_REQUEST_TIMEOUT, resolveDb, resolveDuration, UsageError, type Env } from '../../config.js';
import type { DbTarget } from '../../store/db.js';
import { DEFAULT_RETRY } from '../retry.js';
import type { ForwarderConfig } from './client.js';

export interface NavixyOptions {
  forwarderUrl?: string;
  customersDb?: string;
  maxRetries?: string;
  requestTimeout?: string;
  concurrency?: string;
}

/** Customers acted on at once unless --concurrency says otherwise. */
export const DEFAULT_NAVIXY_CONCURRENCY = 4;

/** The forwarding service: --forwarder-url or NAVIXY_FORWARDER_URL, the token from NAVIXY_FORWARDER_TOKEN. */
export function resolveForwarderConfig(opts: NavixyOptions, env: Env): ForwarderConfig {
  const fromFlag = opts.forwarderUrl !== undefined;
  const raw = opts.forwarderUrl ?? env.NAVIXY_FORWARDER_URL;
  if (raw === undefined || raw.trim() === '') throw new ConfigError('no forwarding service: set NAVIXY_FORWARDER_URL or --forwarder-url');
  let url: URL;
  try {
    url = new URL(raw.trim());
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error();
  } catch {
    const message = `${fromFlag ? '--forwarder-url' : 'NAVIXY_FORWARDER_URL'} must be an http(s) URL`;
    throw fromFlag ? new UsageError(message) : new ConfigError(message);
  }
  if (url.username !== '' || url.password !== '') throw new ConfigError('the forwarding service URL must not hold credentials: put the token in NAVIXY_FORWARDER_TOKEN');
  const token = env.NAVIXY_FORWARDER_TOKEN?.trim();
  if (!token) throw new ConfigError('no forwarding service token: set NAVIXY_FORWARDER_TOKEN');
  const maxRetries = opts.maxRetries === undefined ? DEFAULT_RETRY.maxRetries : Number(opts.maxRetries);
  if (!Number.isInteger(maxRetries) || maxRetries < 0 || maxRetries > 20) throw new UsageError('--max-retries must be a whole number from 0 to 20');
  const requestTimeoutMs = resolveDuration('--request-timeout', opts.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT);
  return { url: url.href.replace(/\/+$/, ''), token, maxRetries, requestTimeoutMs };
}

/** Customers acted on at once: --concurrency. */
export function resolveActConcurrency(opts: NavixyOptions): number {
  const concurrency = opts.concurrency === undefined ? DEFAULT_NAVIXY_CONCURRENCY : Number(opts.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 32) throw new UsageError('--concurrency must be a whole number from 1 to 32');
  return concurrency;
}

/** The customer database: --customers-db, then PORTAL_SYNC_CUSTOMERS_DB; null: the portal database. */
export function resolveCustomersDb(opts: NavixyOptions, env: Env): DbTarget | null {
  const url = opts.customersDb ?? env.PORTAL_SYNC_CUSTOMERS_DB;
  if (url === undefined) return null;
  try {
    // resolveDb reads its option first: the environment's portal variables never stand in for this one.
    return resolveDb(url, {});
  } catch (error) {
    const message = (error as Error).message.replace('--db', opts.customersDb !== undefined ? '--customers-db' : 'PORTAL_SYNC_CUSTOMERS_DB');
    throw opts.customersDb !== undefined ? new UsageError(message) : new ConfigError(message);
  }
}
