/**
 * A fixed-bucket histogram, in the shape Prometheus exposes one: cumulative
 * counts per upper bound, a sum and a count. Observing is a short loop over a
 * handful of bounds and two additions, cheap enough for every call's duration.
 *
 * @module
 */

/** Counts observations into buckets by upper bound. */
export class Histogram {
  /** Observations per bucket (not cumulative); the last slot counts those above every bound. */
  readonly counts: number[];
  /** The sum of all observations. */
  sum = 0;
  /** How many observations. */
  count = 0;

  /**
   * A histogram with these upper bounds.
   * @param bounds the buckets' upper bounds, ascending
   *
   * @example
   * ```ts
   * const h = new Histogram([0.01, 0.1, 1]);
   * h.observe(0.05); // counts in the 0.1 bucket
   * ```
   */
  constructor(readonly bounds: readonly number[]) {
    this.counts = new Array(bounds.length + 1).fill(0);
  }

  /** One histogram adding up `parts` (all with the same bounds). */
  static sum(bounds: readonly number[], parts: Iterable<Histogram>): Histogram {
    const total = new Histogram(bounds);
    for (const h of parts) {
      h.counts.forEach((n, i) => total.counts[i] += n);
      total.sum += h.sum;
      total.count += h.count;
    }
    return total;
  }

  /** Counts one observation. */
  observe(value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]) i++;
    this.counts[i]++;
    this.sum += value;
    this.count++;
  }
}

/** Buckets for call durations in seconds: 1 ms to 30 s. */
export const DURATION_BOUNDS: readonly number[] = [
  0.001,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
];

/** Counts by name, for counters with one label (an error URI, a close reason). */
export class Tally {
  readonly #counts = new Map<string, number>();

  /** Adds one to `name`. */
  add(name: string, n = 1): void {
    this.#counts.set(name, (this.#counts.get(name) ?? 0) + n);
  }

  /** Every name and its count. */
  entries(): IterableIterator<[string, number]> {
    return this.#counts.entries();
  }

  /** The count of `name`. */
  get(name: string): number {
    return this.#counts.get(name) ?? 0;
  }
}
