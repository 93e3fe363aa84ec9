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
  const ok = catalog.windows.filter((w) => !w.error);
  const counted = ok.filter((w) => w.source !== 'name' && w.records > 0);
  const intervalMs = typicalInterval(counted);
  const gaps: Gap[] = [];
  if (intervalMs) {
    for (const [i, w] of counted.entries()) {
      // From metadata alone: between windows exactly, inside a window by its shortfall.
      const missingInside = Math.round((w.last - w.first) / intervalMs) + 1 - w.records;
      if (missingInside >= GAP_INTERVALS) gaps.push({ from: w.first, to: w.last, ms: missingInside * intervalMs, inside: w.file });
      const next = counted[i + 1];
      if (next && next.first - w.last > GAP_INTERVALS * intervalMs) gaps.push({ from: w.last, to: next.first, ms: next.first - w.last });
    }
  }
  const sum = (f: (w: WindowInfo) => number) => ok.reduce((n, w) => n + f(w), 0);
  const bytes = sum((w) => w.bytes);
  const diskBytes = sum((w) => w.diskBytes);
  return {
    stream: catalog.stream,
    windows: ok.length,
    openWindows: ok.filter((w) => w.type === 'json').length,
    // A loop, not Math.min(...list): spreading more than ~125,000 windows (a year of 1-minute windows) throws.
    first: counted.length ? counted.reduce((m, w) => Math.min(m, w.first), Infinity) : 0,
    last: counted.length ? counted.reduce((m, w) => Math.max(m, w.last), -Infinity) : 0,
    records: sum((w) => w.records),
    bytes,
    diskBytes,
    ratio: diskBytes ? bytes / diskBytes : 0,
    intervalMs,
    gaps,
    gapMs: gaps.reduce((n, g) => n + g.ms, 0),
    unreadable: catalog.windows.filter((w) => w.error).map((w) => `${w.file}: ${w.error}`),
    uncounted: ok.filter((w) => w.source === 'name').length,
  };
}

/** Median of the windows' mean record intervals. */
function typicalInterval(windows: WindowInfo[]): number | undefined {
  const means = windows.filter((w) => w.records > 1).map((w) => (w.last - w.first) / (w.records - 1)).sort((a, b) => a - b);
  return means.length ? means[Math.floor(means.length / 2)] : undefined;
}
