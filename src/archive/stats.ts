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
import { EVENTS_STREAM } from '../config/defaults.js';
import type { StreamCatalog, WindowInfo } from './catalog.js';
import { readRecords, type ArchiveProblem, type ArchivedRecord } from './records.js';

export { EVENTS_STREAM };

/** A stretch without records is a gap when it is longer than this many intervals (intervals not from events). */
export const GAP_FACTOR = 1.5;
/** Time series hold at most this many buckets; beyond it the bucket width doubles. */
export const MAX_BUCKETS = 2000;
/** Records read to infer the interval when no `start` event names the stream. */
const INFER_SAMPLE = 10_000;

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

/** How a gap is explained by the events stream. */
export type GapExplanation =
  /** nsr was stopped (or crashed and restarted) inside the gap. */
  | 'not_running'
  /** `missed_tick` events cover every missed tick. */
  | 'missed_ticks'
  /** `missed_tick` events cover some of the missed ticks. */
  | 'partly'
  /** Nothing in the events stream explains it. */
  | 'none';

export interface Gap {
  /** Timestamp of the record before the gap. */
  start: number;
  /** Timestamp of the record after the gap. */
  end: number;
  duration_ms: number;
  /** Ticks without a record inside the gap. */
  missed_ticks: number;
  explanation: GapExplanation;
  /** `missed_tick` events of the stream inside the gap, by reason. */
  reasons: Record<string, number>;
  /** One line for a person. */
  note: string;
}

