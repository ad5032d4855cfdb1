/**
 * The items of `source` with the next one already asked for while the consumer works on the current
 * one: a listing's next page is fetched while the calls of this page's records run, instead of after
 * them. Never more than one ahead. A failure of the item asked for early surfaces when the consumer
 * reaches it, in order, as without read-ahead; a consumer that stops early closes the source.
 */
export async function* readAhead<T>(source: AsyncIterable<T>): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  const ask = () => {
    const next = it.next();
    // Awaited below; until then, a rejection must not count as unhandled.
    next.catch(() => undefined);
    return next;
  };
  let next = ask();
  let done = false;
  try {
    for (;;) {
      const result = await next;
      if (result.done) {
        done = true;
        return;
      }
      next = ask();
      yield result.value;
    }
  } finally {
    if (!done) await it.return?.().catch(() => undefined);
  }
}
