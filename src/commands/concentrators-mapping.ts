import type { RemoteEntry } from '../reconcile/index.js';
import type { Twin } from '../providers/iothub/twin.js';

/** Where each field of a concentrator row comes from, for validation messages. */
export const CONCENTRATOR_FIELD_SOURCES = {
  id: 'deviceId',
  version: 'version',
  name: 'tags.deviceName',
  lora_region: 'tags.loraRegion',
  device_type: 'tags.deviceType',
  client_thumbprint: 'desired.clientThumbprint[0]',
} as const;

/** Maps a LoRa concentrator twin to a portal row, or to a skip with its reason. */
export function mapConcentratorTwin(raw: unknown): RemoteEntry {
  const twin = raw as Partial<Twin> | null;
  const key = twin && typeof twin.deviceId === 'string' && twin.deviceId !== '' ? twin.deviceId : null;
  if (key === null) return { kind: 'skipped', key: '(no deviceId)', reason: 'malformed twin: no deviceId', keyless: true };
  if (typeof twin!.version !== 'number' || !Number.isInteger(twin!.version)) {
    return { kind: 'skipped', key, reason: 'malformed twin: version is not an integer' };
  }
  const tags = (twin!.tags && typeof twin!.tags === 'object' ? twin!.tags : {}) as Record<string, unknown>;
  const region = tags.loraRegion;
  if (typeof region !== 'string' || region === '') return { kind: 'skipped', key, reason: 'no loraRegion tag' };
  const name = typeof tags.deviceName === 'string' && tags.deviceName !== '' ? tags.deviceName : key;
  return {
    kind: 'desired',
    key,
    version: twin!.version,
    fields: {
      name,
      lora_region: region,
      device_type: typeof tags.deviceType === 'string' ? tags.deviceType : null,
      client_thumbprint: firstThumbprint(twin!.properties?.desired?.clientThumbprint),
      is_connected: twin!.connectionState === 'Connected',
      is_enabled: twin!.status === 'enabled',
    },
  };
}

/** The first element of the desired `clientThumbprint` array; anything else gives null, never an error. */
export function firstThumbprint(value: unknown): string | null {
  if (!Array.isArray(value) || value.length === 0) return null;
  const first: unknown = value[0];
  return typeof first === 'string' && first !== '' ? first : null;
}
