/**
 * The text parts of the HTML report: the summary cards at the top, the table of the
 * biggest gaps, and the details table.
 */
import type { StatsReport } from '../stats/report.js';
import { GAP_COLOUR, GAP_LABEL } from './colours.js';
import { bytes, dur, esc, fmtInt, fmtNum, fmtTime, msOrDur, plural } from './format.js';

export function cards(r: StatsReport): string {
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

export function gapsTable(r: StatsReport): string {
  const g = r.gaps;
  if (!g.biggest.length) return `<section id="gaps"><h2>Gaps</h2><p class="ok">${r.interval.ms === null ? 'Unknown (no interval).' : 'None.'}</p></section>`;
  const rows = g.biggest
    .map((x) => `<tr class="g-${x.explanation}"><td class="time">${esc(fmtTime(x.start))}</td><td class="time">${esc(fmtTime(x.end))}</td><td class="num">${esc(dur(x.duration_ms))}</td><td class="num">${fmtInt(x.missed_ticks)}</td><td><span class="pill" style="background:${GAP_COLOUR[x.explanation]}">${esc(GAP_LABEL[x.explanation])}</span></td><td>${esc(x.note)}</td></tr>`)
    .join('');
  const title = g.count > g.biggest.length ? `The ${g.biggest.length} biggest of ${fmtInt(g.count)} gaps` : 'Gaps, longest first';
  return `<section id="gaps"><h2>${esc(title)}</h2><table><thead><tr><th>last record before</th><th>first record after</th><th>length</th><th>missed ticks</th><th>explained by</th><th>what happened</th></tr></thead><tbody>${rows}</tbody></table></section>`;
}

export function summaryTable(r: StatsReport): string {
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
