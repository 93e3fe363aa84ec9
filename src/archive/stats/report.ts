/**
 * What `nsr stats` hands back: the report of one stream over a range (printed as text or
 * JSON by the CLI) and the bucketed series its HTML charts are drawn from.
 */
import type { ArchiveProblem } from '../records.js';

/** How a gap is explained by the events stream. */
export type GapExplanation =
  /** nsr was stopped (or crashed and restarted) inside the gap. */
  | 'not_running'
  /** `missed_tick` events cover every missed tick. */
  | 'missed_ticks'
  /** `missed_tick` events cover some of the missed ticks. */
  | 'partly'
  /** Retention removed windows of the stream inside it (`retention_deleted` events). */
  | 'retention'
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

/** Percentages and ratios in the report carry two decimals. */
export const round2 = (v: number) => Math.round(v * 100) / 100;
