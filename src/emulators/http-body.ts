/** Helpers of the emulators' HTTP servers. */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** A request's body as text, or undefined when it is over `limit` bytes (read to its end all the same). */
export function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > limit ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** SHA-256 of a text: secrets are compared as digests, of equal length for timingSafeEqual. */
export function sha(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
