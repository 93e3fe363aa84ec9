/**
 * A histogram of values (record spacing, lateness) whose percentiles take bounded memory
 * whatever the range of `nsr stats`.
 */
import type { Percentiles } from './report.js';

/**
 * Values in a sparse histogram: exact below 10 000, four significant digits
 * above, so percentiles of any range take bounded memory.
 */
export class Histogram {
  private readonly counts = new Map<number, number>();
  n = 0;
  max = -Infinity;

  add(v: number): void {
    const k = v < 10_000 ? Math.round(v) : roundSignificant(v, 4);
    this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
    this.n++;
    if (v > this.max) this.max = v;
  }

  entries(): [number, number][] {
    return [...this.counts.entries()].sort((a, b) => a[0] - b[0]);
  }

  /** Nearest-rank percentiles; `max` is exact. */
  percentiles(): Percentiles | null {
    if (this.n === 0) return null;
    const sorted = this.entries();
    const q = (p: number) => {
      const rank = Math.max(1, Math.ceil(p * this.n));
      let seen = 0;
      for (const [v, c] of sorted) {
        seen += c;
        if (seen >= rank) return v;
      }
      return sorted[sorted.length - 1][0];
    };
    return { n: this.n, p50: q(0.5), p90: q(0.9), p99: q(0.99), max: this.max };
  }
}

function roundSignificant(v: number, digits: number): number {
  const e = 10 ** (Math.floor(Math.log10(v)) - digits + 1);
  return Math.round(v / e) * e;
}
