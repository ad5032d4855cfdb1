/**
 * restJson1 errors as AWS sends them and the SDK v3 reads them: the status the service model gives
 * the error, its name in the `x-amzn-ErrorType` header (the SDK's `loadRestJsonErrorCode` looks
 * there first, then at `code` / `__type` in the body), and a `{"message": ...}` body. An error the
 * service model knows becomes that exception class (`err.name`, `instanceof`); another name (e.g.
 * AccessDeniedException from IoT, whose model has none) becomes the service's base exception with
 * that `name`.
 *
 * Statuses from the SDKs' own error schemas (`@aws-sdk/client-iot` 3.1169.0,
 * `client-iot-data-plane` 3.1138.0, `client-greengrassv2` 3.1169.0, `httpError` of each):
 *   IoT:        ThrottlingException 400, InvalidRequestException 400, UnauthorizedException 401,
 *               ResourceNotFoundException 404, VersionConflictException 409,
 *               InternalFailureException 500, ServiceUnavailableException 503
 *   data plane: ThrottlingException 429, InvalidRequestException 400, UnauthorizedException 401,
 *               ResourceNotFoundException 404, MethodNotAllowedException 405,
 *               InternalFailureException 500, ServiceUnavailableException 503
 *   Greengrass: ThrottlingException 429 (Retry-After), ValidationException 400,
 *               AccessDeniedException 403, ResourceNotFoundException 404, ConflictException 409,
 *               InternalServerException 500 (Retry-After)
 * and the errors of AWS's front door, before any service: MissingAuthenticationTokenException 403,
 * IncompleteSignatureException 400, InvalidSignatureException 403, AccessDeniedException 403.
 */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { AwsService } from './operations.js';

export class AwsError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** Each service's usual error for a status (an injected fault names a status, the SDK needs a name). */
const BY_STATUS: Record<AwsService, Record<number, string>> = {
  iot: {
    400: 'InvalidRequestException',
    401: 'UnauthorizedException',
    403: 'AccessDeniedException',
    404: 'ResourceNotFoundException',
    409: 'VersionConflictException',
    429: 'ThrottlingException',
    500: 'InternalFailureException',
    503: 'ServiceUnavailableException',
  },
  iotdata: {
    400: 'InvalidRequestException',
    401: 'UnauthorizedException',
    403: 'AccessDeniedException',
    404: 'ResourceNotFoundException',
    405: 'MethodNotAllowedException',
    429: 'ThrottlingException',
    500: 'InternalFailureException',
    503: 'ServiceUnavailableException',
  },
  greengrass: {
    400: 'ValidationException',
    403: 'AccessDeniedException',
    404: 'ResourceNotFoundException',
    409: 'ConflictException',
    429: 'ThrottlingException',
    500: 'InternalServerException',
  },
};

export function codeForStatus(service: AwsService, status: number): string {
  const known = BY_STATUS[service][status];
  if (known) return known;
  if (status >= 500) return service === 'greengrass' ? 'InternalServerException' : 'InternalFailureException';
  return service === 'greengrass' ? 'ValidationException' : 'InvalidRequestException';
}

/** The service model's status for ThrottlingException: IoT's is 400, the others' 429. */
export function throttlingStatus(service: AwsService): number {
  return service === 'iot' ? 400 : 429;
}

export function throttled(service: AwsService, message = 'Rate exceeded', retryAfterSeconds?: number): AwsError {
  // Only Greengrass V2's model binds Retry-After (retryAfterSeconds) to its ThrottlingException.
  const headers: Record<string, string> = {};
  if (retryAfterSeconds !== undefined) headers['retry-after'] = String(retryAfterSeconds);
  else if (service === 'greengrass') headers['retry-after'] = '1';
  return new AwsError(throttlingStatus(service), 'ThrottlingException', message, headers);
}

export function notFound(message: string): AwsError {
  return new AwsError(404, 'ResourceNotFoundException', message);
}

/** A bad request: IoT and its data plane call it InvalidRequestException, Greengrass ValidationException. */
export function invalid(service: AwsService, message: string): AwsError {
  return new AwsError(400, service === 'greengrass' ? 'ValidationException' : 'InvalidRequestException', message);
}

export const JSON_CONTENT_TYPE = 'application/json';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
  res.writeHead(status, {
    'content-type': JSON_CONTENT_TYPE,
    'content-length': String(bytes.length),
    'x-amzn-requestid': randomUUID(),
    ...headers,
  });
  res.end(bytes);
}

export function sendAwsError(res: ServerResponse, err: AwsError): void {
  sendJson(res, err.status, { message: err.message }, { 'x-amzn-errortype': err.code, ...err.headers });
}
