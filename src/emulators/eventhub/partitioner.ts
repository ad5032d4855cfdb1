/**
 * Which partition an event with a partition key (for IoT Hub: the device id) lands in.
 *
 * Event Hubs hashes the key with Bob Jenkins' lookup3 (`hashlittle2`), folds the two halves into a
 * 16-bit signed value and takes it modulo the partition count. This is the same computation as
 * `@azure/event-hubs`' own `mapPartitionKeyToId` (dist/esm/impl/partitionKeyToIdMapper.js, used by
 * its buffered producer to predict the service's choice); that module is not exported, hence the
 * copy. test/emulators/eventhub-generate.test.ts compares the two.
 */

function rot(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** lookup3 `hashlittle2` with both seeds 0; returns the (b, c) pair as unsigned 32-bit values. */
function hashLittle2(data: Buffer): { b: number; c: number } {
  let a: number, b: number, c: number;
  a = b = c = (0xdeadbeef + data.length) | 0;
  let i = 0;
  let size = data.length;
  while (size > 12) {
    a = (a + data.readUInt32LE(i)) | 0;
    b = (b + data.readUInt32LE(i + 4)) | 0;
    c = (c + data.readUInt32LE(i + 8)) | 0;
    // mix(a, b, c)
    a = (a - c) | 0; a ^= rot(c, 4); c = (c + b) | 0;
    b = (b - a) | 0; b ^= rot(a, 6); a = (a + c) | 0;
    c = (c - b) | 0; c ^= rot(b, 8); b = (b + a) | 0;
    a = (a - c) | 0; a ^= rot(c, 16); c = (c + b) | 0;
    b = (b - a) | 0; b ^= rot(a, 19); a = (a + c) | 0;
    c = (c - b) | 0; c ^= rot(b, 4); b = (b + a) | 0;
    i += 12;
    size -= 12;
  }
  if (size === 0) return { b: b >>> 0, c: c >>> 0 };
  // The tail, little-endian, zero-padded to 12 bytes: the same sums as lookup3's fall-through switch.
  const tail = Buffer.alloc(12);
  data.copy(tail, 0, i);
  a = (a + tail.readUInt32LE(0)) | 0;
  if (size > 4) b = (b + tail.readUInt32LE(4)) | 0;
  if (size > 8) c = (c + tail.readUInt32LE(8)) | 0;
  // final(a, b, c)
  c ^= b; c = (c - rot(b, 14)) | 0;
  a ^= c; a = (a - rot(c, 11)) | 0;
  b ^= a; b = (b - rot(a, 25)) | 0;
  c ^= b; c = (c - rot(b, 16)) | 0;
  a ^= c; a = (a - rot(c, 4)) | 0;
  b ^= a; b = (b - rot(a, 14)) | 0;
  c ^= b; c = (c - rot(b, 24)) | 0;
  return { b: b >>> 0, c: c >>> 0 };
}

/** The partition index (0-based) Event Hubs gives `key` in a hub of `partitionCount` partitions. */
export function partitionForKey(key: string, partitionCount: number): number {
  const { b, c } = hashLittle2(Buffer.from(key, 'utf8'));
  const folded = new Int16Array([c ^ b])[0]!;
  return Math.abs(folded % partitionCount);
}