export interface Percentiles {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface StatsReport {
  stream: string;
  range: { from: number | null; to: number | null };
  /** Windows read (those overlapping the range). */
  windows: number;
  records: number;
  /** Record bytes including their newlines. */
  bytes: number;
  first: number | null;
  last: number | null;
  interval: {
    ms: number | null;
    /** `events`: the newest `start` event naming the stream (ticks aligned to the clock); `inferred`: median spacing of records. */
    source: 'events' | 'inferred' | 'unknown';
    detail: string;
    /** Every interval the `start` events gave the stream, oldest first, when it changed. */
    changes: { at: number; ms: number }[];
  };
  /** Ticks from the first record's to the last record's, and how many have a record. */
  coverage: { expected_ticks: number; records: number; percent: number } | null;
  /** Time between consecutive records. */
  intervals_ms: Percentiles | null;
  /** Arrival after the tick (ts − floor(ts/I)·I); only for ticks known to be clock-aligned. */
  lateness_ms: Percentiles | null;
  lateness_note: string;
  /** Records whose timestamp is older than the one before (the clock stepped back). */
  backwards: number;
  gaps: {
    count: number;
    missed_ticks: number;
    /** By explanation: how many gaps, and how many missed ticks. */
    by_explanation: Record<GapExplanation, { gaps: number; missed_ticks: number }>;
    /** Missed ticks that no event explains. */
    unexplained_missed_ticks: number;
    /** The biggest gaps, longest first. */
    biggest: Gap[];
  };
  missed_ticks: {
    /** `missed_tick` events of the stream with their tick inside the range. */
    total: number;
    by_reason: Record<string, number>;
    /** Of those, before the first record and after the last one (no record closes them into a gap). */
    before_first_record: Record<string, number>;
    after_last_record: Record<string, number>;
  };
  events: {
    /** Whether the directory has an events stream at all (the original recorder writes none). */
    available: boolean;
    /** Events in the range that concern the stream or the whole recorder, by type. */
    counts: Record<string, number>;
    runs: { starts: number; stops: number; restarts_without_stop: number };
  };
  /** Graph data only: link_bandwidth_utilization_percent over all links, per record. */
  utilisation: { records: number; mean_percent: number; max_percent: number; max_at: number } | null;
  problems: ArchiveProblem[];
}

/** Bucketed time series for charts. */
export interface StatsSeries {
  origin: number;
  width: number;
  /** Counts per bucket. */
  records: number[];
  /** Missed ticks per bucket, by reason; also `not running` and `no event` from gaps. */
  missed: Record<string, number[]>;
  /** Graph data: per bucket, mean of the records' mean utilisation, and the max of their max. */
  utilisation: { origin: number; width: number; mean: (number | null)[]; max: (number | null)[] } | null;
  /** Lateness histogram (value in ms → count); exact below 10 s. */
  lateness: [number, number][];
  /** The biggest gaps, for marking on charts. */
  gaps: Gap[];
  /** The time span charts cover. */
  start: number;
  end: number;
}

/** Labels of the missed-tick series that come from gaps rather than events. */
export const NOT_RUNNING = 'nsr not running';
export const NO_EVENT = 'no event';
const MISSED = 'missed:';

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
  const runs = events ? await readRuns(events, stream, (p) => onProblem(p), (w, i, n) => say(`events: window ${i + 1}/${n} ${w.file}`)) : [];
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
    const sample = await inferInterval(data, opts, say);
    intervalMs = sample.ms;
    if (intervalMs !== undefined) source = 'inferred';
    const why = events ? `no start event names ${stream}` : 'no events stream';
    detail = intervalMs === undefined ? `unknown: fewer than 2 records and ${why}` : `inferred: median of ${sample.n} differences between records (${why})`;
  }
  const aligned = source === 'events';
  const changes: { at: number; ms: number }[] = [];
  for (const s of starts) if (changes.length === 0 || changes[changes.length - 1].ms !== s.intervalMs) changes.push({ at: s.at, ms: s.intervalMs });

  // nsr's state at the start of the range.
  let running = false;
  for (const r of runs) if (r.at < from) running = r.kind === 'start'; // events from `from` on are replayed below

  // 2. The records, merged with the events.
  // Records and missed ticks share buckets (one chart); field `records`, and `missed:<reason>`.
  // Bucket widths from the span the catalog promises (the widths double if it was short).
  const span = expectedSpan(data, from, to);
  const timeline = new Buckets(niceWidth(Math.max(5 * (intervalMs ?? 1000), span / 500)));
  const util = new Buckets(niceWidth(Math.max(intervalMs ?? 1000, span / MAX_BUCKETS)));
  let utilRecords = 0;
  let utilSum = 0;
  let utilMax = -Infinity;
  let utilMaxAt = 0;

  const intervals = new Histogram();
  const lateness = new Histogram();
  const byExplanation: StatsReport['gaps']['by_explanation'] = {
    not_running: { gaps: 0, missed_ticks: 0 },
    missed_ticks: { gaps: 0, missed_ticks: 0 },
    partly: { gaps: 0, missed_ticks: 0 },
    none: { gaps: 0, missed_ticks: 0 },
  };
  let gapCount = 0;
  let gapTicks = 0;
  let unexplainedTicks = 0;
  const listGaps = opts.listGaps ?? 10;
  const biggest = new Biggest<Gap>(Math.max(listGaps, opts.markGaps ?? 200), (g) => g.duration_ms);
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

  const closeGap = (start: number, end: number, missed: number) => {
    const explainedByEvents = Math.min(missed, acc.missedTotal);
    const notRunning = acc.starts > 0 || acc.stops > 0;
    const explanation: GapExplanation = notRunning ? 'not_running' : explainedByEvents >= missed ? 'missed_ticks' : explainedByEvents > 0 ? 'partly' : 'none';
    const rest = missed - explainedByEvents;
    if (rest > 0) {
      // The ticks the events do not account for, on the chart where they were due (evenly spread when not on the clock grid).
      const step = aligned && !acc.intervalChanged ? intervalMs! : (end - start) / (missed + 1);
      const firstTick = aligned && !acc.intervalChanged ? (Math.floor(start / intervalMs!) + 1 + explainedByEvents) * intervalMs! : start + step * (1 + explainedByEvents);
      timeline.addEvery(MISSED + (notRunning ? NOT_RUNNING : NO_EVENT), firstTick, step, rest);
      if (!notRunning) unexplainedTicks += rest;
    }
    gapCount++;
    gapTicks += missed;
    byExplanation[explanation].gaps++;
    byExplanation[explanation].missed_ticks += missed;
    biggest.add({ start, end, duration_ms: end - start, missed_ticks: missed, explanation, reasons: { ...acc.missed }, note: acc.describe(explanation, missed, events !== undefined) });
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
        if (tickwise ? missed >= 1 : dt > GAP_FACTOR * I) closeGap(prev, ts, missed);
      }
    }
    if (aligned && I !== undefined) lateness.add(ts - Math.floor(ts / I) * I);
    const u = linkUtilisation(r.line);
    if (u) {
      utilRecords++;
      utilSum += u.mean;
      if (u.max > utilMax) {
        utilMax = u.max;
        utilMaxAt = ts;
      }
      util.add('sum', ts, u.mean);
      util.add('n', ts, 1);
      util.max('max', ts, u.max);
    }
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
    records > 0 && intervalMs !== undefined ? { expected_ticks: ticksWithRecords + gapTicks, records: ticksWithRecords, percent: round2((100 * ticksWithRecords) / (ticksWithRecords + gapTicks)) } : null;

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
      count: gapCount,
      missed_ticks: gapTicks,
      by_explanation: byExplanation,
      unexplained_missed_ticks: unexplainedTicks,
      biggest: biggest.sorted().slice(0, listGaps),
    },
    missed_ticks: { total: missedTotal, by_reason: sortedCounts(missedByReason), before_first_record: sortedCounts(beforeFirst ?? {}), after_last_record: sortedCounts(afterLast) },
    events: { available: events !== undefined, counts: sortedCounts(eventCounts), runs: runCounts },
    utilisation: utilRecords ? { records: utilRecords, mean_percent: round2(utilSum / utilRecords), max_percent: round2(utilMax), max_at: utilMaxAt } : null,
    problems,
  };

  // Series for charts, on a common time span.
  const spanStart = Number.isFinite(seenFirst) ? seenFirst : Number.isFinite(from) ? from : 0;
  const spanEnd = Number.isFinite(seenLast) ? Math.min(to, seenLast + (intervalMs ?? 0)) : spanStart;
  const utilN = util.values('n');
  const series: StatsSeries = {
    origin: timeline.origin ?? spanStart,
    width: timeline.width,
    records: timeline.values('records'),
    missed: Object.fromEntries(timeline.fieldNames().filter((f) => f.startsWith(MISSED)).map((f) => [f.slice(MISSED.length), timeline.values(f)])),
    utilisation: utilRecords
      ? {
          origin: util.origin!,
          width: util.width,
          mean: util.values('sum').map((s, i) => (utilN[i] ? s / utilN[i] : null)),
          max: util.values('max').map((m, i) => (utilN[i] ? m : null)),
        }
      : null,
    lateness: lateness.entries(),
    gaps: biggest.sorted(),
    start: spanStart,
    end: Math.max(spanEnd, spanStart + 1),
  };
  return { report, series };
}

