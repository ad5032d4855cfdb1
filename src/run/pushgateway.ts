/**
 * The Prometheus Pushgateway over HTTP: one group's URL (its grouping key as path segments), and a
 * POST of a text exposition that checks the answer and never shows the URL's credentials.
 */

export const PUSH_CONTENT_TYPE = 'text/plain; version=0.0.4';

/** A group's key: label name and value pairs, the first being `job`. */
export type Grouping = ReadonlyArray<readonly [name: string, value: string]>;

export class PushError extends Error {
  override readonly name = 'PushError';
  constructor(
    message: string,
    /** The push URL without credentials. */
    public readonly url: string,
    /** HTTP status when the gateway answered, undefined when it could not be reached. */
    public readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}


/** The URL without user:password (for messages); unparseable input is not echoed at all. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return '(unparseable Pushgateway URL)';
  }
}

/** One grouping-key path segment pair; label values containing '/' use the gateway's base64 form. */
function groupingSegment(name: string, value: string): string {
  if (value === '' || value.includes('/')) {
    return `${name}@base64/${Buffer.from(value, 'utf8').toString('base64url') || '='}`;
  }
  return `${name}/${encodeURIComponent(value)}`;
}

/** The push URL of a group, plus an Authorization header for credentials given in the URL. */
export function pushTarget(pushgatewayUrl: string, grouping: Grouping): { url: string; authorization?: string } {
  let u: URL;
  try {
    u = new URL(pushgatewayUrl);
  } catch {
    throw new PushError('invalid Pushgateway URL (expected http(s)://host:port)', redactUrl(pushgatewayUrl));
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new PushError(`invalid Pushgateway URL ${redactUrl(pushgatewayUrl)}: expected http or https`, redactUrl(pushgatewayUrl));
  }
  let authorization: string | undefined;
  if (u.username || u.password) {
    // fetch refuses URLs with credentials: send them as basic auth instead.
    const user = decodeURIComponent(u.username);
    const pass = decodeURIComponent(u.password);
    authorization = `Basic ${Buffer.from(`${user}:${pass}`, 'utf8').toString('base64')}`;
    u.username = '';
    u.password = '';
  }
  u.pathname = `${u.pathname.replace(/\/+$/, '')}/metrics/${grouping.map(([name, value]) => groupingSegment(name, value)).join('/')}`;
  u.search = '';
  u.hash = '';
  return authorization ? { url: u.toString(), authorization } : { url: u.toString() };
}

function scrubber(pushgatewayUrl: string): (text: string) => string {
  const secrets: string[] = [];
  try {
    const u = new URL(pushgatewayUrl);
    for (const raw of [u.password, u.username]) {
      if (!raw) continue;
      secrets.push(raw);
      try {
        secrets.push(decodeURIComponent(raw));
      } catch {
        /* raw form only */
      }
    }
  } catch {
    /* nothing to scrub */
  }
  const list = secrets.filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
  return (text) => list.reduce((t, s) => t.split(s).join('***'), text);
}

function describeFetchError(err: unknown): string {
  const cause = (err as { cause?: unknown } | null)?.cause;
  const code = (cause as { code?: unknown } | null)?.code;
  const causeMessage = cause instanceof Error ? cause.message : undefined;
  let detail: string;
  if (typeof code === 'string') detail = causeMessage?.includes(code) ? causeMessage : `${code}${causeMessage ? `: ${causeMessage}` : ''}`;
  else detail = causeMessage ?? (err instanceof Error ? err.message : String(err));
  return `request failed (${detail})`;
}

/**
 * POSTs `body` (text exposition) to the group `grouping` of the gateway: POST replaces only the
 * metric families present in the body, so one left out keeps its last pushed value.
 * Throws PushError (URL without credentials, HTTP status when there was one) on any failure.
 */
export async function pushExposition(pushgatewayUrl: string, grouping: Grouping, body: string, opts: { timeoutMs?: number } = {}): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const target = pushTarget(pushgatewayUrl, grouping);
  const shownUrl = target.url; // credentials already removed
  const scrub = scrubber(pushgatewayUrl);

  const headers: Record<string, string> = { 'Content-Type': PUSH_CONTENT_TYPE };
  if (target.authorization) headers.Authorization = target.authorization;

  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    let res: Response;
    try {
      res = await fetch(target.url, { method: 'POST', headers, body, signal: controller.signal });
    } catch (err) {
      const reason = controller.signal.aborted ? `no answer within ${timeoutMs} ms` : describeFetchError(err);
      throw new PushError(`pushing metrics to ${shownUrl} failed: ${scrub(reason)}`, shownUrl, undefined, { cause: err });
    }
    let text = '';
    try {
      text = await res.text();
    } catch {
      /* the status is what matters */
    }
    if (res.status < 200 || res.status > 299) {
      const snippet = text.trim().replace(/\s+/g, ' ').slice(0, 200);
      const statusText = res.statusText ? ` ${res.statusText}` : '';
      throw new PushError(
        scrub(`pushing metrics to ${shownUrl} failed: HTTP ${res.status}${statusText}${snippet ? `: ${snippet}` : ''}`),
        shownUrl,
        res.status,
      );
    }
  } finally {
    clearTimeout(timer);
  }
}
