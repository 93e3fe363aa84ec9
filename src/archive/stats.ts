/**
 * How well one stream was recorded over a time range (`nsr stats`): record
 * counts, the spacing of records, how late each arrived against its tick,
 * gaps and what the events stream says about each of them, and for graph
 * data the link utilisation over time.
 *
 * The records are read once, merged in time order with the events stream, so
 * a gap is classified when its closing record arrives, from the events that
 * fell inside it. Before that, the start/stop events are read on their own
 * (the interval in effect, whether nsr ran when the range begins), and when no
 * start event names the stream, the first records give the interval.
 * Memory is bounded whatever the range: values go into histograms, time
 * series into at most MAX_BUCKETS buckets (their width doubles as the range
 * grows), and only the biggest gaps are kept.
 */
import type { StreamCatalog, WindowInfo } from './catalog.js';
import { readRecords, type ArchiveProblem, type ArchivedRecord } from './records.js';
import { Buckets, MAX_BUCKETS, expectedSpan, niceWidth } from './stats/buckets.js';
import { EventCursor, readRuns, type ParsedEvent, type RemovedSpan } from './stats/events.js';
import { GAP_FACTOR, GapEvents, GapTally, MISSED } from './stats/gaps.js';
import { Histogram } from './stats/histogram.js';
import { findInterval } from './stats/interval.js';
import { UtilisationTally } from './stats/link-utilisation.js';
import { round2, type StatsReport, type StatsSeries } from './stats/report.js';

export { EVENTS_STREAM } from '../config/defaults.js';
export { Buckets, MAX_BUCKETS } from './stats/buckets.js';
export { GAP_FACTOR } from './stats/gaps.js';
export { Histogram } from './stats/histogram.js';
export { linkUtilisation } from './stats/link-utilisation.js';
export { NO_EVENT, NOT_RUNNING, type Gap, type GapExplanation, type Percentiles, type StatsReport, type StatsSeries } from './stats/report.js';

export interface StatsOptions {
  /** Inclusive, epoch ms. */
  from?: number;
  /** Exclusive, epoch ms. */
  to?: number;
  /** How many of the biggest gaps to list (default 10). */
  listGaps?: number;
  /** How many of the biggest gaps to keep for marking on charts (default 200). */
  markGaps?: number;
  onProblem?: (p: ArchiveProblem) => void;
  /** Progress display: called often; throttle on the other side. */
  onProgress?: (text: string) => void;
}

