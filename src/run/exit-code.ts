import { ConfigError, UsageError } from '../config.js';
import { ProviderError } from '../providers/errors.js';
import { EXIT } from './exit.js';
import { InterruptedError } from './interrupt.js';
import { LockHeldError } from './lock.js';

/**
 * The one mapping from an error to the exit code, for every command (passes and setup commands
 * alike); the README's exit-code table is this function in prose.
 */
export function exitCodeOf(error: unknown): number {
  if (error instanceof UsageError) return EXIT.usage;
  if (error instanceof ConfigError) return EXIT.config;
  if (error instanceof LockHeldError) return EXIT.locked;
  if (error instanceof InterruptedError) return error.exitCode;
  if (error instanceof ProviderError) {
    if (error.kind === 'auth') return EXIT.config;
    if (error.kind === 'unreachable' || error.kind === 'timeout') return EXIT.unavailable;
    return EXIT.failed;
  }
  if (isUnreachableDatabase(error)) return EXIT.unavailable;
  if (isDatabaseConfigError(error)) return EXIT.config;
  // A wrapper that says what we were doing ("cannot migrate ...") keeps the driver's error as its cause.
  const cause = (error as { cause?: unknown } | null)?.cause;
  return cause !== undefined && cause !== error ? exitCodeOf(cause) : EXIT.failed;
}

/** The database server cannot be reached, or does not have the database: try again once it does. */
export function isUnreachableDatabase(error: unknown): boolean {
  const { code, name, message } = (error ?? {}) as { code?: string; name?: string; message?: string };
  return (
    code === 'ECONNREFUSED' ||
    code === 'ENOTFOUND' ||
    code === 'EAI_AGAIN' ||
    code === 'ETIMEDOUT' ||
    code === 'EHOSTUNREACH' ||
    code === 'ECONNRESET' ||
    code === '57P03' || // the server is starting up or shutting down
    code === '3D000' || // the database does not exist
    name === 'KnexTimeoutError' ||
    /timeout expired|Connection terminated/i.test(message ?? '')
  );
}

/** The database refuses who we are, or its path cannot be a database: fix the configuration. */
function isDatabaseConfigError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return false;
  return (
    code === '28P01' || // wrong password
    code === '28000' || // no such role, or pg_hba refuses it
    code === 'SQLITE_CANTOPEN' ||
    code === 'SQLITE_NOTADB' ||
    code === 'SQLITE_READONLY' ||
    code === 'EACCES' ||
    code === 'ENOENT' ||
    code === 'ENOTDIR' ||
    code === 'EROFS'
  );
}
