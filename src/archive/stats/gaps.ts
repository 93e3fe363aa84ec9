/**
 * Gaps for `nsr stats`: a stretch without records, classified when its closing record
 * arrives by what the events stream says happened inside it (nsr stopped or restarted,
 * `missed_tick` events with their reason, or nothing). Only the biggest gaps are kept.
 */
import type { Buckets } from './buckets.js';
import { NO_EVENT, NOT_RUNNING, type Gap, type GapExplanation, type StatsReport } from './report.js';

/** A stretch without records is a gap when it is longer than this many intervals (intervals not from events). */
export const GAP_FACTOR = 1.5;
/** Prefix of the timeline fields that count missed ticks (`missed:<reason>`). */
export const MISSED = 'missed:';

/** What the events say about the time since the last record. */
export class GapEvents {
  missed: Record<string, number> = {};
  missedTotal = 0;
  starts = 0;
  stops = 0;
  stopAt: number | undefined;
  stopReason: string | undefined;
  startAt: number | undefined;
  restartWithoutStop = false;
  notConfigured = false;
  intervalChanged = false;

  start(at: number, wasRunning: boolean, notConfigured: boolean): void {
    this.starts++;
    this.startAt = at;
    if (wasRunning) this.restartWithoutStop = true;
    if (notConfigured) this.notConfigured = true;
  }

  stop(at: number, reason: string | undefined): void {
    this.stops++;
    this.stopAt ??= at;
    this.stopReason ??= reason;
  }

  describe(explanation: GapExplanation, missed: number, haveEvents: boolean): string {
    const reasons = Object.entries(this.missed)
      .sort((a, b) => b[1] - a[1])
      .map(([r, n]) => `${r} ${n}`)
      .join(', ');
    switch (explanation) {
      case 'not_running': {
        const parts: string[] = [];
        if (this.stops > 0) parts.push(`nsr stopped at ${clock(this.stopAt!)}${this.stopReason ? ` (${this.stopReason === 'duration' ? 'its --for time was up' : this.stopReason})` : ''}`);
        if (this.restartWithoutStop) parts.push(`nsr restarted${this.startAt ? ` at ${clock(this.startAt)}` : ''} without a stop event (it crashed or was killed)`);
        else if (this.startAt !== undefined) parts.push(`started again at ${clock(this.startAt)}`);
        if (this.notConfigured) parts.push('a run in between did not record this stream');
        if (this.starts > 1 || this.stops > 1) parts.push(`${this.starts} starts, ${this.stops} stops`);
        if (reasons) parts.push(`missed ticks reported: ${reasons}`);
        return parts.join('; ');
      }
      case 'missed_ticks':
        return `missed ticks reported: ${reasons}`;
      case 'retention':
        return 'retention removed the windows that held these records (retention_deleted events)';
      case 'partly':
        return `events report ${this.missedTotal} of ${missed} missed ticks (${reasons}); the rest is unexplained`;
      default:
        return haveEvents ? 'no event explains it' : 'no events stream to explain it (the original recorder keeps none)';
    }
  }
}

/** Local HH:MM:SS, for notes. */
function clock(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Counts the gaps of a stream by explanation, marks their unexplained ticks on the timeline, keeps the biggest. */
export class GapTally {
  count = 0;
  missedTicks = 0;
  /** Missed ticks that no event explains. */
  unexplainedTicks = 0;
  readonly byExplanation: StatsReport['gaps']['by_explanation'] = {
    not_running: { gaps: 0, missed_ticks: 0 },
    missed_ticks: { gaps: 0, missed_ticks: 0 },
    partly: { gaps: 0, missed_ticks: 0 },
    retention: { gaps: 0, missed_ticks: 0 },
    none: { gaps: 0, missed_ticks: 0 },
  };
  private readonly biggest: Biggest<Gap>;

  /** `keep`: how many of the biggest gaps to keep; `haveEvents`: whether there is an events stream to explain them. */
  constructor(keep: number, private readonly timeline: Buckets, private readonly haveEvents: boolean) {
    this.biggest = new Biggest<Gap>(keep, (g) => g.duration_ms);
  }

  /**
   * The gap between the records at `start` and `end`, with `missed` ticks and what the
   * events said meanwhile (`acc`). `aligned`: the ticks are on the clock grid of `intervalMs`.
   */
  close(start: number, end: number, missed: number, acc: GapEvents, aligned: boolean, intervalMs: number, removed = false): void {
    const explainedByEvents = removed ? missed : Math.min(missed, acc.missedTotal);
    const notRunning = acc.starts > 0 || acc.stops > 0;
    const explanation: GapExplanation = removed ? 'retention' : notRunning ? 'not_running' : explainedByEvents >= missed ? 'missed_ticks' : explainedByEvents > 0 ? 'partly' : 'none';
    const rest = missed - explainedByEvents;
    if (rest > 0) {
      // The ticks the events do not account for, on the chart where they were due (evenly spread when not on the clock grid).
      const step = aligned && !acc.intervalChanged ? intervalMs : (end - start) / (missed + 1);
      const firstTick = aligned && !acc.intervalChanged ? (Math.floor(start / intervalMs) + 1 + explainedByEvents) * intervalMs : start + step * (1 + explainedByEvents);
      this.timeline.addEvery(MISSED + (notRunning ? NOT_RUNNING : NO_EVENT), firstTick, step, rest);
      if (!notRunning) this.unexplainedTicks += rest;
    }
    this.count++;
    this.missedTicks += missed;
    this.byExplanation[explanation].gaps++;
    this.byExplanation[explanation].missed_ticks += missed;
    this.biggest.add({ start, end, duration_ms: end - start, missed_ticks: missed, explanation, reasons: { ...acc.missed }, note: acc.describe(explanation, missed, this.haveEvents) });
  }

  /** The kept gaps, longest first. */
  sorted(): Gap[] {
    return this.biggest.sorted();
  }
}

/** Keeps the `limit` largest items by `size`, in bounded memory. */
class Biggest<T> {
  private items: T[] = [];
  constructor(private readonly limit: number, private readonly size: (t: T) => number) {}
  add(item: T): void {
    this.items.push(item);
    if (this.items.length > 2 * this.limit) this.items = this.sorted().slice(0, this.limit);
  }
  sorted(): T[] {
    return [...this.items].sort((a, b) => this.size(b) - this.size(a)).slice(0, this.limit);
  }
}
