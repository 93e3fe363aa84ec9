/**
 * The tick interval of a stream for `nsr stats`: from nsr's start events when one names
 * the stream (then ticks are on the clock grid, so lateness and missed ticks can be
 * counted exactly), else the median spacing of the first records (the original recorder
 * writes no events).
 */
import type { StreamCatalog } from '../catalog.js';
import { readRecords } from '../records.js';
import type { RunMark } from './events.js';
import type { StatsReport } from './report.js';

/** Records read to infer the interval when no `start` event names the stream. */
const INFER_SAMPLE = 10_000;

export interface IntervalFound {
  ms: number | undefined;
  source: StatsReport['interval']['source'];
  detail: string;
  /** Every interval the `start` events gave the stream, oldest first, when it changed. */
  changes: { at: number; ms: number }[];
}

/**
 * The interval in effect at the start of `range` (the newest start event before it, else
 * the first one), or inferred from the records when no start event names the stream.
 */
export async function findInterval(data: StreamCatalog, runs: RunMark[], haveEvents: boolean, range: { from?: number; to?: number }, say: (t: string) => void): Promise<IntervalFound> {
  const from = range.from ?? -Infinity;
  const stream = data.stream;
  const starts = runs.filter((r): r is RunMark & { intervalMs: number } => r.kind === 'start' && r.intervalMs !== undefined);
  let intervalMs: number | undefined;
  let source: StatsReport['interval']['source'] = 'unknown';
  let detail: string;
  if (starts.length > 0) {
    source = 'events';
    const before = starts.filter((s) => s.at <= from);
    intervalMs = (before.length ? before[before.length - 1] : starts[0]).intervalMs;
    detail = `from nsr's start event (ticks on the clock grid)`;
  } else {
    const sample = await inferInterval(data, range, say);
    intervalMs = sample.ms;
    if (intervalMs !== undefined) source = 'inferred';
    const why = haveEvents ? `no start event names ${stream}` : 'no events stream';
    detail = intervalMs === undefined ? `unknown: fewer than 2 records and ${why}` : `inferred: median of ${sample.n} differences between records (${why})`;
  }
  const changes: { at: number; ms: number }[] = [];
  for (const s of starts) if (changes.length === 0 || changes[changes.length - 1].ms !== s.intervalMs) changes.push({ at: s.at, ms: s.intervalMs });
  return { ms: intervalMs, source, detail, changes };
}

/** Median difference between consecutive records, from the first records of the range. */
async function inferInterval(data: StreamCatalog, range: { from?: number; to?: number }, say: (t: string) => void): Promise<{ ms: number | undefined; n: number }> {
  const diffs: number[] = [];
  let prev: number | undefined;
  say(`${data.stream}: inferring the interval`);
  for await (const { timestamp } of readRecords(data, { from: range.from, to: range.to })) {
    if (prev !== undefined && timestamp > prev) diffs.push(timestamp - prev);
    prev = timestamp;
    if (diffs.length >= INFER_SAMPLE) break;
  }
  if (diffs.length === 0) return { ms: undefined, n: 0 };
  diffs.sort((a, b) => a - b);
  return { ms: diffs[Math.floor((diffs.length - 1) / 2)], n: diffs.length };
}