/** The time the records of the range span, from the windows' metadata (0 when unknown). */
function expectedSpan(data: StreamCatalog, from: number, to: number): number {
  let first = Infinity;
  let last = -Infinity;
  for (const w of data.windows) {
    if (w.error || w.records === 0 || w.source === 'name' || w.last < from || w.first >= to) continue;
    first = Math.min(first, Math.max(from, w.first));
    last = Math.max(last, Math.min(to, w.last));
  }
  return last > first ? last - first : 0;
}

const NICE_WIDTHS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400].map((s) => s * 1000);

/** The smallest round bucket width (1 s, 5 s, 1 min, 15 min, 1 h, …) of at least `ms`. */
function niceWidth(ms: number): number {
  return NICE_WIDTHS.find((w) => w >= ms) ?? Math.ceil(ms / 86_400_000) * 86_400_000;
}

/** Mean and max of `link_bandwidth_utilization_percent` over the edges of a graph record; read by a byte scan. */
export function linkUtilisation(line: Buffer): { mean: number; max: number; links: number } | undefined {
  let sum = 0;
  let max = -Infinity;
  let links = 0;
  for (let at = line.indexOf(UTIL_KEY); at !== -1; at = line.indexOf(UTIL_KEY, at)) {
    at += UTIL_KEY.length;
    while (line[at] === 0x20) at++;
    let end = at;
    // -0123456789.eE+
    while (end < line.length && ((line[end] >= 0x30 && line[end] <= 0x39) || line[end] === 0x2e || line[end] === 0x2d || line[end] === 0x2b || line[end] === 0x65 || line[end] === 0x45)) end++;
    const v = Number(line.toString('latin1', at, end));
    if (end === at || !Number.isFinite(v)) continue;
    sum += v;
    if (v > max) max = v;
    links++;
  }
  return links ? { mean: sum / links, max, links } : undefined;
}
const UTIL_KEY = Buffer.from('"link_bandwidth_utilization_percent":');

