/**
 * The drawing area of an SVG chart in the HTML report: scales from time and value to
 * pixels, a grid with round steps, a time axis labelled in local time, and gaps drawn as
 * bands.
 */
import type { Gap } from '../stats/report.js';
import { GAP_COLOUR } from './colours.js';
import { dur, esc, fmtNum, fmtTime, pad, r1 } from './format.js';

/** Width of every chart's viewBox (they scale to the page). */
export const W = 1000;

export class Frame {
  readonly m = { l: 64, r: 18, t: 22, b: 30 };
  constructor(
    readonly h: number,
    readonly t0: number,
    readonly t1: number,
    readonly yMax: number,
  ) {}
  x(t: number): number {
    return this.m.l + ((t - this.t0) / Math.max(1, this.t1 - this.t0)) * (W - this.m.l - this.m.r);
  }
  y(v: number): number {
    return this.h - this.m.b - (v / this.yMax) * (this.h - this.m.t - this.m.b);
  }
  get bottom(): number {
    return this.h - this.m.b;
  }
  clipX(t: number): number {
    return Math.min(W - this.m.r, Math.max(this.m.l, this.x(t)));
  }
  /** Grid, axes and labels. */
  axes(yUnit: string, yStep: number): string {
    const out: string[] = [];
    for (let v = 0; v <= this.yMax + yStep / 1e6; v += yStep) {
      const y = r1(this.y(v));
      out.push(`<line class="grid" x1="${this.m.l}" x2="${W - this.m.r}" y1="${y}" y2="${y}"/><text class="ylab" x="${this.m.l - 6}" y="${y + 4}">${esc(fmtNum(v))}</text>`);
    }
    out.push(`<text class="unit" x="6" y="13">${esc(yUnit)}</text>`);
    for (const [t, label] of timeTicks(this.t0, this.t1)) {
      const x = r1(this.x(t));
      out.push(`<line class="tick" x1="${x}" x2="${x}" y1="${this.bottom}" y2="${this.bottom + 5}"/>${xLabel(x, this.bottom + 19, label)}`);
    }
    out.push(`<line class="axis" x1="${this.m.l}" x2="${W - this.m.r}" y1="${this.bottom}" y2="${this.bottom}"/>`);
    return out.join('');
  }
  /**
   * Gaps as shaded bands. A gap too short to see at this scale and explained
   * by events becomes a short mark on the time axis, so a day of single missed
   * ticks does not bury the chart; unexplained gaps always get a full band.
   */
  bands(gaps: Gap[]): string {
    return gaps
      .map((g) => {
        const x0 = this.clipX(g.start);
        const x1 = this.clipX(g.end);
        const narrow = x1 - x0 < 2;
        const title = `<title>${esc(`gap ${fmtTime(g.start)} → ${fmtTime(g.end)} (${dur(g.duration_ms)}, ${g.missed_ticks} missed ticks): ${g.note}`)}</title>`;
        if (narrow && (g.explanation === 'missed_ticks' || g.explanation === 'not_running')) {
          return `<rect class="gap-mark gap-${g.explanation}" x="${r1(x0 - 1)}" y="${this.bottom - 9}" width="2" height="9" fill="${GAP_COLOUR[g.explanation]}">${title}</rect>`;
        }
        return `<rect class="gap gap-${g.explanation}" x="${r1(x0)}" y="${this.m.t}" width="${r1(Math.max(2, x1 - x0))}" height="${r1(this.bottom - this.m.t)}" fill="${GAP_COLOUR[g.explanation]}">${title}</rect>`;
      })
      .join('');
  }
  svg(id: string, body: string, hover?: string): string {
    return `<svg class="chart" id="chart-${id}" viewBox="0 0 ${W} ${this.h}" role="img" aria-label="${esc(id)} chart"${hover ? ` data-hover="hover-${hover}"` : ''}>${body}${hover ? `<line class="cursor" x1="0" x2="0" y1="${this.m.t}" y2="${this.bottom}" visibility="hidden"/>` : ''}</svg>`;
  }
}

const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800, 2592000].map((s) => s * 1000);

/** Tick marks for a time axis, aligned in local time, with labels. */
function timeTicks(t0: number, t1: number): [number, string][] {
  const span = Math.max(1, t1 - t0);
  const step = TIME_STEPS.find((s) => span / s <= 8) ?? TIME_STEPS[TIME_STEPS.length - 1];
  const offset = -new Date(t0).getTimezoneOffset() * 60_000;
  const ticks: [number, string][] = [];
  let prevDay = '';
  for (let t = Math.ceil((t0 + offset) / step) * step - offset; t <= t1; t += step) {
    const d = new Date(t);
    const day = `${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
    const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
    let label = step < 60_000 ? `${hm}:${pad(d.getSeconds())}` : hm;
    if (span > 86_400_000 && day !== prevDay) label = step >= 86_400_000 ? day : `${day} ${hm}`;
    prevDay = day;
    ticks.push([t, label]);
  }
  return ticks;
}

/** An axis label that stays inside the chart at either end. */
export function xLabel(x: number, y: number, text: string): string {
  const anchor = x > W - 40 ? ' style="text-anchor:end"' : x < 40 ? ' style="text-anchor:start"' : '';
  return `<text class="xlab" x="${x}" y="${y}"${anchor}>${esc(text)}</text>`;
}

/** A round step (1, 2 or 5 × 10^n) of at least `raw`; `integer`: a whole number, at least 1 (for counts). */
export function niceStep(raw: number, integer = false): number {
  if (!(raw > 0)) return 1;
  const e = 10 ** Math.floor(Math.log10(raw));
  const f = raw / e;
  const step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * e;
  return integer ? Math.max(1, Math.round(step)) : step;
}

/** `v` rounded up to a round number, for the end of an axis. */
export function niceCeil(v: number): number {
  const s = niceStep(v / 5);
  return Math.ceil(v / s) * s;
}
