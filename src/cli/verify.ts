/** `nsr verify [dir]`: checks every archive; prints every problem; exit 1 when there is one. */
import type { Command } from 'commander';
import { verifyDirectory } from '../archive/verify.js';
import { archiveDir, DEFAULT_ARCHIVE_DIR, dirOption, pickDir } from './archive-args.js';
import { EXIT_OK, EXIT_RUNTIME, fail } from './common.js';
import { progress } from './progress.js';
import { parseDuration } from '../config/duration.js';
import { parseTimeArg } from '../archive/time-arg.js';

/** `--since 1d` (an age) or `--since 2026-02-10T14:00` (a time). */
function sinceArg(text: string): number {
  const age = parseDuration(text);
  return age !== undefined ? Date.now() - age : parseTimeArg(text, '--since');
}

export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description('check every archive: CRC, one entry, JSON lines with integer timestamps in order, counts matching the metadata (CSV windows: a header, every row with its field count)')
    .argument('[dir]', `the directory of the archives, as with --dir (default ${DEFAULT_ARCHIVE_DIR})`)
    .addOption(dirOption())
    .option('--since <age|time>', 'only the windows with records since then: an age (1d, 6h) or a time (ISO, epoch ms); found through the archive index, the others are not opened')
    .action(async (dirArg: string | undefined, opts: { dir: string; since?: string }, cmd: Command) => {
      try {
        const dir = await archiveDir(pickDir(dirArg, opts, cmd));
        const bar = progress();
        const started = performance.now();
        const since = opts.since === undefined ? undefined : sinceArg(opts.since);
        const report = await verifyDirectory(dir, { since, onWindow: (w, done, total) => bar.update(`nsr verify: ${done + 1}/${total} ${w.file}`) });
        bar.done();
        for (const p of report.problems) process.stdout.write(`${p.file}: ${p.problem}\n`);
        const secs = (performance.now() - started) / 1000;
        const verdict = report.problems.length ? `${report.problems.length} problem${report.problems.length > 1 ? 's' : ''}` : 'all good';
        process.stdout.write(`${report.windows} windows, ${report.records} records, ${(report.bytes / 1e6).toFixed(1)} MB checked in ${secs.toFixed(1)} s: ${verdict}\n`);
        process.exitCode = report.problems.length ? EXIT_RUNTIME : EXIT_OK;
      } catch (err) {
        fail(err);
      }
    });
}
