/**
 * Time series of `nsr stats` in time buckets: bounded memory over any range (the width
 * doubles as the range grows), with round widths picked from the span the catalog promises.
 */
import type { StreamCatalog } from '../catalog.js';

/** Time series hold at most this many buckets; beyond it the bucket width doubles. */
export const MAX_BUCKETS = 2000;

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

/** The time the records of the range span, from the windows' metadata (0 when unknown). */
export function expectedSpan(data: StreamCatalog, from: number, to: number): number {
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
export function niceWidth(ms: number): number {
  return NICE_WIDTHS.find((w) => w >= ms) ?? Math.ceil(ms / 86_400_000) * 86_400_000;
}

