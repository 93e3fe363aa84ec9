/**
 * The charts of the HTML report, each an inline SVG: records per minute with gaps marked,
 * missed ticks over time and by reason, lateness after the tick, and link utilisation.
 * The time charts also fill `hovers` with the read-outs the page script shows.
 */
import { GAP_COLOUR, GAP_LABEL, labelOf, legend } from './colours.js';
import { esc, fmtClock, fmtInt, fmtNum, fmtTime, r1 } from './format.js';
import { Frame, niceCeil, niceStep, W, xLabel } from './frame.js';
import { NO_EVENT, NOT_RUNNING, type StatsReport, type StatsSeries } from '../stats/report.js';

export function recordsChart(r: StatsReport, s: StatsSeries, hovers: Record<string, [number, string][]>): string {
  const expected = r.interval.ms ? 60_000 / r.interval.ms : undefined;
  const minCover = Math.min(s.width, r.interval.ms ?? 1000);
  const pts: [number, number, number][] = []; // t, rate, bucket index
  s.records.forEach((n, i) => {
    const b0 = s.origin + i * s.width;
    const c0 = Math.max(b0, s.start);
    const c1 = Math.min(b0 + s.width, s.end);
    if (c1 - c0 <= 0) return;
    pts.push([(c0 + c1) / 2, n / (Math.max(c1 - c0, minCover) / 60_000), i]);
  });
  const top = Math.max(expected ?? 0, ...pts.map((p) => p[1]), 1) * 1.12;
  const step = niceStep(top / 4);
  const f = new Frame(260, s.start, s.end, Math.ceil(top / step) * step);
  let body = f.bands(s.gaps) + f.axes('records/min', step);
  if (pts.length) {
    const line = pts.map(([t, v]) => `${r1(f.x(t))},${r1(f.y(v))}`).join(' ');
    const area = `${r1(f.x(pts[0][0]))},${f.bottom} ${line} ${r1(f.x(pts[pts.length - 1][0]))},${f.bottom}`;
    body += `<polygon class="area" points="${area}"/><polyline class="line" points="${line}"/>`;
    if (pts.length <= 60) body += pts.map(([t, v]) => `<circle class="dot" cx="${r1(f.x(t))}" cy="${r1(f.y(v))}" r="2.5"/>`).join('');
  }
  if (expected) body += `<line class="expected" x1="${f.m.l}" x2="${W - f.m.r}" y1="${r1(f.y(expected))}" y2="${r1(f.y(expected))}"/>`;
  hovers.records = pts.map(([t, v, i]) => {
    const b0 = s.origin + i * s.width;
    return [r1(f.x(t)), `${fmtTime(b0)} – ${fmtClock(b0 + s.width)}: ${fmtInt(s.records[i])} records (${fmtNum(v)}/min)`];
  });
  return f.svg('records', body, 'records');
}

export function recordsLegend(r: StatsReport, s: StatsSeries): string {
  const items: [string, string][] = [['#2563eb', 'records per minute']];
  if (r.interval.ms) items.push(['dash', `expected: ${fmtNum(60_000 / r.interval.ms)}/min (one per ${r.interval.ms} ms tick)`]);
  for (const k of ['not_running', 'missed_ticks', 'retention', 'partly', 'none'] as const) if (r.gaps.by_explanation[k].gaps > 0) items.push([GAP_COLOUR[k], `gap: ${GAP_LABEL[k]} (${r.gaps.by_explanation[k].gaps})`]);
  if (!r.gaps.count) return legend(items);
  const which = r.gaps.count > s.gaps.length ? `The ${fmtInt(s.gaps.length)} biggest of ${fmtInt(r.gaps.count)} gaps are marked` : `Every gap is marked`;
  return `${legend(items)}<p class="note">${which}: a shaded band, or a tick on the time axis when too short to see and explained by events. Hover one for what happened.</p>`;
}

