/** The parts of an unknown thrown value that error handling looks at. */

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A Node system error's code (ENOENT, EEXIST...), or a library's own (ELOCKED). */
export function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
