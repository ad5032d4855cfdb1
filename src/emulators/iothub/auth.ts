/**
 * The hub's side of service SAS tokens:
 * `SharedAccessSignature sr=<url-encoded host>&sig=<url-encoded base64>&se=<unix seconds>&skn=<policy>`,
 * signed with HMAC-SHA256 over `<sr as sent>\n<se>`.
 *
 * The signature is checked over `sr` exactly as the token carries it, and `sr` is matched against
 * the hub's HostName without regard to case, because clients do not agree on the spelling: this
 * project's client lower-cases the host before signing, while Microsoft's SDKs
 * (azure-iot-common `SharedAccessSignature.create`) sign the HostName as the connection string
 * spells it. Host names are case-insensitive, so a hub accepts both.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IotHubCredentials } from '../../providers/iothub/sas.js';

export type TokenVerdict = { ok: true } | { ok: false; reason: string };

const PREFIX = 'SharedAccessSignature ';

/** Raw (still url-encoded) fields: `sr` must stay as sent, the signature covers that spelling. */
function fields(token: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of token.split('&')) {
    const eq = part.indexOf('=');
    if (eq > 0) out.set(part.slice(0, eq), part.slice(eq + 1));
  }
  return out;
}

function decode(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}

export function verifyServiceToken(header: string | undefined, hub: IotHubCredentials, nowSeconds: number): TokenVerdict {
  if (!header || !header.startsWith(PREFIX)) return { ok: false, reason: 'missing SharedAccessSignature' };
  const f = fields(header.slice(PREFIX.length));
  const rawSr = f.get('sr');
  const sr = decode(rawSr);
  const sig = decode(f.get('sig'));
  const skn = decode(f.get('skn'));
  const seText = f.get('se');
  const se = seText === undefined || !/^\d+$/.test(seText) ? NaN : Number(seText);
  if (!rawSr || !sr || !sig || !skn || !Number.isFinite(se)) return { ok: false, reason: 'malformed token' };
  if (sr.toLowerCase() !== hub.hostName.toLowerCase()) return { ok: false, reason: 'token is for another hub' };
  if (skn !== hub.sharedAccessKeyName) return { ok: false, reason: 'unknown key name' };
  if (se <= nowSeconds) return { ok: false, reason: 'token expired' };
  const expected = Buffer.from(createHmac('sha256', Buffer.from(hub.sharedAccessKey, 'base64')).update(`${rawSr}\n${seText}`).digest('base64'));
  const given = Buffer.from(sig);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { ok: false, reason: 'signature mismatch' };
  return { ok: true };
}