export function missedChart(s: StatsSeries, colours: Map<string, string>): string {
  const keys = Object.keys(s.missed).sort(byTotal(s));
  const totals = s.records.map((_, i) => keys.reduce((n, k) => n + (s.missed[k][i] ?? 0), 0));
  const top = Math.max(1, ...totals) * 1.1;
  const step = niceStep(top / 4, true);
  const f = new Frame(200, s.start, s.end, Math.max(step, Math.ceil(top / step) * step));
  let body = f.axes('ticks', step);
  const bw = Math.max(1.5, f.x(s.origin + s.width) - f.x(s.origin) - 1);
  totals.forEach((total, i) => {
    if (total < 0.5) return;
    const b0 = s.origin + i * s.width;
    const x = r1(Math.max(f.m.l, f.x(b0)));
    let base = 0;
    const title = esc(`${fmtTime(b0)} – ${fmtClock(b0 + s.width)}: ${keys.filter((k) => (s.missed[k][i] ?? 0) >= 0.5).map((k) => `${labelOf(k)} ${Math.round(s.missed[k][i])}`).join(', ')}`);
    for (const k of keys) {
      const v = s.missed[k][i] ?? 0;
      if (v <= 0) continue;
      const y0 = f.y(base);
      const y1 = f.y(base + v);
      body += `<rect class="bar" x="${x}" y="${r1(y1)}" width="${r1(Math.min(bw, W - f.m.r - x))}" height="${r1(Math.max(0.5, y0 - y1))}" fill="${colours.get(k)}"><title>${title}</title></rect>`;
      base += v;
    }
  });
  return f.svg('missed', body);
}

export function reasonsChart(r: StatsReport, s: StatsSeries, colours: Map<string, string>): string {
  const rows: [string, number][] = Object.entries(r.missed_ticks.by_reason);
  for (const k of [NOT_RUNNING, NO_EVENT]) {
    const n = Math.round(sum(s.missed[k] ?? []));
    if (n > 0) rows.push([k, n]);
  }
  rows.sort((a, b) => b[1] - a[1]);
  const rowH = 26;
  const h = rows.length * rowH + 12;
  const l = 190;
  const max = Math.max(1, ...rows.map(([, n]) => n));
  const body = rows
    .map(([k, n], i) => {
      const y = 6 + i * rowH;
      const w = Math.max(2, ((W - l - 90) * n) / max);
      return `<text class="rlab" x="${l - 10}" y="${y + 17}">${esc(labelOf(k))}</text><rect class="hbar" x="${l}" y="${y + 3}" width="${r1(w)}" height="${rowH - 8}" fill="${colours.get(k) ?? '#6b7280'}"><title>${esc(`${labelOf(k)}: ${fmtInt(n)} missed ticks`)}</title></rect><text class="rval" x="${r1(l + w + 8)}" y="${y + 17}">${fmtInt(n)}</text>`;
    })
    .join('');
  return `<svg class="chart" id="chart-reasons" viewBox="0 0 ${W} ${h}" role="img" aria-label="missed ticks by reason">${body}</svg>`;
}

