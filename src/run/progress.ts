/** Progress of a long pass on stderr, redrawn in place; only on a TTY, where a person is watching. */
export interface Progress {
  update(text: string): void;
  done(): void;
}

export function createProgress(enabled: boolean, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!enabled || !stream.isTTY) return { update() {}, done() {} };
  let last = 0;
  let shown = false;
  return {
    update(text) {
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      shown = true;
      stream.write(`\r\x1b[2K${text}`);
    },
    done() {
      if (shown) stream.write('\r\x1b[2K');
      shown = false;
    },
  };
}

/**
 * The progress line of a long listing: records and pages so far and, when the portal's row count
 * gives an idea of the total, the pages left and when the listing should end at the current pace.
 */
export function progressLine(command: string, records: number, pages: number, storedRows: number, elapsedMs: number, now = Date.now()): string {
  const done = `${command}: ${records.toLocaleString('en-US')} records, ${pages} page${pages === 1 ? '' : 's'}`;
  // An empty first page says nothing about the pace: no estimate rather than an infinite one.
  if (storedRows <= records || pages === 0 || records === 0) return done;
  const pagesLeft = Math.ceil((storedRows - records) / (records / pages));
  const finish = new Date(now + (elapsedMs / pages) * pagesLeft);
  return `${done}, about ${pagesLeft} left (from the portal's ${storedRows.toLocaleString('en-US')} rows), done about ${finish.toISOString().slice(11, 19)} UTC`;
}
