/**
 * Small statistics helpers shared by the generators and the orchestrator.
 *
 * @module
 */

/** Percentiles of a sample, in the sample's unit. */
export interface Percentiles {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Percentiles (nearest rank) of `values[0, n)`; all NaN for an empty sample. */
export function percentiles(values: ArrayLike<number>, n: number = values.length): Percentiles {
  if (n === 0) return { n: 0, p50: NaN, p90: NaN, p99: NaN, max: NaN, mean: NaN };
  const sorted = Float64Array.from({ length: n }, (_, i) => values[i]).sort();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i];
  const at = (q: number) => sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))];
  return { n, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[n - 1], mean: sum / n };
}

/** A bounded uniform sample (reservoir sampling) of a stream of numbers. */
export class Reservoir {
  readonly values: Float64Array;
  /** How many values are kept. */
  size = 0;
  /** How many values were offered. */
  seen = 0;

  constructor(capacity: number) {
    this.values = new Float64Array(capacity);
  }

  add(v: number): void {
    this.seen++;
    if (this.size < this.values.length) {
      this.values[this.size++] = v;
    } else {
      const j = Math.floor(Math.random() * this.seen);
      if (j < this.values.length) this.values[j] = v;
    }
  }

  clear(): void {
    this.size = 0;
    this.seen = 0;
  }

  /** Up to `max` of the kept values, evenly spread. */
  take(max: number): number[] {
    const out: number[] = [];
    const step = Math.max(1, this.size / max);
    for (let i = 0; i < this.size && out.length < max; i += step) out.push(this.values[Math.floor(i)]);
    return out;
  }
}
