/** `nsr ls [dir]`: a table per stream of what the archives hold; `--json` for scripts. */
import type { Command } from 'commander';
import { readCatalog } from '../archive/catalog.js';
import { indexRows } from '../archive/index/index-rows.js';
import { rowsOf, summarize, type StreamRows } from '../archive/summary.js';
import { formatTime } from '../archive/time-arg.js';
import { archiveDir, DEFAULT_ARCHIVE_DIR, dirOption, pickDir } from './archive-args.js';
import { EXIT_OK, EXIT_RUNTIME, fail } from './common.js';
import { progress } from './progress.js';

export function registerLs(program: Command): void {
  program
    .command('ls')
    .description('list the streams of an archive directory: windows, time span, records, sizes, gaps')
    .argument('[dir]', `the directory of the archives, as with --dir (default ${DEFAULT_ARCHIVE_DIR})`)
    .addOption(dirOption())
    .option('--json', 'print JSON for scripts')
    .option('--gaps', 'also list every gap')
    .action(async (dir: string | undefined, opts: { dir: string; json?: boolean; gaps?: boolean }, cmd: Command) => {
      try {
        process.exitCode = await ls(pickDir(dir, opts, cmd), opts);
      } catch (err) {
        fail(err);
      }
    });
}

async function ls(dir: string, opts: { json?: boolean; gaps?: boolean }): Promise<number> {
  await archiveDir(dir);
  // From the archive index when there is one: its lines go straight into columns, checked against the directory's
  // names; else every window is opened.
  let rows: StreamRows[] | undefined = await indexRows(dir);
  if (!rows) {
    const bar = progress();
    rows = (await readCatalog(dir, { onWindow: (done, total) => bar.update(`nsr ls: ${done}/${total} windows`) })).map(rowsOf);
    bar.done();
  }
  const summaries = rows.map(summarize);
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ dir, streams: summaries }, null, 2)}\n`);
  } else if (summaries.length === 0) {
    process.stdout.write(`${dir}: no archives\n`);
  } else {
    const rows = summaries.map((s) => [
      s.stream,
      String(s.windows) + (s.openWindows ? ` (${s.openWindows} open)` : ''),
      formatTime(s.first),
      formatTime(s.last),
      String(s.records) + (s.uncounted ? '+?' : ''),
      mb(s.bytes),
      mb(s.diskBytes),
      s.ratio ? `${s.ratio.toFixed(1)}:1` : '-',
      !s.periodic ? '-' : s.gaps.length ? `${s.gaps.length} (${duration(s.gapMs)})` : '0',
    ]);
    printTable(['stream', 'windows', 'first', 'last', 'records', 'raw MB', 'zip MB', 'ratio', 'gaps'], rows);
    for (const s of summaries) {
      if (opts.gaps) {
        for (const g of s.gaps) {
          const where = g.inside ? `${duration(g.ms)} of records missing inside ${g.inside}` : `${formatTime(g.from)} → ${formatTime(g.to)} (${duration(g.ms)})`;
          process.stdout.write(`  ${s.stream} gap: ${where}\n`);
        }
      }
      if (s.uncounted) process.stdout.write(`  ${s.stream}: ${s.uncounted} windows without metadata were not counted\n`);
    }
  }
  const unreadable = summaries.flatMap((s) => s.unreadable);
  for (const u of unreadable) process.stderr.write(`nsr ls: unreadable: ${u}\n`);
  return unreadable.length ? EXIT_RUNTIME : EXIT_OK;
}

const mb = (bytes: number) => (bytes / 1e6).toFixed(bytes < 10e6 ? 2 : 1);

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  return `${(s / 3600).toFixed(1)}h`;
}

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  process.stdout.write(`${line(header)}\n${rows.map(line).join('\n')}\n`);
}
