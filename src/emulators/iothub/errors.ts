/**
 * IoT Hub's error responses: `{"Message": "ErrorCode:<code>;<text>", "ExceptionMessage": "<detail>. Tracking
 * ID:<32 hex>-G:0-TimeStamp:<time>"}` with the code repeated in the `iothub-errorcode` header. That is
 * the shape the real hub sends (e.g. `{"Message":"ErrorCode:InvalidProtocolVersion;BadRequest",
 * "ExceptionMessage":"Tracking ID:113a…-G:6-TimeStamp:09/07/2020 14:46:08"}`, quoted in
 * Azure/Industrial-IoT#708) and the one Microsoft's SDKs parse: azure-iot-http-base's `parseErrorBody`
 * splits `Message` on ';' and ':', the .NET SDK matches the header against the code.
 */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';

export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

/** The code each status gets unless the caller names a more precise one. */
const DEFAULT_CODES: Record<number, string> = {
  400: 'BadRequest',
  401: 'IotHubUnauthorizedAccess',
  403: 'IotHubQuotaExceeded',
  404: 'NotFound',
  408: 'RequestTimeout',
  409: 'PreconditionFailed',
  412: 'PreconditionFailed',
  413: 'MessageTooLarge',
  429: 'ThrottlingException',
  500: 'ServerError',
  502: 'BadGateway',
  503: 'ServiceUnavailable',
  504: 'GatewayTimeout',
};

export interface HubErrorOptions {
  /** The `ErrorCode` (and `iothub-errorcode` header); by default the status's usual code. */
  code?: string;
  /** Goes into `ExceptionMessage`, before the tracking id. */
  detail?: string;
  headers?: Record<string, string>;
}

function trackingMessage(detail?: string): string {
  const id = randomUUID().replace(/-/g, '').toUpperCase();
  const stamp = `Tracking ID:${id}-G:0-TimeStamp:${new Date().toISOString()}`;
  return detail ? `${detail}. ${stamp}` : stamp;
}

export function sendJson(res: ServerResponse, status: number, body: string | Buffer, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  res.writeHead(status, { 'content-type': JSON_CONTENT_TYPE, 'content-length': String(bytes.length), ...headers });
  res.end(bytes);
}

export function sendError(res: ServerResponse, status: number, message: string, options: HubErrorOptions = {}): void {
  const code = options.code ?? DEFAULT_CODES[status] ?? (status >= 500 ? 'ServerError' : 'BadRequest');
  const body = JSON.stringify({ Message: `ErrorCode:${code};${message}`, ExceptionMessage: trackingMessage(options.detail) });
  sendJson(res, status, body, { 'iothub-errorcode': code, ...options.headers });
}
