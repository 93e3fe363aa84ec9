/**
 * A fixed-bucket histogram of durations in seconds, kept by the recorder and
 * read by the metrics endpoint: observing allocates nothing (pino's rule for
 * the hot path), and Prometheus gets cumulative buckets at scrape time.
 */
export class DurationHistogram {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  /** `bounds` are upper bounds in seconds, ascending; a last `+Inf` bucket is implied. */
  constructor(readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(seconds: number): void {
    let i = 0;
    while (i < this.bounds.length && seconds > this.bounds[i]) i++;
    this.counts[i]++;
    this.sum += seconds;
    this.count++;
  }
}

/** Fetch latency buckets: from a fast local API to a timeout near a long interval. */
export const FETCH_SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Compressing a window: from a small events window to a large data window. */
export const COMPRESS_SECONDS_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** The most recent `size` values, for live percentiles; no allocation per value. */
export class RecentValues {
  private readonly values: Float64Array;
  private next = 0;
  private filled = 0;

  constructor(size = 1024) {
    this.values = new Float64Array(size);
  }

  add(v: number): void {
    this.values[this.next] = v;
    this.next = (this.next + 1) % this.values.length;
    if (this.filled < this.values.length) this.filled++;
  }

  /** p50, p99 and max of what is kept, or undefined when empty. */
  summary(): { p50: number; p99: number; max: number; n: number } | undefined {
    if (this.filled === 0) return undefined;
    const sorted = this.values.slice(0, this.filled).sort();
    const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
    return { p50: q(0.5), p99: q(0.99), max: sorted[sorted.length - 1], n: sorted.length };
  }
}
