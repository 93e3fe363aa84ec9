/**
 * Per-stream summary of a catalog, for `nsr ls`: windows, span, records,
 * sizes, ratio, and gaps between windows (time with no records longer than a
 * few record intervals).
 */
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
  gaps: Gap[];
  gapMs: number;
  unreadable: string[];
  /** Windows whose counts are not known (original recorder's zips, not scanned). */
  uncounted: number;
}

/** A gap is a stretch without records longer than this many typical intervals. */
const GAP_INTERVALS = 2.5;

export function summarize(catalog: StreamCatalog): StreamSummary {
  // One pass for the sums and the spacing of each window, then one for the gaps (a year holds ~105,000 windows a stream).
  let windows = 0;
  let openWindows = 0;
  let uncounted = 0;
  let records = 0;
  let bytes = 0;
  let diskBytes = 0;
  let first = Infinity;
  let last = -Infinity;
  const unreadable: string[] = [];
  const counted: WindowInfo[] = [];
  const means: number[] = [];
  for (const w of catalog.windows) {
    if (w.error) {
      unreadable.push(`${w.file}: ${w.error}`);
      continue;
    }
    windows++;
    if (w.type === 'json') openWindows++;
    if (w.source === 'name') uncounted++;
    records += w.records;
    bytes += w.bytes;
    diskBytes += w.diskBytes;
    if (w.source === 'name' || w.records <= 0) continue;
    counted.push(w);
    if (w.first < first) first = w.first;
    if (w.last > last) last = w.last;
    if (w.records > 1) means.push((w.last - w.first) / (w.records - 1));
  }
  const intervalMs = median(means);
  const gaps: Gap[] = [];
  if (intervalMs) {
    for (let i = 0; i < counted.length; i++) {
      const w = counted[i];
      // From metadata alone: between windows exactly, inside a window by its shortfall.
      const missingInside = Math.round((w.last - w.first) / intervalMs) + 1 - w.records;
      if (missingInside >= GAP_INTERVALS) gaps.push({ from: w.first, to: w.last, ms: missingInside * intervalMs, inside: w.file });
      const next = counted[i + 1];
      if (next && next.first - w.last > GAP_INTERVALS * intervalMs) gaps.push({ from: w.last, to: next.first, ms: next.first - w.last });
    }
  }
  return {
    stream: catalog.stream,
    windows,
    openWindows,
    first: counted.length ? first : 0,
    last: counted.length ? last : 0,
    records,
    bytes,
    diskBytes,
    ratio: diskBytes ? bytes / diskBytes : 0,
    intervalMs,
    gaps,
    gapMs: gaps.reduce((n, g) => n + g.ms, 0),
    unreadable,
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
