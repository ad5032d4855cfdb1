/**
 * The fixtures' injected faults, spent as they are met: the first fault that applies to a request is
 * used, and one of its `times` spent (omitted: it applies every time). The counts belong to one
 * loaded fixture; a reload makes a new book. Each emulator says what "applies" means for its faults.
 */
export abstract class SpentFaults<F extends { readonly times?: number }, S> {
  private readonly used = new Map<number, number>();

  constructor(private readonly faults: readonly F[]) {}

  /** Whether `fault` is one for this request (its `times` aside). */
  protected abstract applies(fault: F, subject: S): boolean;

  /** The first fault that applies to this request, one of its `times` spent. */
  take(subject: S): F | undefined {
    for (let i = 0; i < this.faults.length; i++) {
      const fault = this.faults[i]!;
      if (!this.applies(fault, subject)) continue;
      if (fault.times !== undefined) {
        const used = this.used.get(i) ?? 0;
        if (used >= fault.times) continue;
        this.used.set(i, used + 1);
      }
      return fault;
    }
    return undefined;
  }
}
