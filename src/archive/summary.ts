/**
 * Per-stream summary of a catalog, for `nsr ls`: windows, span, records,
 * sizes, ratio, and gaps between windows (time with no records longer than a
 * few record intervals).
 */
import { EVENTS_STREAM } from '../config/defaults.js';
import type { StreamCatalog, WindowInfo } from './catalog.js';

export interface Gap {
  from: number;
  to: number;
  /** Time without records: exact between windows; inside a window, missing ticks × interval. */
  ms: number;
  /** Set when the gap lies inside this window: its records fall short of its span (where exactly, `nsr stats` tells). */
  inside?: string;
}

export interface StreamSummary {
  stream: string;
  windows: number;
  openWindows: number;
  first: number;
  last: number;
  records: number;
  bytes: number;
  diskBytes: number;
  /** Raw bytes per byte on disk. */
  ratio: number;
  /** Typical time between records, from the windows' counts and spans. */
  intervalMs: number | undefined;
  /**
   * Whether records come on a clock, so that a stretch without them is a gap: false for nsr's events stream, whose
   * records come when something happens (a year of them counted 105,000 "gaps").
   */
  periodic: boolean;
  gaps: Gap[];
  gapMs: number;
  unreadable: string[];
  /** Windows whose counts are not known (original recorder's zips, not scanned). */
  uncounted: number;
}

/** A gap is a stretch without records longer than this many typical intervals. */
const GAP_INTERVALS = 2.5;

/**
 * A stream's windows as a summary reads them: columns, in time order (by first
 * record, then name). `nsr ls` of a year reads 105,000 windows a stream from the
 * archive index straight into such columns (index-rows.ts); a catalog's windows
 * come through rowsOf.
 */
export interface StreamRows {
  stream: string;
  length: number;
  records: ArrayLike<number>;
  first: ArrayLike<number>;
  last: ArrayLike<number>;
  bytes: ArrayLike<number>;
  diskBytes: ArrayLike<number>;
  /** Per row: OPEN_WINDOW, KNOWN_BY_NAME (0 for most). */
  kind: ArrayLike<number>;
  /** The file of row i: asked only for the windows a gap lies inside. */
  file(i: number): string;
  /** Windows that could not be read, as `<file>: <why>`. */
  unreadable: string[];
}

/** A `.json` window, still open or waiting for compression. */
export const OPEN_WINDOW = 1;
/** Counts unknown (an original recorder's zip, not scanned). */
export const KNOWN_BY_NAME = 2;

/** A catalog's windows (in time order already) as rows. */
export function rowsOf(catalog: StreamCatalog): StreamRows {
  const unreadable: string[] = [];
  const read: WindowInfo[] = [];
  for (const w of catalog.windows) {
    if (w.error) unreadable.push(`${w.file}: ${w.error}`);
    else read.push(w);
  }
  return {
    stream: catalog.stream,
    length: read.length,
    records: read.map((w) => w.records),
    first: read.map((w) => w.first),
    last: read.map((w) => w.last),
    bytes: read.map((w) => w.bytes),
    diskBytes: read.map((w) => w.diskBytes),
    kind: read.map((w) => (w.type === 'json' ? OPEN_WINDOW : 0) | (w.source === 'name' ? KNOWN_BY_NAME : 0)),
    file: (i) => read[i].file,
    unreadable,
  };
}

export function summarize(rows: StreamRows): StreamSummary {
  const { records: n, first: firsts, last: lasts } = rows;
  // One pass for the sums and the spacing of each window, then one for the gaps (a year holds ~105,000 windows a stream).
  let openWindows = 0;
  let uncounted = 0;
  let records = 0;
  let bytes = 0;
  let diskBytes = 0;
  let first = Infinity;
  let last = -Infinity;
  const counted = new Int32Array(rows.length);
  let countedN = 0;
  const means: number[] = [];
  for (let i = 0; i < rows.length; i++) {
    const kind = rows.kind[i];
    if (kind & OPEN_WINDOW) openWindows++;
    if (kind & KNOWN_BY_NAME) uncounted++;
    records += n[i];
    bytes += rows.bytes[i];
    diskBytes += rows.diskBytes[i];
    if (kind & KNOWN_BY_NAME || n[i] <= 0) continue;
    counted[countedN++] = i;
    if (firsts[i] < first) first = firsts[i];
    if (lasts[i] > last) last = lasts[i];
    if (n[i] > 1) means.push((lasts[i] - firsts[i]) / (n[i] - 1));
  }
  const intervalMs = median(means);
  const periodic = rows.stream !== EVENTS_STREAM;
  const gaps: Gap[] = [];
  if (intervalMs && periodic) {
    for (let c = 0; c < countedN; c++) {
      const i = counted[c];
      // From metadata alone: between windows exactly, inside a window by its shortfall.
      const missingInside = Math.round((lasts[i] - firsts[i]) / intervalMs) + 1 - n[i];
      if (missingInside >= GAP_INTERVALS) gaps.push({ from: firsts[i], to: lasts[i], ms: missingInside * intervalMs, inside: rows.file(i) });
      if (c + 1 < countedN) {
        const next = counted[c + 1];
        if (firsts[next] - lasts[i] > GAP_INTERVALS * intervalMs) gaps.push({ from: lasts[i], to: firsts[next], ms: firsts[next] - lasts[i] });
      }
    }
  }
  return {
    stream: rows.stream,
    windows: rows.length,
    openWindows,
    first: countedN ? first : 0,
    last: countedN ? last : 0,
    records,
    bytes,
    diskBytes,
    ratio: diskBytes ? bytes / diskBytes : 0,
    intervalMs,
    periodic,
    gaps,
    gapMs: gaps.reduce((sum, g) => sum + g.ms, 0),
    unreadable: rows.unreadable,
    uncounted,
  };
}

/**
 * The element at floor(n/2) in sorted order (the median of the windows' mean record
 * intervals), found in linear time (Hoare's selection): sorting a year's windows took
 * longer than the rest of the summary. Reorders `values`.
 */
function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const k = Math.floor(values.length / 2);
  let lo = 0;
  let hi = values.length - 1;
  while (lo < hi) {
    const pivot = values[(lo + hi) >>> 1];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (values[i] < pivot) i++;
      while (values[j] > pivot) j--;
      if (i <= j) {
        const t = values[i];
        values[i++] = values[j];
        values[j--] = t;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else break;
  }
  return values[k];
}