export async function computeStats(data: StreamCatalog, events: StreamCatalog | undefined, opts: StatsOptions = {}): Promise<{ report: StatsReport; series: StatsSeries }> {
  const from = opts.from ?? -Infinity;
  const to = opts.to ?? Infinity;
  const problems: ArchiveProblem[] = [];
  const onProblem = (p: ArchiveProblem) => {
    problems.push(p);
    opts.onProblem?.(p);
  };
  const say = opts.onProgress ?? (() => {});
  const stream = data.stream;

  // 1. The runs of nsr (start and stop events), to know the interval in effect and whether nsr ran at `from`.
  const removed: RemovedSpan[] = [];
  const runs = events ? await readRuns(events, stream, (p) => onProblem(p), (w, i, n) => say(`events: window ${i + 1}/${n} ${w.file}`), removed, opts.from) : [];
  // A gap with a removed window's records inside it is retention's doing.
  const removedInside = overlapsAny(removed);
  const found = await findInterval(data, runs, events !== undefined, { from: opts.from, to: opts.to }, say);
  let intervalMs = found.ms;
  const { source, detail, changes } = found;
  const aligned = source === 'events';

  // nsr's state at the start of the range.
  let running = false;
  for (const r of runs) if (r.at < from) running = r.kind === 'start'; // events from `from` on are replayed below

  // 2. The records, merged with the events.
  // Records and missed ticks share buckets (one chart); field `records`, and `missed:<reason>`.
  // Bucket widths from the span the catalog promises (the widths double if it was short).
  const span = expectedSpan(data, from, to);
  const timeline = new Buckets(niceWidth(Math.max(5 * (intervalMs ?? 1000), span / 500)));
  const util = new UtilisationTally(niceWidth(Math.max(intervalMs ?? 1000, span / MAX_BUCKETS)));

  const intervals = new Histogram();
  const lateness = new Histogram();
  const listGaps = opts.listGaps ?? 10;
  const gaps = new GapTally(Math.max(listGaps, opts.markGaps ?? 200), timeline, events !== undefined);
  const missedByReason: Record<string, number> = {};
  let missedTotal = 0;
  const eventCounts: Record<string, number> = {};
  const runCounts = { starts: 0, stops: 0, restarts_without_stop: 0 };
  let acc = new GapEvents();
  let beforeFirst: Record<string, number> | undefined;

  let records = 0;
  /**
   * Ticks that have at least one record. A many-device stream (junos) writes many
   * records a tick, all before the next tick, so its ticks are counted by grid slot.
   */
  const manyPerTick = runs.some((r) => r.manyPerTick);
  let ticksWithRecords = 0;
  let lastTick: number | undefined;
  let bytes = 0;
  let first: number | undefined;
  let prev: number | undefined;
  let backwards = 0;
  let windowsRead = 0;
  let lastWindow: WindowInfo | undefined;
  // What the charts span: the records and the events of the range.
  let seenFirst = Infinity;
  let seenLast = -Infinity;
  const seen = (t: number) => {
    if (t < seenFirst) seenFirst = t;
    if (t > seenLast) seenLast = t;
  };

  const applyEvent = (e: ParsedEvent) => {
    const inRange = e.key >= from && e.key < to;
    const ev = e.fields;
    if (e.event === 'start') {
      const mine = (ev.streams as Record<string, { interval_ms?: number }> | undefined)?.[stream];
      if (inRange) {
        runCounts.starts++;
        if (running) runCounts.restarts_without_stop++;
        acc.start(e.key, running, mine === undefined);
      }
      if (mine?.interval_ms && mine.interval_ms > 0 && e.key < to) {
        if (intervalMs !== undefined && mine.interval_ms !== intervalMs) acc.intervalChanged = true;
        if (source === 'events') intervalMs = mine.interval_ms;
      }
      running = true;
    } else if (e.event === 'stop') {
      if (inRange) {
        runCounts.stops++;
        acc.stop(e.key, typeof ev.reason === 'string' ? ev.reason : undefined);
      }
      running = false;
    }
    if (!inRange) return;
    seen(e.key);
    eventCounts[e.event] = (eventCounts[e.event] ?? 0) + 1;
    if (e.event === 'missed_tick' && ev.stream === stream) {
      const reason = typeof ev.reason === 'string' ? ev.reason : 'unknown';
      // One event may stand for a run of ticks missed together (a stalled process).
      const n = typeof ev.count === 'number' && ev.count > 0 ? ev.count : 1;
      missedByReason[reason] = (missedByReason[reason] ?? 0) + n;
      missedTotal += n;
      acc.missed[reason] = (acc.missed[reason] ?? 0) + n;
      acc.missedTotal += n;
      timeline.add(MISSED + reason, e.key, n);
    }
  };

  const onRecord = (r: ArchivedRecord) => {
    const ts = r.timestamp;
    if (r.window !== lastWindow) {
      lastWindow = r.window;
      windowsRead++;
    }
    records++;
    const tick = manyPerTick && intervalMs ? Math.floor(ts / intervalMs) : records;
    if (tick !== lastTick) ticksWithRecords++;
    lastTick = tick;
    bytes += r.line.length + 1;
    first ??= ts;
    seen(ts);
    timeline.add('records', ts, 1);
    const I = intervalMs;
    if (prev === undefined) {
      beforeFirst = { ...acc.missed };
    } else if (ts < prev) {
      backwards++;
    } else {
      const dt = ts - prev;
      intervals.add(dt);
      if (I !== undefined) {
        const tickwise = aligned && !acc.intervalChanged;
        const missed = tickwise ? Math.floor(ts / I) - Math.floor(prev / I) - 1 : Math.max(1, Math.round(dt / I) - 1);
        if (tickwise ? missed >= 1 : dt > GAP_FACTOR * I) gaps.close(prev, ts, missed, acc, aligned, I, removedInside(prev, ts));
      }
    }
    if (aligned && I !== undefined) lateness.add(ts - Math.floor(ts / I) * I);
    util.add(ts, r.line);
    acc = new GapEvents();
    prev = ts;
    if (records % 2000 === 0) say(`${stream}: ${records.toLocaleString('en-US')} records, window ${r.window.file}`);
  };

  const cursor = new EventCursor(events, stream, { from: opts.from, to: opts.to === undefined ? undefined : opts.to + 60_000 }, onProblem, applyEvent);
  const lookahead = () => 2 * (intervalMs ?? 1000) + 1000;
  for await (const r of readRecords(data, { from: opts.from, to: opts.to, onProblem, onWindow: (w, i, n) => say(`${stream}: window ${i + 1}/${n} ${w.file}, ${records.toLocaleString('en-US')} records`) })) {
    await cursor.advance(r.timestamp, lookahead());
    onRecord(r);
  }
  await cursor.advance(Infinity, lookahead());
  const afterLast = prev === undefined ? {} : { ...acc.missed };
  if (prev === undefined) beforeFirst = { ...acc.missed };

  const last = prev;
  // Every tick from the first record's to the last one's either has a record or is a missed tick of a gap.
  const coverage: StatsReport['coverage'] =
    records > 0 && intervalMs !== undefined ? { expected_ticks: ticksWithRecords + gaps.missedTicks, records: ticksWithRecords, percent: round2((100 * ticksWithRecords) / (ticksWithRecords + gaps.missedTicks)) } : null;

  const report: StatsReport = {
    stream,
    range: { from: opts.from ?? null, to: opts.to ?? null },
    windows: windowsRead,
    records,
    bytes,
    first: first ?? null,
    last: last ?? null,
    interval: { ms: intervalMs ?? null, source, detail, changes: changes.length > 1 ? changes : [] },
    coverage,
    intervals_ms: intervals.percentiles(),
    lateness_ms: aligned ? lateness.percentiles() : null,
    lateness_note: aligned
      ? 'arrival after the tick on the clock grid: start delay plus response time'
      : 'not computed: the ticks of this archive are not known to be on the clock grid (no start event names the stream)',
    backwards,
    gaps: {
      count: gaps.count,
      missed_ticks: gaps.missedTicks,
      by_explanation: gaps.byExplanation,
      unexplained_missed_ticks: gaps.unexplainedTicks,
      biggest: gaps.sorted().slice(0, listGaps),
    },
    missed_ticks: { total: missedTotal, by_reason: sortedCounts(missedByReason), before_first_record: sortedCounts(beforeFirst ?? {}), after_last_record: sortedCounts(afterLast) },
    events: { available: events !== undefined, counts: sortedCounts(eventCounts), runs: runCounts },
    utilisation: util.report(),
    problems,
  };

  // Series for charts, on a common time span.
  const spanStart = Number.isFinite(seenFirst) ? seenFirst : Number.isFinite(from) ? from : 0;
  const spanEnd = Number.isFinite(seenLast) ? Math.min(to, seenLast + (intervalMs ?? 0)) : spanStart;
  const series: StatsSeries = {
    origin: timeline.origin ?? spanStart,
    width: timeline.width,
    records: timeline.values('records'),
    missed: Object.fromEntries(timeline.fieldNames().filter((f) => f.startsWith(MISSED)).map((f) => [f.slice(MISSED.length), timeline.values(f)])),
    utilisation: util.series(),
    lateness: lateness.entries(),
    gaps: gaps.sorted(),
    start: spanStart,
    end: Math.max(spanEnd, spanStart + 1),
  };
  return { report, series };
}

function sortedCounts(counts: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
}

/**
 * Whether any span has records inside (a, b): after a year under retention
 * there is one removed window per few minutes (~100,000), and a pass over all
 * of them for each gap made \`nsr stats\` quadratic. Sorted by first record, with
 * the latest last record of each prefix: one binary search per gap.
 */
function overlapsAny(spans: readonly { first: number; last: number }[]): (a: number, b: number) => boolean {
  const sorted = [...spans].sort((x, y) => x.first - y.first);
  const firsts = sorted.map((r) => r.first);
  const maxLast: number[] = [];
  for (const r of sorted) maxLast.push(Math.max(r.last, maxLast.length ? maxLast[maxLast.length - 1] : -Infinity));
  return (a, b) => {
    // The spans that begin before b: sorted[0 .. n); any of them ending after a?
    let lo = 0;
    let hi = firsts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (firsts[mid] < b) lo = mid + 1;
      else hi = mid;
    }
    return lo > 0 && maxLast[lo - 1] > a;
  };
}