// ---------------------------------------------------------------------------

interface RunMark {
  at: number;
  kind: 'start' | 'stop';
  /** start only: the stream's interval, when this run recorded the stream. */
  intervalMs?: number;
  /** start only: the stream writes many records a tick (one per device). */
  manyPerTick?: boolean;
}

/** The start and stop events, in order (there are only as many as nsr was started). */
async function readRuns(events: StreamCatalog, stream: string, onProblem: (p: ArchiveProblem) => void, onWindow: (w: WindowInfo, i: number, n: number) => void): Promise<RunMark[]> {
  const runs: RunMark[] = [];
  for await (const { line, timestamp } of readRecords(events, { onProblem, onWindow })) {
    const isStart = line.includes(START_MARK);
    if (!isStart && !line.includes(STOP_MARK)) continue;
    if (!isStart) {
      runs.push({ at: timestamp, kind: 'stop' });
      continue;
    }
    const fields = parseEvent(line);
    const mine = (fields?.streams as Record<string, { interval_ms?: unknown; records_per_tick?: unknown }> | undefined)?.[stream];
    const ms = typeof mine?.interval_ms === 'number' && mine.interval_ms > 0 ? mine.interval_ms : undefined;
    runs.push({ at: timestamp, kind: 'start', intervalMs: ms, manyPerTick: mine?.records_per_tick === 'many' });
  }
  return runs;
}
const START_MARK = Buffer.from('"event":"start"');
const STOP_MARK = Buffer.from('"event":"stop"');

/** Median difference between consecutive records, from the first records of the range. */
async function inferInterval(data: StreamCatalog, opts: StatsOptions, say: (t: string) => void): Promise<{ ms: number | undefined; n: number }> {
  const diffs: number[] = [];
  let prev: number | undefined;
  say(`${data.stream}: inferring the interval`);
  for await (const { timestamp } of readRecords(data, { from: opts.from, to: opts.to })) {
    if (prev !== undefined && timestamp > prev) diffs.push(timestamp - prev);
    prev = timestamp;
    if (diffs.length >= INFER_SAMPLE) break;
  }
  if (diffs.length === 0) return { ms: undefined, n: 0 };
  diffs.sort((a, b) => a - b);
  return { ms: diffs[Math.floor((diffs.length - 1) / 2)], n: diffs.length };
}

function parseEvent(line: Buffer): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(line.toString('utf8'));
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

interface ParsedEvent {
  /** Where the event belongs in time: a missed tick's scheduled time, else when it was written. */
  key: number;
  event: string;
  fields: Record<string, unknown>;
}

/**
 * The events stream read alongside the records. A missed tick is written after
 * its tick (when the fetch gave up, at most about an interval later), so events
 * are read up to `lookahead` past each record and handed to `apply` in the
 * order of their tick. Only the events of one lookahead are ever held: an
 * event is applied as soon as no later event can belong before it, so a long
 * outage without records (millions of missed ticks) streams through.
 */
class EventCursor {
  private readonly it: AsyncIterator<ArchivedRecord> | undefined;
  private next: ArchivedRecord | undefined;
  private done: boolean;
  private pending: ParsedEvent[] = [];
  private readonly mine: Buffer;
  private readonly anyStream = Buffer.from('"stream":"');

  constructor(
    events: StreamCatalog | undefined,
    stream: string,
    range: { from?: number; to?: number },
    onProblem: (p: ArchiveProblem) => void,
    private readonly apply: (e: ParsedEvent) => void,
  ) {
    this.it = events ? readRecords(events, { ...range, onProblem })[Symbol.asyncIterator]() : undefined;
    this.done = !this.it;
    this.mine = Buffer.from(`"stream":${JSON.stringify(stream)}`);
  }

  /** Applies every event that belongs at or before `t` (Infinity: all that are left). */
  async advance(t: number, lookahead: number): Promise<void> {
    while (!this.done) {
      if (!this.next) {
        const r = await this.it!.next();
        if (r.done) {
          this.done = true;
          break;
        }
        this.next = r.value;
      }
      if (this.next.timestamp > t + lookahead) break;
      const written = this.next.timestamp;
      this.accept(this.next);
      this.next = undefined;
      this.flush(Math.min(t, written - lookahead));
    }
    this.flush(t);
  }

