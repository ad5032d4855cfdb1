/**
 * Checks the SAS tokens the SDK hands over CBS (put-token) and in `$management` requests.
 *
 * core-amqp (dist/esm/auth/tokenProvider.js) writes
 *   SharedAccessSignature sr=<encodeURIComponent(audience)>&sig=<encodeURIComponent(base64 HMAC)>&se=<expiry s>&skn=<key name>
 * where the HMAC-SHA256 is over `<sr as written, still encoded> + "\n" + <se>`, keyed with the key
 * string's UTF-8 bytes. Unlike IoT Hub, the key is NOT base64-decoded first: an Event Hubs key is
 * used as text.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface SasCheck {
  ok: boolean;
  /** For the 401's status-description, worded like the service's. */
  reason?: string;
  /** The decoded audience the token is valid for (`sb://host/hub/...`). */
  audience?: string;
}

/** The path of an `sb://host:port/path` audience, lower-cased, without slashes at either end. */
export function audiencePath(audience: string): string {
  const m = /^[a-z]+:\/\/[^/]*\/?(.*)$/i.exec(audience);
  return (m ? m[1]! : audience).replace(/^\/+|\/+$/g, '').toLowerCase();
}

/** True when a token for `scope` may be used for `resource` (the same entity or one below it). */
export function covers(scope: string, resource: string): boolean {
  const s = audiencePath(scope);
  const r = audiencePath(resource);
  return s === '' || r === s || r.startsWith(`${s}/`);
}

export function checkSasToken(token: unknown, keyName: string, key: string, nowMs: number): SasCheck {
  if (typeof token !== 'string' || !token.startsWith('SharedAccessSignature ')) {
    return { ok: false, reason: 'InvalidToken: The token is not a SharedAccessSignature.' };
  }
  const fields = new Map<string, string>();
  for (const part of token.slice('SharedAccessSignature '.length).split('&')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq), part.slice(eq + 1));
  }
  const sr = fields.get('sr');
  const sig = fields.get('sig');
  const se = fields.get('se');
  const skn = fields.get('skn');
  if (!sr || !sig || !se || !skn) return { ok: false, reason: 'InvalidToken: The token must have sr, sig, se and skn.' };
  let audience: string;
  let given: Buffer;
  try {
    audience = decodeURIComponent(sr);
    given = Buffer.from(decodeURIComponent(sig), 'base64');
  } catch {
    return { ok: false, reason: 'InvalidToken: The token is not well encoded.' };
  }
  if (decodeURIComponent(skn) !== keyName) return { ok: false, reason: `InvalidSignature: The token has an invalid signature (unknown key name '${decodeURIComponent(skn)}').` };
  const expected = createHmac('sha256', key).update(`${sr}\n${se}`).digest();
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, reason: 'InvalidSignature: The token has an invalid signature.' };
  }
  const expiry = Number(se);
  if (!Number.isFinite(expiry) || expiry * 1000 <= nowMs) {
    return { ok: false, reason: `ExpiredToken: The token is expired. Expiration time: '${Number.isFinite(expiry) ? new Date(expiry * 1000).toISOString() : se}', Current time: '${new Date(nowMs).toISOString()}'.` };
  }
  return { ok: true, audience };
}
