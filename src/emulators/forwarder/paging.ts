/**
 * The listing's cursors: opaque to the client, `<payload>.<mac>` where the payload is base64url of
 * `{"a": <last id returned>, "p": <page number it leads to>}` and the mac an HMAC-SHA256 of it under a
 * key the emulator draws at start. A cursor the service did not give (edited, truncated, from another
 * emulator) does not verify: 400 `invalid_request`. Resuming after an id keeps a listing right when
 * connections are added, closed or removed between pages; the page number is what a `page` fault
 * matches.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export interface Cursor {
  after: string;
  /** The 1-based page this cursor leads to (>= 2). */
  page: number;
}

export class CursorCodec {
  constructor(private readonly key: Buffer = randomBytes(32)) {}

  private mac(payload: string): Buffer {
    return createHmac('sha256', this.key).update(payload).digest().subarray(0, 16);
  }

  encode(c: Cursor): string {
    const payload = Buffer.from(JSON.stringify({ a: c.after, p: c.page })).toString('base64url');
    return `${payload}.${this.mac(payload).toString('base64url')}`;
  }

  /** The cursor, or undefined when it is not one this codec gave. */
  decode(text: string): Cursor | undefined {
    const dot = text.indexOf('.');
    if (dot <= 0) return undefined;
    const payload = text.slice(0, dot);
    const given = text.slice(dot + 1);
    if (!/^[A-Za-z0-9_-]+$/.test(payload) || !/^[A-Za-z0-9_-]+$/.test(given)) return undefined;
    const mac = Buffer.from(given, 'base64url');
    const expected = this.mac(payload);
    if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) return undefined;
    try {
      const v = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { a?: unknown; p?: unknown };
      if (typeof v.a !== 'string' || typeof v.p !== 'number' || !Number.isSafeInteger(v.p) || v.p < 2) return undefined;
      return { after: v.a, page: v.p };
    } catch {
      return undefined;
    }
  }
}