  private flush(upTo: number): void {
    let n = 0;
    while (n < this.pending.length && this.pending[n].key <= upTo) this.apply(this.pending[n++]);
    if (n > 0) this.pending.splice(0, n);
  }

  private accept({ line, timestamp }: ArchivedRecord): void {
    // Events of other streams are skipped without parsing them.
    if (line.includes(this.anyStream) && !line.includes(this.mine)) return;
    const fields = parseEvent(line);
    if (!fields || typeof fields.event !== 'string') return;
    const key = fields.event === 'missed_tick' && typeof fields.scheduled_at === 'number' ? fields.scheduled_at : timestamp;
    const e: ParsedEvent = { key, event: fields.event, fields };
    let i = this.pending.length;
    while (i > 0 && this.pending[i - 1].key > key) i--;
    this.pending.splice(i, 0, e);
  }
}

/** What the events say about the time since the last record. */
class GapEvents {
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

/**
 * Named series in time buckets of a common width. The first value fixes the
 * origin; when a value falls beyond MAX_BUCKETS the width doubles and
 * neighbouring buckets merge, so any time range takes bounded memory.
 */
export class Buckets {
  origin: number | undefined;
  private readonly fields = new Map<string, { max: boolean; values: number[] }>();
  private length = 0;

  constructor(public width: number, private readonly maxBuckets = MAX_BUCKETS) {}

  add(field: string, t: number, v: number): void {
    const i = this.index(t);
    const f = this.field(field, false);
    f.values[i] = (f.values[i] ?? 0) + v;
  }

  max(field: string, t: number, v: number): void {
    const i = this.index(t);
    const f = this.field(field, true);
    f.values[i] = f.values[i] === undefined ? v : Math.max(f.values[i], v);
  }

  /** Adds `count` points at `first`, `first + step`, … (the missed ticks of a gap), each to its bucket. */
  addEvery(field: string, first: number, step: number, count: number): void {
    if (count <= 0) return;
    const lastT = first + (count - 1) * step;
    this.index(first);
    const last = this.index(lastT); // may widen the buckets: indexes are computed after
    const f = this.field(field, false);
    const origin = this.origin!;
    for (let i = Math.max(0, Math.floor((first - origin) / this.width)); i <= last; i++) {
      const b0 = origin + i * this.width;
      const j0 = Math.max(0, Math.ceil((b0 - first) / step));
      const j1 = Math.min(count, Math.ceil((b0 + this.width - first) / step));
      if (j1 > j0) f.values[i] = (f.values[i] ?? 0) + (j1 - j0);
    }
  }

  fieldNames(): string[] {
    return [...this.fields.keys()];
  }

  values(field: string): number[] {
    const f = this.fields.get(field);
    return Array.from({ length: this.length }, (_, i) => f?.values[i] ?? 0);
  }

  private field(name: string, max: boolean): { max: boolean; values: number[] } {
    let f = this.fields.get(name);
    if (!f) this.fields.set(name, (f = { max, values: [] }));
    return f;
  }

  private index(t: number): number {
    if (this.origin === undefined) this.origin = Math.floor(t / this.width) * this.width;
    let i = Math.floor((t - this.origin) / this.width);
    if (i < 0) return 0; // the clock stepped back before the first value
    while (i >= this.maxBuckets) {
      this.compact();
      i = Math.floor((t - this.origin) / this.width);
    }
    if (i >= this.length) this.length = i + 1;
    return i;
  }

  private compact(): void {
    // Keep the origin on a multiple of the doubled width, so merged buckets stay aligned.
    const origin = this.origin!;
    const newWidth = this.width * 2;
    const newOrigin = Math.floor(origin / newWidth) * newWidth;
    const offset = Math.round((origin - newOrigin) / this.width); // 0 or 1
    for (const f of this.fields.values()) {
      const merged: number[] = [];
      for (let i = 0; i < this.length; i++) {
        const v = f.values[i];
        if (v === undefined) continue;
        const j = (i + offset) >> 1;
        merged[j] = merged[j] === undefined ? v : f.max ? Math.max(merged[j], v) : merged[j] + v;
      }
      f.values = merged;
    }
    this.length = (this.length + offset + 1) >> 1;
    this.width = newWidth;
    this.origin = newOrigin;
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

function sortedCounts(counts: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
}

const round2 = (v: number) => Math.round(v * 100) / 100;
