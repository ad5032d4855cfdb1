/** The parts of a device twin, as the query API returns them, that the portal reads. */
export interface Twin {
  deviceId: string;
  version?: number;
  status?: string;
  connectionState?: string;
  statusUpdateTime?: string;
  lastActivityTime?: string;
  capabilities?: { iotEdge?: boolean };
  tags?: Record<string, unknown>;
  properties?: {
    desired?: Record<string, unknown>;
    reported?: Record<string, unknown>;
  };
}

/** The hub reports "never" as the year 1. */
export function twinInstant(value: unknown): string | null {
  if (typeof value !== 'string' || value.startsWith('0001-01-01')) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}