export function latenessChart(r: StatsReport, s: StatsSeries): string {
  const p = r.lateness_ms!;
  const cap = r.interval.ms ?? p.max + 1;
  let hi = Math.min(cap, niceCeil(Math.max(p.p99 * 1.3, p.p50 * 2, 10)));
  if (hi <= 0) hi = 10;
  const nBins = 40;
  const bw = hi / nBins;
  const bins = new Array<number>(nBins).fill(0);
  let over = 0;
  for (const [v, c] of s.lateness) {
    if (v >= hi) over += c;
    else bins[Math.min(nBins - 1, Math.floor(v / bw))] += c;
  }
  const all = over ? [...bins, over] : bins;
  const top = Math.max(1, ...all) * 1.1;
  const step = niceStep(top / 4, true);
  const f = new Frame(200, 0, hi + (over ? bw * 2 : 0), Math.ceil(top / step) * step);
  // Not a time axis: draw the x labels here.
  let body = '';
  for (let v = 0; v <= f.yMax + step / 1e6; v += step) body += `<line class="grid" x1="${f.m.l}" x2="${W - f.m.r}" y1="${r1(f.y(v))}" y2="${r1(f.y(v))}"/><text class="ylab" x="${f.m.l - 6}" y="${r1(f.y(v)) + 4}">${esc(fmtNum(v))}</text>`;
  body += `<text class="unit" x="6" y="13">records</text>`;
  const xStep = niceStep(hi / 8);
  for (let v = 0; v <= hi + 1e-9; v += xStep) body += xLabel(r1(f.x(v)), f.bottom + 19, `${fmtNum(v)} ms`);
  bins.forEach((c, i) => {
    if (!c) return;
    const x = f.x(i * bw);
    body += `<rect class="bar" x="${r1(x)}" y="${r1(f.y(c))}" width="${r1(Math.max(1, f.x(bw) - f.x(0) - 1))}" height="${r1(f.bottom - f.y(c))}" fill="#2563eb"><title>${esc(`${fmtNum(i * bw)}–${fmtNum((i + 1) * bw)} ms: ${fmtInt(c)} records`)}</title></rect>`;
  });
  if (over) {
    const x = f.x(hi + bw * 0.5);
    body += `<rect class="bar" x="${r1(x)}" y="${r1(f.y(over))}" width="${r1(f.x(bw) - f.x(0))}" height="${r1(f.bottom - f.y(over))}" fill="#dc2626"><title>${esc(`≥ ${fmtNum(hi)} ms: ${fmtInt(over)} records`)}</title></rect><text class="xlab" x="${r1(x + 6)}" y="${f.bottom + 19}">≥${fmtNum(hi)}</text>`;
  }
  for (const [name, v] of [['p50', p.p50], ['p90', p.p90], ['p99', p.p99]] as const) {
    if (v > hi) continue;
    const x = r1(f.x(v));
    body += `<line class="marker" x1="${x}" x2="${x}" y1="${f.m.t}" y2="${f.bottom}"/><text class="mlab" x="${x + 3}" y="${f.m.t + 10 + (name === 'p90' ? 12 : name === 'p99' ? 24 : 0)}">${name} ${fmtNum(v)} ms</text>`;
  }
  body += `<line class="axis" x1="${f.m.l}" x2="${W - f.m.r}" y1="${f.bottom}" y2="${f.bottom}"/>`;
  return f.svg('lateness', body);
}

export function utilisationChart(s: StatsSeries, hovers: Record<string, [number, string][]>): string {
  const u = s.utilisation!;
  const maxV = Math.max(0, ...u.max.filter((v): v is number => v !== null));
  const top = Math.max(1, maxV * 1.1);
  const step = niceStep(top / 4);
  const f = new Frame(240, s.start, s.end, Math.ceil(top / step) * step);
  let body = f.bands(s.gaps) + f.axes('%', step);
  const path = (vals: (number | null)[]) => {
    let d = '';
    let pen = false;
    vals.forEach((v, i) => {
      if (v === null) return void (pen = false);
      const x = r1(f.x(u.origin + (i + 0.5) * u.width));
      d += `${pen ? 'L' : 'M'}${x},${r1(f.y(v))}`;
      pen = true;
    });
    return d;
  };
  body += `<path class="uline" d="${path(u.max)}" stroke="#dc2626"/><path class="uline" d="${path(u.mean)}" stroke="#2563eb"/>`;
  hovers.utilisation = [];
  u.mean.forEach((v, i) => {
    if (v === null) return;
    const t = u.origin + (i + 0.5) * u.width;
    hovers.utilisation.push([r1(f.x(t)), `${fmtTime(u.origin + i * u.width)}: mean ${fmtNum(v)} %, busiest link ${fmtNum(u.max[i] ?? 0)} %`]);
  });
  return f.svg('utilisation', body, 'utilisation');
}

export const byTotal = (s: StatsSeries) => (a: string, b: string) => sum(s.missed[b]) - sum(s.missed[a]);
export const sum = (v: number[]) => v.reduce((n, x) => n + (x ?? 0), 0);
