/**
 * Just enough of the AMQP 1.0 type encoding (spec part 1) to write a delivered message's bytes
 * directly. rhea's general encoder wraps every value in an object first; streaming 200,000 events
 * through it cost the emulator more CPU than the consumer spent reading them. Here the parts that
 * are the same for every message of a device are encoded once (message.ts caches them).
 */

const NULL = Buffer.from([0x40]);
const TRUE = Buffer.from([0x41]);
const FALSE = Buffer.from([0x42]);

function sized(code8: number, code32: number, bytes: Buffer): Buffer {
  if (bytes.length < 256) {
    const head = Buffer.allocUnsafe(2);
    head[0] = code8;
    head[1] = bytes.length;
    return Buffer.concat([head, bytes]);
  }
  const head = Buffer.allocUnsafe(5);
  head[0] = code32;
  head.writeUInt32BE(bytes.length, 1);
  return Buffer.concat([head, bytes]);
}

export function symbol(s: string): Buffer {
  return sized(0xa3, 0xb3, Buffer.from(s, 'ascii'));
}

export function string(s: string): Buffer {
  return sized(0xa1, 0xb1, Buffer.from(s, 'utf8'));
}

export function binary(b: Buffer): Buffer {
  return sized(0xa0, 0xb0, b);
}

/** A signed 64-bit value from a safe integer (two 32-bit halves: no BigInt per event). */
function int64(code: number, n: number): Buffer {
  const b = Buffer.allocUnsafe(9);
  b[0] = code;
  b.writeInt32BE(Math.floor(n / 0x100000000), 1);
  b.writeUInt32BE(n >>> 0, 5);
  return b;
}

export function long(n: number): Buffer {
  return int64(0x81, n);
}

export function timestamp(ms: number): Buffer {
  return int64(0x83, Math.trunc(ms));
}

/** A JSON-ish scalar as AMQP: int or long for integers, double otherwise. */
export function scalar(v: string | number | boolean | null): Buffer {
  if (v === null) return NULL;
  if (typeof v === 'boolean') return v ? TRUE : FALSE;
  if (typeof v === 'string') return string(v);
  if (Number.isSafeInteger(v)) {
    if (v >= -0x80000000 && v <= 0x7fffffff) {
      const b = Buffer.allocUnsafe(5);
      b[0] = 0x71;
      b.writeInt32BE(v, 1);
      return b;
    }
    return long(v);
  }
  const b = Buffer.allocUnsafe(9);
  b[0] = 0x82;
  b.writeDoubleBE(v, 1);
  return b;
}

/** map32 of already-encoded key/value pairs (`items` alternate key, value). */
export function map(items: readonly Buffer[]): Buffer {
  return compound(0xd1, items);
}

/** list32 of already-encoded items. */
export function list(items: readonly Buffer[]): Buffer {
  return compound(0xd0, items);
}

function compound(code: number, items: readonly Buffer[]): Buffer {
  let size = 4;
  for (const i of items) size += i.length;
  const head = Buffer.allocUnsafe(9);
  head[0] = code;
  head.writeUInt32BE(size, 1);
  head.writeUInt32BE(items.length, 5);
  return Buffer.concat([head, ...items]);
}

export const NULL_VALUE = NULL;

/** A message section: the described type `0x00 0x53 <code>` around its value. */
export function section(code: number, value: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x00, 0x53, code]), value]);
}

export const SECTION = {
  deliveryAnnotations: 0x71,
  messageAnnotations: 0x72,
  properties: 0x73,
  applicationProperties: 0x74,
  data: 0x75,
} as const;
