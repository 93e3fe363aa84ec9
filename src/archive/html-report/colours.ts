/**
 * The colours of the HTML report: one per gap explanation (the same in charts, legends
 * and the gap table) and one per missed-tick reason, and the legends that name them.
 */
import { NO_EVENT, NOT_RUNNING, type GapExplanation, type StatsReport, type StatsSeries } from '../stats/report.js';
import { esc } from './format.js';

export const GAP_COLOUR: Record<GapExplanation, string> = {
  not_running: '#9ca3af',
  missed_ticks: '#f59e0b',
  partly: '#f97316',
  retention: '#6b7280',
  none: '#dc2626',
};
export const GAP_LABEL: Record<GapExplanation, string> = {
  not_running: 'nsr not running',
  missed_ticks: 'missed ticks with a reason',
  partly: 'partly explained',
  retention: 'removed by retention',
  none: 'unexplained',
};
const REASON_COLOURS = ['#f59e0b', '#8b5cf6', '#0ea5e9', '#10b981', '#ec4899', '#84cc16', '#14b8a6', '#a16207', '#6366f1', '#be185d'];
const FIXED_COLOUR: Record<string, string> = { [NOT_RUNNING]: '#9ca3af', [NO_EVENT]: '#dc2626' };

/** A colour per missed-tick reason: fixed ones for the series that come from gaps, then in turn. */
export function reasonColours(r: StatsReport, s: StatsSeries): Map<string, string> {
  const m = new Map<string, string>();
  let i = 0;
  const keys = [...Object.keys(r.missed_ticks.by_reason), ...Object.keys(s.missed)];
  for (const k of keys) {
    if (m.has(k)) continue;
    m.set(k, FIXED_COLOUR[k] ?? REASON_COLOURS[i++ % REASON_COLOURS.length]);
  }
  return m;
}

/** How a missed-tick series is named in legends and read-outs. */
export const labelOf = (k: string) => (k === NO_EVENT ? 'no event (unexplained)' : k);

/** Colour swatches with their labels (colour 'dash': the dashed line of the expected rate). */
export function legend(items: [string, string][]): string {
  return `<div class="legend">${items.map(([c, l]) => `<span>${c === 'dash' ? '<i class="dash"></i>' : `<i style="background:${c}"></i>`}${esc(l)}</span>`).join('')}</div>`;
}
