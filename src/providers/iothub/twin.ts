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
const ISO_UTC = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/;

export function twinInstant(value: unknown): string | null {
  if (typeof value !== 'string' || value.startsWith('0001-01-01')) return null;
  // The hub writes UTC with up to 7 fraction digits; cut to milliseconds without a Date per twin.
  const utc = ISO_UTC.exec(value);
  if (utc) {
    const ms = utc[2] ?? '';
    if (ms.length === 3) return value;
    // join() gives one flat string; a template would keep a rope of pieces alive per timestamp.
    return [utc[1], '.', (ms + '000').slice(0, 3), 'Z'].join('');
  }
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}
