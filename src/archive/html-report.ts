/**
 * The `nsr stats --html` report: one self-contained HTML file (inline CSS,
 * inline SVG drawn here, a few lines of script for hover read-outs; nothing
 * fetched from anywhere), so it can be mailed or opened from an archive
 * server's disk. Charts: records per minute with gaps marked, missed ticks
 * over time and by reason, lateness, and link utilisation for graph data.
 */
import { byTotal, latenessChart, missedChart, reasonsChart, recordsChart, recordsLegend, sum, utilisationChart } from './html-report/charts.js';
import { labelOf, legend, reasonColours } from './html-report/colours.js';
import { dur, esc, fmtInt, fmtTime, json, zoneLabel } from './html-report/format.js';
import { CSS, SCRIPT } from './html-report/page-assets.js';
import { cards, gapsTable, summaryTable } from './html-report/tables.js';
import { NO_EVENT, NOT_RUNNING, type StatsReport, type StatsSeries } from './stats/report.js';

export interface HtmlReportOptions {
  dir: string;
  generatedAt: number;
}

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

function section(title: string, id: string, chart: string, after = ''): string {
  return `<section id="${id}"><h2>${esc(title)}</h2>${chart}${after}</section>`;
}
