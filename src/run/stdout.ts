/**
 * Standard output that the reader may close under us: `portal-sync devices --json | head -1` closes
 * the pipe once head has its line, and the pass has committed by then. A reader that stopped reading
 * is not a failure of the pass: writing stops, and the exit code stays the pass's own.
 */

const GONE = new Set(['EPIPE', 'ERR_STREAM_DESTROYED']);

/** Without a listener, a write to a closed pipe is an unhandled 'error' event: a stack trace and exit 1. */
export function toleratePipeClose(stream: NodeJS.WriteStream = process.stdout): void {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (GONE.has(error.code ?? '')) return;
    throw error;
  });
}

/** Writes to stdout while someone reads it; once a write failed, the rest of the output goes nowhere. */
export function writeStdout(text: string): void {
  // `writable` turns false as soon as a write fails, before the 'error' event: a long --json
  // document stops at the first failed chunk instead of queueing the rest in memory.
  if (process.stdout.writable) process.stdout.write(text);
}
