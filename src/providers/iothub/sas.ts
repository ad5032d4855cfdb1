import { createHmac } from 'node:crypto';

/** Parts of an IoT Hub service connection string (`HostName=...;SharedAccessKeyName=...;SharedAccessKey=...`). */
export interface IotHubCredentials {
  hostName: string;
  sharedAccessKeyName: string;
  sharedAccessKey: string;
}

export class ConnectionStringError extends Error {}

/** Parses a service connection string. Errors never quote the key. */
export function parseConnectionString(connectionString: string): IotHubCredentials {
  const parts = new Map<string, string>();
  for (const segment of connectionString.split(';')) {
    if (segment.trim() === '') continue;
    const eq = segment.indexOf('=');
    if (eq <= 0) throw new ConnectionStringError('IoT Hub connection string is malformed: expected key=value pairs separated by ";"');
    parts.set(segment.slice(0, eq).trim().toLowerCase(), segment.slice(eq + 1).trim());
  }
  const hostName = parts.get('hostname');
  const sharedAccessKeyName = parts.get('sharedaccesskeyname');
  const sharedAccessKey = parts.get('sharedaccesskey');
  const missing = [
    hostName ? null : 'HostName',
    sharedAccessKeyName ? null : 'SharedAccessKeyName',
    sharedAccessKey ? null : 'SharedAccessKey',
  ].filter((x): x is string => x !== null);
  if (missing.length > 0) {
    throw new ConnectionStringError(`IoT Hub connection string is missing ${missing.join(', ')}`);
  }
  return { hostName: hostName!, sharedAccessKeyName: sharedAccessKeyName!, sharedAccessKey: sharedAccessKey! };
}

export function formatConnectionString(c: IotHubCredentials): string {
  return `HostName=${c.hostName};SharedAccessKeyName=${c.sharedAccessKeyName};SharedAccessKey=${c.sharedAccessKey}`;
}

function sign(key: string, resourceUri: string, expiry: number): string {
  return createHmac('sha256', Buffer.from(key, 'base64'))
    .update(`${encodeURIComponent(resourceUri)}\n${expiry}`)
    .digest('base64');
}

/** A service SAS token for the hub, as the Azure SDKs build it. */
export function createSasToken(c: IotHubCredentials, expiresAtSeconds: number): string {
  const resourceUri = c.hostName.toLowerCase();
  const sig = sign(c.sharedAccessKey, resourceUri, expiresAtSeconds);
  return (
    `SharedAccessSignature sr=${encodeURIComponent(resourceUri)}` +
    `&sig=${encodeURIComponent(sig)}&se=${expiresAtSeconds}&skn=${encodeURIComponent(c.sharedAccessKeyName)}`
  );
}

