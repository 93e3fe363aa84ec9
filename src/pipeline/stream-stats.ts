import { DurationHistogram, FETCH_SECONDS_BUCKETS, RecentValues } from './histogram.js';

/** Per-stream counters kept by the recorder; reported in the stop event, /status and /metrics. */
export class StreamStats {
  fetches = 0;
  records = 0;
  bytes = 0;
  readonly failures = new Map<string, number>();
  readonly missed = new Map<string, number>();
  /** Consecutive missed ticks, to log a failure once and its recovery once. */
  failingTicks = 0;
  /** A warning was logged during the current run of missed ticks. */
  warnedInStreak = false;
  private lastWarnReason: string | undefined;
  private lastWarnAt = -Infinity;
  lastRecordAt = 0;
  /** The reason of the latest missed tick (for /healthz and /status). */
  lastMissedReason: string | undefined;
  /** Since when (clock ms) writes of this stream's window files have failed, until one succeeds: /healthz is 503 meanwhile. */
  writeFailingSince: number | undefined;
  /** The latest failed write's error, while they fail. */
  writeError: { code?: string; message: string } | undefined;
  /** How long fetches took (seconds), all of them: for /metrics. */
  readonly fetchSeconds = new DurationHistogram(FETCH_SECONDS_BUCKETS);
  /** The latest fetch durations (ms): for the live percentiles of /status. */
  readonly recentFetchMs = new RecentValues(1024);
  private readonly lateness: number[] = [];
  private latenessNext = 0;

  constructor(private readonly reservoir = 10_000) {}

  noteMissed(reason: string, count = 1): void {
    this.missed.set(reason, (this.missed.get(reason) ?? 0) + count);
    this.lastMissedReason = reason;
  }

  /** A fetch (with its retries) ended, well or not, after `ms`. */
  noteFetchDuration(ms: number): void {
    this.fetchSeconds.observe(ms / 1000);
    this.recentFetchMs.add(ms);
  }

  /** Whether a missed tick deserves a warning: a new reason, or a minute since the last one. */
  shouldWarn(reason: string, now: number, everyMs = 60_000): boolean {
    if (reason === this.lastWarnReason && now - this.lastWarnAt < everyMs) return false;
    this.lastWarnReason = reason;
    this.lastWarnAt = now;
    this.warnedInStreak = true;
    return true;
  }

  noteFailure(reason: string): void {
    this.failures.set(reason, (this.failures.get(reason) ?? 0) + 1);
  }

  /** How late a fetch started against its tick (ms); keeps the most recent `reservoir` values. */
  noteLateness(ms: number): void {
    if (this.lateness.length < this.reservoir) this.lateness.push(ms);
    else this.lateness[this.latenessNext++ % this.reservoir] = ms;
  }

  latenessSummary(): { p50: number; p99: number; max: number; n: number } | undefined {
    if (this.lateness.length === 0) return undefined;
    const sorted = [...this.lateness].sort((a, b) => a - b);
    const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
    return { p50: q(0.5), p99: q(0.99), max: sorted[sorted.length - 1], n: sorted.length };
  }

  summary(): Record<string, unknown> {
    return {
      fetches: this.fetches,
      records: this.records,
      bytes: this.bytes,
      failures: Object.fromEntries(this.failures),
      missed_ticks: Object.fromEntries(this.missed),
      lateness_ms: this.latenessSummary(),
    };
  }
}
