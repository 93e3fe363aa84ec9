/**
 * The `nsr stats --html` report: one self-contained HTML file (inline CSS,
 * inline SVG drawn here, a few lines of script for hover read-outs; nothing
 * fetched from anywhere), so it can be mailed or opened from an archive
 * server's disk. Charts: records per minute with gaps marked, missed ticks
 * over time and by reason, lateness, and link utilisation for graph data.
 */
import { NO_EVENT, NOT_RUNNING, type Gap, type GapExplanation, type StatsReport, type StatsSeries } from './stats.js';

export interface HtmlReportOptions {
  dir: string;
  generatedAt: number;
}

const W = 1000;

const GAP_COLOUR: Record<GapExplanation, string> = {
  not_running: '#9ca3af',
  missed_ticks: '#f59e0b',
  partly: '#f97316',
  none: '#dc2626',
};
const GAP_LABEL: Record<GapExplanation, string> = {
  not_running: 'nsr not running',
  missed_ticks: 'missed ticks with a reason',
  partly: 'partly explained',
  none: 'unexplained',
};
const REASON_COLOURS = ['#f59e0b', '#8b5cf6', '#0ea5e9', '#10b981', '#ec4899', '#84cc16', '#14b8a6', '#a16207', '#6366f1', '#be185d'];
const FIXED_COLOUR: Record<string, string> = { [NOT_RUNNING]: '#9ca3af', [NO_EVENT]: '#dc2626' };

export function renderHtmlReport(r: StatsReport, s: StatsSeries, opts: HtmlReportOptions): string {
  const hovers: Record<string, [number, string][]> = {};
  const reasons = reasonColours(r, s);
  const sections: string[] = [];

  sections.push(section('Records per minute', 'records', recordsChart(r, s, hovers), recordsLegend(r, s)));
  const missedTotal = Object.values(s.missed).reduce((n, v) => n + sum(v), 0);
  if (missedTotal > 0) {
    sections.push(section('Missed ticks over time', 'missed', missedChart(s, reasons), legend(Object.keys(s.missed).sort(byTotal(s)).map((k) => [reasons.get(k)!, labelOf(k)]))));
    sections.push(section('Missed ticks by reason', 'reasons', reasonsChart(r, s, reasons), `<p class="note">Reasons come from the <code>missed_tick</code> events of the stream. <b>${esc(NOT_RUNNING)}</b>: ticks while nsr was stopped or restarting. <b>${esc(NO_EVENT)}</b>: ticks without a record that no event explains.</p>`));
  } else {
    sections.push(`<section id="missed"><h2>Missed ticks</h2><p class="ok">${r.interval.ms === null ? 'Unknown: the interval of this stream is not known.' : 'None: every tick in this range has a record.'}</p></section>`);
  }
  if (r.lateness_ms && s.lateness.length) sections.push(section('Lateness after the tick', 'lateness', latenessChart(r, s), `<p class="note">${esc(r.lateness_note)}. p50 ${r.lateness_ms.p50} ms, p90 ${r.lateness_ms.p90} ms, p99 ${r.lateness_ms.p99} ms, max ${r.lateness_ms.max} ms over ${fmtInt(r.lateness_ms.n)} records.</p>`));
  if (s.utilisation) sections.push(section('Link utilisation', 'utilisation', utilisationChart(s, hovers), legend([['#2563eb', 'mean over all links'], ['#dc2626', 'busiest link']]) + `<p class="note">link_bandwidth_utilization_percent of every edge of each graph record; each point is one bucket of ${dur(s.utilisation.width)} (mean of the records' means, max of their maxima).</p>`));
  sections.push(gapsTable(r));

  const title = `nsr stats: ${r.stream}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<header>
<h1>${esc(r.stream)} <span class="sub">recording quality</span></h1>
<p class="meta">${esc(opts.dir)} · ${r.first !== null && r.last !== null ? `${esc(fmtTime(r.first))} → ${esc(fmtTime(r.last))} (${esc(dur(r.last - r.first))})` : 'no records in this range'}${r.range.from !== null || r.range.to !== null ? ` · asked for ${r.range.from !== null ? esc(fmtTime(r.range.from)) : '…'} → ${r.range.to !== null ? esc(fmtTime(r.range.to)) : '…'}` : ''} · times are local (${esc(zoneLabel(s.start))}) · generated ${esc(fmtTime(opts.generatedAt))} by nsr stats</p>
</header>
${cards(r)}
${sections.join('\n')}
${summaryTable(r)}
${r.problems.length ? `<section id="problems"><h2>Problems reading the archive</h2><ul>${r.problems.map((p) => `<li><code>${esc(p.file)}</code>: ${esc(p.problem)}</li>`).join('')}</ul></section>` : ''}
<div id="tip" hidden></div>
${Object.entries(hovers)
  .map(([id, pts]) => `<script type="application/json" id="hover-${id}">${json(pts)}</script>`)
  .join('\n')}
<script>${SCRIPT}</script>
</body>
</html>
`;
}

