/**
 * `nsr stats <stream> [dir]`: how well a stream was recorded — record
 * intervals, lateness, gaps and what the events stream says about them;
 * `--json` for scripts, `--html FILE` for a self-contained report with charts.
 */
import { readdir, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { readCatalog } from '../archive/catalog.js';
import { renderHtmlReport } from '../archive/html-report.js';
import { computeStats, EVENTS_STREAM, GAP_FACTOR, type GapExplanation, type StatsReport } from '../archive/stats.js';
import { formatTime, parseTimeArg } from '../archive/time-arg.js';
import { ConfigError } from '../config/errors.js';
import { parseWindowName } from '../sinks/window-naming.js';
import { archiveDir, DEFAULT_ARCHIVE_DIR, dirOption, pickDir } from './archive-args.js';
import { EXIT_OK, EXIT_RUNTIME, fail, OperatorError } from './common.js';
import { problemReporter, progress } from './progress.js';

interface StatsCliOptions {
  from?: string;
  to?: string;
  json?: boolean;
  html?: string;
  gaps: string;
}

export function registerStats(program: Command): void {
  program
    .command('stats')
    .description('how well a stream was recorded: record intervals, lateness, gaps and missed ticks with their reasons; --html writes a report with charts')
    .argument('<stream>', 'stream name, e.g. graphinfo')
    .argument('[dir]', `the directory of the archives, as with --dir (default ${DEFAULT_ARCHIVE_DIR})`)
    .addOption(dirOption())
    .option('--from <time>', 'first time, inclusive: ISO (local unless it ends in Z or an offset) or epoch ms')
    .option('--to <time>', 'end time, exclusive')
    .option('--json', 'print one JSON object for scripts')
    .option('--html <file>', 'also write a self-contained HTML report with charts (opens in any browser, no network needed)')
    .option('--gaps <n>', 'how many of the biggest gaps to list', '10')
    .addHelpText(
      'after',
      `
A gap is a stretch without records: for nsr's archives, ticks of the clock grid
without a record; for archives without start events (the original recorder),
more than ${GAP_FACTOR} intervals between records. Each gap is matched with the events
stream: missed_tick events (with their reason), nsr not running (stop/start),
or nothing.

Examples:
  nsr stats graphinfo
  nsr stats flowinfo recorded_info --from 2026-02-10T14:00 --to 2026-02-10T15:00
  nsr stats graphinfo --html report.html
  nsr stats graphinfo --json | jq .gaps.unexplained_missed_ticks`,
    )
    .action(async (stream: string, dir: string | undefined, opts: StatsCliOptions & { dir: string }, cmd: Command) => {
      try {
        process.exitCode = await stats(stream, pickDir(dir, opts, cmd), opts);
      } catch (err) {
        fail(err);
      }
    });
}

async function stats(stream: string, dirArg: string, opts: StatsCliOptions): Promise<number> {
  const from = opts.from !== undefined ? parseTimeArg(opts.from, '--from') : undefined;
  const to = opts.to !== undefined ? parseTimeArg(opts.to, '--to') : undefined;
  if (from !== undefined && to !== undefined && to <= from) throw new ConfigError(`--to (${formatTime(to)}) must be after --from (${formatTime(from)})`);
  const listGaps = Number(opts.gaps);
  if (!Number.isInteger(listGaps) || listGaps < 0) throw new ConfigError(`--gaps: got ${JSON.stringify(opts.gaps)}; expected a whole number such as 10`);
  if (stream === EVENTS_STREAM) throw new ConfigError(`"${EVENTS_STREAM}" is nsr's own events stream; give a data stream (\`nsr ls ${dirArg}\` lists them); stats reads the events alongside it`);
  const dir = await archiveDir(dirArg);

  const bar = progress();
  // Windows without metadata (the original recorder's) are not scanned here: the records pass reads them anyway.
  // The data stream's windows are pruned to the range by name; the events stream is read whole (its start events before the range give the interval).
  const onWindow = (done: number, total: number) => bar.update(`nsr stats: catalog ${done}/${total} windows`);
  const catalogs = [
    ...(await readCatalog(dir, { streams: [stream], scanUnindexed: false, range: { from, to }, onWindow })),
    ...(await readCatalog(dir, { streams: [EVENTS_STREAM], scanUnindexed: false, onWindow })),
  ];
  const data = catalogs.find((c) => c.stream === stream);
  if (!data) {
    bar.done();
    const streams = await streamsIn(dir);
    throw new ConfigError(`no stream "${stream}" in ${dir}; ${streams.length ? `streams there: ${streams.join(', ')}` : 'it holds no archives'}`);
  }
  const events = catalogs.find((c) => c.stream === EVENTS_STREAM);
  const problems = problemReporter('stats', bar);
  const { report, series } = await computeStats(data, events, {
    from,
    to,
    listGaps,
    onProblem: problems.onProblem,
    onProgress: (text) => bar.update(`nsr stats: ${text}`),
  });
  bar.done();

  if (opts.html) {
    const html = renderHtmlReport(report, series, { dir, generatedAt: Date.now() });
    try {
      await writeFile(opts.html, html);
    } catch (err) {
      throw new OperatorError(`--html: cannot write ${opts.html}: ${(err as Error).message}`);
    }
    if (process.stderr.isTTY) process.stderr.write(`nsr stats: wrote ${opts.html} (${kb(Buffer.byteLength(html))})\n`);
  }
  process.stdout.write(opts.json ? `${JSON.stringify({ dir, ...report }, null, 2)}\n` : textReport(report, dir));
  return problems.count() > 0 ? EXIT_RUNTIME : EXIT_OK;
}

async function streamsIn(dir: string): Promise<string[]> {
  const names = new Set<string>();
  for (const f of await readdir(dir)) {
    const p = parseWindowName(f);
    if (p && p.stream !== EVENTS_STREAM) names.add(p.stream);
  }
  return [...names].sort();
}

const EXPLANATION_LABEL: Record<GapExplanation, string> = {
  not_running: 'nsr not running',
  missed_ticks: 'missed ticks',
  partly: 'partly',
  retention: 'removed by retention',
  none: 'UNEXPLAINED',
};

/** The summary for a person: a key/value table, then the gaps and the reasons. */
export function textReport(r: StatsReport, dir: string): string {
  const out: string[] = [];
  const rows: [string, string][] = [];
  const range =
    r.first !== null && r.last !== null
      ? `${formatTime(r.first)} → ${formatTime(r.last)} (${duration(r.last - r.first)}), ${r.windows} window${r.windows === 1 ? '' : 's'}`
      : 'no records';
  const asked = r.range.from !== null || r.range.to !== null ? ` [asked: ${r.range.from !== null ? formatTime(r.range.from) : '…'} → ${r.range.to !== null ? formatTime(r.range.to) : '…'})` : '';
  rows.push(['records', `${r.records.toLocaleString('en-US')} (${kb(r.bytes)}), ${range}${asked}`]);
  rows.push(['interval', r.interval.ms === null ? r.interval.detail : `${r.interval.ms} ms, ${r.interval.detail}`]);
  if (r.interval.changes.length) rows.push(['', `changed: ${r.interval.changes.map((c) => `${c.ms} ms from ${formatTime(c.at)}`).join(', ')}`]);
  if (r.coverage) rows.push(['coverage', `${r.coverage.percent.toFixed(2)} % (${r.coverage.records.toLocaleString('en-US')} of ${r.coverage.expected_ticks.toLocaleString('en-US')} ticks from the first record to the last have a record)`]);
  if (r.intervals_ms) rows.push(['between records', pct(r.intervals_ms, false)]);
  rows.push(['lateness', r.lateness_ms ? `${pct(r.lateness_ms, true)} (${r.lateness_note})` : r.lateness_note]);
  if (r.backwards) rows.push(['clock', `${r.backwards} records older than the one before (the clock stepped back)`]);
  const g = r.gaps;
  if (r.interval.ms === null) rows.push(['gaps', 'unknown (no interval)']);
  else if (g.count === 0) rows.push(['gaps', 'none']);
  else {
    const parts = (['missed_ticks', 'not_running', 'retention', 'partly', 'none'] as const)
      .filter((k) => g.by_explanation[k].gaps > 0)
      .map((k) => `${g.by_explanation[k].gaps} ${k === 'missed_ticks' ? 'explained by missed_tick events' : k === 'not_running' ? 'while nsr was not running' : k === 'retention' ? 'removed by retention' : k === 'partly' ? 'partly explained' : 'UNEXPLAINED'}`);
    rows.push(['gaps', `${g.count} with ${g.missed_ticks.toLocaleString('en-US')} missed ticks: ${parts.join(', ')}`]);
    rows.push(['', g.unexplained_missed_ticks ? `${g.unexplained_missed_ticks.toLocaleString('en-US')} missed ticks are not explained by any event` : 'every missed tick is explained by the events stream']);
  }
  const m = r.missed_ticks;
  if (!r.events.available) rows.push(['missed ticks', 'no events stream in this directory (the original recorder keeps none)']);
  else {
    rows.push(['missed ticks', m.total ? `${m.total.toLocaleString('en-US')} reported: ${counts(m.by_reason)}` : 'none reported']);
    if (Object.keys(m.before_first_record).length) rows.push(['', `before the first record: ${counts(m.before_first_record)}`]);
    if (Object.keys(m.after_last_record).length) rows.push(['', `after the last record: ${counts(m.after_last_record)}`]);
    const runs = r.events.runs;
    rows.push(['runs', `${runs.starts} start${runs.starts === 1 ? '' : 's'}, ${runs.stops} stop${runs.stops === 1 ? '' : 's'}${runs.restarts_without_stop ? `, ${runs.restarts_without_stop} restart${runs.restarts_without_stop === 1 ? '' : 's'} without a stop event (crash or kill)` : ''}`]);
    // Routine events (rotations) are left to --json.
    const other = Object.entries(r.events.counts).filter(([e]) => !['start', 'stop', 'missed_tick', 'window_compressed'].includes(e));
    if (other.length) rows.push(['events', other.map(([e, n]) => `${e} ${n}`).join(', ')]);
  }
  if (r.utilisation) rows.push(['link utilisation', `mean ${r.utilisation.mean_percent} %, max ${r.utilisation.max_percent} % at ${formatTime(r.utilisation.max_at)} (over ${r.utilisation.records.toLocaleString('en-US')} graph records)`]);
  if (r.problems.length) rows.push(['problems', `${r.problems.length} (see above)`]);

  out.push(`${r.stream} in ${dir}`);
  const w = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) out.push(`  ${k.padEnd(w)}  ${v}`);

  if (g.biggest.length) {
    out.push('', g.count > g.biggest.length ? `biggest ${g.biggest.length} of ${g.count} gaps` : `gaps (longest first)`);
    const table = [['from', 'to', 'length', 'missed', 'explained by', 'what happened'], ...g.biggest.map((x) => [formatTime(x.start), formatTime(x.end), duration(x.duration_ms), String(x.missed_ticks), EXPLANATION_LABEL[x.explanation], x.note])];
    out.push(...columns(table, [false, false, true, true, false, false]).map((l) => `  ${l}`));
  }
  if (m.total) {
    out.push('', 'missed ticks by reason (events stream)');
    out.push(...columns(Object.entries(m.by_reason).map(([k, n]) => [k, n.toLocaleString('en-US')]), [false, true]).map((l) => `  ${l}`));
  }
  return `${out.join('\n')}\n`;
}

function columns(rows: string[][], right: boolean[]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : right[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd());
}

const counts = (c: Record<string, number>) =>
  Object.entries(c)
    .map(([k, n]) => `${k} ${n.toLocaleString('en-US')}`)
    .join(', ');

function pct(p: { p50: number; p90: number; p99: number; max: number }, p90: boolean): string {
  return `p50 ${ms(p.p50)}${p90 ? `  p90 ${ms(p.p90)}` : ''}  p99 ${ms(p.p99)}  max ${ms(p.max)}`;
}

const ms = (v: number) => (v < 10_000 ? `${Math.round(v)} ms` : duration(v));

/** 850 ms, 12.3 s, 4m 05s, 2h 10m, 3d 4h. */
export function duration(v: number): string {
  if (v < 1000) return `${Math.round(v)} ms`;
  if (v < 60_000) return `${(v / 1000).toFixed(1)} s`;
  const s = Math.round(v / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}

function kb(bytes: number): string {
  if (bytes < 1e6) return `${(bytes / 1e3).toFixed(1)} kB`;
  if (bytes < 1e9) return `${(bytes / 1e6).toFixed(1)} MB`;
  return `${(bytes / 1e9).toFixed(2)} GB`;
}
