import { ProviderError, type ProviderErrorKind } from '../errors.js';

const PROVIDER = 'Event Hubs';

/** SDK error codes (core-amqp's MessagingError.code) by what they mean for the run's exit code. */
const KIND_BY_CODE: Readonly<Record<string, ProviderErrorKind>> = {
  ECONNREFUSED: 'unreachable',
  ENOTFOUND: 'unreachable',
  EAI_AGAIN: 'unreachable',
  EHOSTUNREACH: 'unreachable',
  ETIMEDOUT: 'timeout',
  UnauthorizedError: 'auth',
  MessagingEntityNotFoundError: 'bad-request',
  ArgumentOutOfRangeError: 'bad-request',
  ConnectionForcedError: 'unreachable',
  ServiceCommunicationError: 'unreachable',
  ServiceUnavailableError: 'unreachable',
  ConnectionLostError: 'unreachable',
  OperationTimeoutError: 'timeout',
  ServerBusyError: 'throttled',
};

const UNREACHABLE = /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ETIMEDOUT|ECONNRESET|socket hang up/;

/** An error of the Event Hubs SDK as a ProviderError: 78 for credentials, 69 for a namespace out of reach. */
export function eventHubError(error: unknown, doing: string): ProviderError {
  if (error instanceof ProviderError) return error;
  // The SDK's retry loop gives up with an AggregateError of every attempt's error, and no message.
  if (error instanceof AggregateError && error.errors.length > 0) return eventHubError(error.errors[error.errors.length - 1], doing);
  const e = (error ?? {}) as { code?: unknown; message?: unknown; name?: unknown };
  const message = typeof e.message === 'string' ? e.message : String(error);
  const code = typeof e.code === 'string' ? e.code : '';
  const kind: ProviderErrorKind = KIND_BY_CODE[code] ?? (UNREACHABLE.test(`${code} ${message}`) ? 'unreachable' : 'server');
  const hint = kind === 'auth' ? ' (check the key of EVENTHUB_CONNECTION_STRING)' : '';
  return new ProviderError(PROVIDER, kind, `${doing}: ${code ? `${code}: ` : ''}${redactKey(message)}${hint}`);
}

/** SDK messages may quote a SAS token or the connection string: never let a signature or key through. */
export function redactKey(text: string): string {
  return text.replace(/(SharedAccessKey=|sig=|SharedAccessSignature=)[^;&\s"']+/gi, '$1<redacted>');
}

/** Errors after which retrying within this run is pointless: fix the configuration. */
export function isFatal(error: ProviderError): boolean {
  return error.kind === 'auth' || error.kind === 'bad-request';
}