// --- charts -----------------------------------------------------------------

class Frame {
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

function recordsChart(r: StatsReport, s: StatsSeries, hovers: Record<string, [number, string][]>): string {
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

function recordsLegend(r: StatsReport, s: StatsSeries): string {
  const items: [string, string][] = [['#2563eb', 'records per minute']];
  if (r.interval.ms) items.push(['dash', `expected: ${fmtNum(60_000 / r.interval.ms)}/min (one per ${r.interval.ms} ms tick)`]);
  for (const k of ['not_running', 'missed_ticks', 'partly', 'none'] as const) if (r.gaps.by_explanation[k].gaps > 0) items.push([GAP_COLOUR[k], `gap: ${GAP_LABEL[k]} (${r.gaps.by_explanation[k].gaps})`]);
  if (!r.gaps.count) return legend(items);
  const which = r.gaps.count > s.gaps.length ? `The ${fmtInt(s.gaps.length)} biggest of ${fmtInt(r.gaps.count)} gaps are marked` : `Every gap is marked`;
  return `${legend(items)}<p class="note">${which}: a shaded band, or a tick on the time axis when too short to see and explained by events. Hover one for what happened.</p>`;
}

function missedChart(s: StatsSeries, colours: Map<string, string>): string {
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

function reasonsChart(r: StatsReport, s: StatsSeries, colours: Map<string, string>): string {
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

function latenessChart(r: StatsReport, s: StatsSeries): string {
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

function utilisationChart(s: StatsSeries, hovers: Record<string, [number, string][]>): string {
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

// --- tables and cards ---------------------------------------------------------

function cards(r: StatsReport): string {
  const g = r.gaps;
  const unexplained = g.unexplained_missed_ticks;
  const items: [string, string, string, string?][] = [
    ['Records', fmtInt(r.records), `${r.windows} window${r.windows === 1 ? '' : 's'}, ${bytes(r.bytes)}`],
    ['Interval', r.interval.ms === null ? '?' : `${fmtNum(r.interval.ms)} ms`, r.interval.source === 'events' ? 'from nsr start event' : r.interval.source === 'inferred' ? 'inferred from records' : 'unknown'],
    ['Coverage', r.coverage ? `${r.coverage.percent.toFixed(r.coverage.percent === 100 ? 0 : 2)} %` : '–', r.coverage ? `${fmtInt(r.coverage.records)} of ${fmtInt(r.coverage.expected_ticks)} ticks` : 'no interval', r.coverage && r.coverage.percent < 100 ? 'warn' : undefined],
    ['Gaps', fmtInt(g.count), g.count ? `${fmtInt(g.missed_ticks)} missed ticks` : 'none', g.count ? 'warn' : undefined],
    ['Unexplained', fmtInt(unexplained), unexplained ? 'missed ticks no event explains' : r.events.available ? 'every gap has a reason' : 'no events stream', unexplained ? 'bad' : undefined],
    ['Missed (events)', r.events.available ? fmtInt(r.missed_ticks.total) : '–', r.events.available ? topReason(r) : 'no events stream'],
    ['Lateness p50 / p99', r.lateness_ms ? `${r.lateness_ms.p50} / ${r.lateness_ms.p99} ms` : '–', r.lateness_ms ? `max ${r.lateness_ms.max} ms` : 'ticks not clock-aligned'],
  ];
  if (r.utilisation) items.push(['Link utilisation', `${fmtNum(r.utilisation.mean_percent)} %`, `mean; busiest link ${fmtNum(r.utilisation.max_percent)} %`]);
  return `<section class="cards" id="cards">${items.map(([k, v, sub, cls]) => `<div class="card${cls ? ` ${cls}` : ''}"><div class="k">${esc(k)}</div><div class="v">${esc(v)}</div><div class="s">${esc(sub)}</div></div>`).join('')}</section>`;
}

function topReason(r: StatsReport): string {
  const e = Object.entries(r.missed_ticks.by_reason);
  if (!e.length) return 'none reported';
  return e
    .slice(0, 2)
    .map(([k, n]) => `${k} ${fmtInt(n)}`)
    .join(', ');
}

function gapsTable(r: StatsReport): string {
  const g = r.gaps;
  if (!g.biggest.length) return `<section id="gaps"><h2>Gaps</h2><p class="ok">${r.interval.ms === null ? 'Unknown (no interval).' : 'None.'}</p></section>`;
  const rows = g.biggest
    .map((x) => `<tr class="g-${x.explanation}"><td class="time">${esc(fmtTime(x.start))}</td><td class="time">${esc(fmtTime(x.end))}</td><td class="num">${esc(dur(x.duration_ms))}</td><td class="num">${fmtInt(x.missed_ticks)}</td><td><span class="pill" style="background:${GAP_COLOUR[x.explanation]}">${esc(GAP_LABEL[x.explanation])}</span></td><td>${esc(x.note)}</td></tr>`)
    .join('');
  const title = g.count > g.biggest.length ? `The ${g.biggest.length} biggest of ${fmtInt(g.count)} gaps` : 'Gaps, longest first';
  return `<section id="gaps"><h2>${esc(title)}</h2><table><thead><tr><th>last record before</th><th>first record after</th><th>length</th><th>missed ticks</th><th>explained by</th><th>what happened</th></tr></thead><tbody>${rows}</tbody></table></section>`;
}

function summaryTable(r: StatsReport): string {
  const rows: [string, string][] = [
    ['interval', r.interval.ms === null ? r.interval.detail : `${r.interval.ms} ms, ${r.interval.detail}`],
    ['between records', r.intervals_ms ? `p50 ${msOrDur(r.intervals_ms.p50)}, p99 ${msOrDur(r.intervals_ms.p99)}, max ${msOrDur(r.intervals_ms.max)}` : '–'],
    ['lateness', r.lateness_ms ? `p50 ${r.lateness_ms.p50} ms, p90 ${r.lateness_ms.p90} ms, p99 ${r.lateness_ms.p99} ms, max ${r.lateness_ms.max} ms` : r.lateness_note],
    ['missed ticks (events)', r.events.available ? Object.entries(r.missed_ticks.by_reason).map(([k, n]) => `${k} ${fmtInt(n)}`).join(', ') || 'none' : 'no events stream'],
    ['runs', r.events.available ? `${plural(r.events.runs.starts, 'start')}, ${plural(r.events.runs.stops, 'stop')}, ${plural(r.events.runs.restarts_without_stop, 'restart')} without a stop event` : '–'],
    ['events', Object.entries(r.events.counts).map(([k, n]) => `${k} ${fmtInt(n)}`).join(', ') || '–'],
  ];
  if (r.backwards) rows.push(['clock', `${r.backwards} records older than the one before`]);
  return `<section id="summary"><h2>Details</h2><table class="kv">${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</table></section>`;
}

function section(title: string, id: string, chart: string, after = ''): string {
  return `<section id="${id}"><h2>${esc(title)}</h2>${chart}${after}</section>`;
}

function legend(items: [string, string][]): string {
  return `<div class="legend">${items.map(([c, l]) => `<span>${c === 'dash' ? '<i class="dash"></i>' : `<i style="background:${c}"></i>`}${esc(l)}</span>`).join('')}</div>`;
}

function reasonColours(r: StatsReport, s: StatsSeries): Map<string, string> {
  const m = new Map<string, string>();
  let i = 0;
  const keys = [...Object.keys(r.missed_ticks.by_reason), ...Object.keys(s.missed)];
  for (const k of keys) {
    if (m.has(k)) continue;
    m.set(k, FIXED_COLOUR[k] ?? REASON_COLOURS[i++ % REASON_COLOURS.length]);
  }
  return m;
}

const labelOf = (k: string) => (k === NO_EVENT ? 'no event (unexplained)' : k);
const byTotal = (s: StatsSeries) => (a: string, b: string) => sum(s.missed[b]) - sum(s.missed[a]);
const sum = (v: number[]) => v.reduce((n, x) => n + (x ?? 0), 0);

// --- axes and formatting ------------------------------------------------------

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
function xLabel(x: number, y: number, text: string): string {
  const anchor = x > W - 40 ? ' style="text-anchor:end"' : x < 40 ? ' style="text-anchor:start"' : '';
  return `<text class="xlab" x="${x}" y="${y}"${anchor}>${esc(text)}</text>`;
}

function niceStep(raw: number, integer = false): number {
  if (!(raw > 0)) return 1;
  const e = 10 ** Math.floor(Math.log10(raw));
  const f = raw / e;
  const step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * e;
  return integer ? Math.max(1, Math.round(step)) : step;
}

function niceCeil(v: number): number {
  const s = niceStep(v / 5);
  return Math.ceil(v / s) * s;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');
const r1 = (v: number) => Math.round(v * 10) / 10;

function fmtTime(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function fmtClock(ms: number): string {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function fmtNum(v: number): string {
  if (Math.abs(v) >= 100 || Number.isInteger(v)) return Math.round(v).toLocaleString('en-US');
  if (Math.abs(v) >= 10) return v.toFixed(1);
  if (Math.abs(v) >= 1) return v.toFixed(2).replace(/\.?0+$/, '');
  return v.toPrecision(2);
}

const plural = (n: number, word: string) => `${fmtInt(n)} ${word}${n === 1 ? '' : 's'}`;
const msOrDur = (v: number) => (v < 10_000 ? `${fmtInt(v)} ms` : dur(v));

function dur(v: number): string {
  if (v < 1000) return `${Math.round(v)} ms`;
  if (v < 60_000) return `${(v / 1000).toFixed(1)} s`;
  const s = Math.round(v / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${pad(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}

function bytes(n: number): string {
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} MB`;
  return `${(n / 1e9).toFixed(2)} GB`;
}

function zoneLabel(at: number): string {
  const off = -new Date(at).getTimezoneOffset();
  const a = Math.abs(off);
  return `UTC${off < 0 ? '−' : '+'}${pad(Math.floor(a / 60))}:${pad(a % 60)}`;
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** JSON safe inside a <script> element. */
function json(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

const CSS = `
:root{--fg:#1f2933;--muted:#5f6b7a;--line:#e4e7eb;--blue:#2563eb}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1120px;padding:20px 28px 48px;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:#fff}
h1{font-size:24px;margin:0 0 4px}h1 .sub{font-weight:400;color:var(--muted);font-size:17px}
h2{font-size:16px;margin:28px 0 8px}
.meta{color:var(--muted);margin:0 0 16px}
code{font:12.5px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:10px}
.card{border:1px solid var(--line);border-radius:8px;padding:10px 12px;background:#fafbfc}
.card .k{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.03em}
.card .v{font-size:22px;font-weight:600;margin:2px 0}
.card .s{color:var(--muted);font-size:12px}
.card.warn{border-color:#f5c26b;background:#fffaf0}.card.bad{border-color:#f19a9a;background:#fff5f5}.card.bad .v{color:#b91c1c}
svg.chart{width:100%;height:auto;display:block;border:1px solid var(--line);border-radius:8px;background:#fff}
svg text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;font-size:12px;fill:#3e4c59}
.grid{stroke:#eef0f3}.axis{stroke:#9aa5b1}.tick{stroke:#9aa5b1}
.ylab{text-anchor:end}.unit{font-size:11px;fill:var(--muted)}.xlab{text-anchor:middle}
.line{fill:none;stroke:var(--blue);stroke-width:1.8;stroke-linejoin:round}.area{fill:#2563eb;fill-opacity:.12;stroke:none}.dot{fill:var(--blue)}
.uline{fill:none;stroke-width:1.6;stroke-linejoin:round}
.expected{stroke:#374151;stroke-dasharray:6 4;stroke-width:1.2}
.gap{fill-opacity:.28}.gap:hover{fill-opacity:.5}
.bar:hover,.hbar:hover{opacity:.8}
.marker{stroke:#111827;stroke-dasharray:3 3}.mlab{font-size:11px;fill:#111827}
.rlab{text-anchor:end;font-size:13px}.rval{font-size:13px;font-weight:600}
.cursor{stroke:#111827;stroke-width:1;stroke-dasharray:2 2}
.legend{display:flex;flex-wrap:wrap;gap:6px 18px;margin:8px 2px 0;color:var(--muted);font-size:13px}
.legend i{display:inline-block;width:14px;height:10px;border-radius:2px;margin-right:6px;vertical-align:baseline}
.legend i.dash{height:0;border-top:2px dashed #374151;border-radius:0;vertical-align:middle}
.note{color:var(--muted);font-size:13px;margin:6px 2px}
.ok{color:#047857}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);vertical-align:top}
thead th{color:var(--muted);font-weight:600;font-size:12px}
td.num{text-align:right;white-space:nowrap}td.time{white-space:nowrap}
table.kv th{width:190px;color:var(--muted);font-weight:500}
tr.g-none td{background:#fff5f5}
.pill{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:12px;white-space:nowrap}
#tip{position:absolute;pointer-events:none;background:#111827;color:#fff;padding:4px 8px;border-radius:4px;font-size:12px;white-space:nowrap;z-index:10}
@media print{#tip{display:none}}
`;

// Hover read-outs for the time charts, and a marker that the page was laid out (checked by the tests).
const SCRIPT = `
(function(){
  var tip=document.getElementById('tip');
  document.querySelectorAll('svg[data-hover]').forEach(function(svg){
    var data=document.getElementById(svg.getAttribute('data-hover'));
    var pts=data?JSON.parse(data.textContent):[];
    var cur=svg.querySelector('.cursor');
    if(!pts.length||!cur)return;
    svg.addEventListener('mousemove',function(ev){
      var ctm=svg.getScreenCTM();if(!ctm)return;
      var p=svg.createSVGPoint();p.x=ev.clientX;p.y=ev.clientY;var x=p.matrixTransform(ctm.inverse()).x;
      var lo=0,hi=pts.length-1;while(lo<hi){var mid=(lo+hi)>>1;if(pts[mid][0]<x)lo=mid+1;else hi=mid;}
      if(lo>0&&Math.abs(pts[lo-1][0]-x)<Math.abs(pts[lo][0]-x))lo--;
      cur.setAttribute('x1',pts[lo][0]);cur.setAttribute('x2',pts[lo][0]);cur.setAttribute('visibility','visible');
      tip.textContent=pts[lo][1];tip.hidden=false;tip.style.left=(ev.pageX+14)+'px';tip.style.top=(ev.pageY+14)+'px';
    });
    svg.addEventListener('mouseleave',function(){cur.setAttribute('visibility','hidden');tip.hidden=true;});
  });
  var drawn=0;
  document.querySelectorAll('svg.chart').forEach(function(svg){var b=svg.getBoundingClientRect();if(b.width>100&&b.height>20&&svg.childElementCount>0)drawn++;});
  document.body.setAttribute('data-charts-drawn',String(drawn));
})();
`;
