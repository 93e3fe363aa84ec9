/** `nsr cat <stream>`: the records of a time range, in time order across windows, bytes verbatim. */
import type { Command } from 'commander';
import { readCatalog } from '../archive/catalog.js';
import { readRecords, renameWrappedKey } from '../archive/records.js';
import { parseTimeArg } from '../archive/time-arg.js';
import { ConfigError } from '../config/errors.js';
import { archiveDir, dirOption, pickDir } from './archive-args.js';
import { EXIT_OK, EXIT_RUNTIME, fail } from './common.js';
import { StdoutWriter } from './output.js';
import { problemReporter, progress } from './progress.js';

interface CatOptions {
  dir: string;
  from?: string;
  to?: string;
  flowKey?: string;
}

const NEWLINE = Buffer.from('\n');

export function registerCat(program: Command): void {
  program
    .command('cat')
    .description('print the records of a stream, in time order, optionally in a time range')
    .argument('<stream>', 'stream name, e.g. flowinfo')
    .argument('[dir]', 'the directory of the archives, as with --dir')
    .addOption(dirOption())
    .option('--from <time>', 'first time, inclusive: ISO (local unless it ends in Z or an offset) or epoch ms')
    .option('--to <time>', 'end time, exclusive')
    .option('--flow-key <key>', 'rename the flow key (flowinfo) to this, e.g. flow_info for the NDTwin replay clients')
    .action(async (stream: string, dir: string | undefined, opts: CatOptions, cmd: Command) => {
      try {
        process.exitCode = await cat(stream, { ...opts, dir: pickDir(dir, opts, cmd) });
      } catch (err) {
        fail(err);
      }
    });
}

async function cat(stream: string, opts: CatOptions): Promise<number> {
  const dir = await archiveDir(opts.dir);
  const from = opts.from ? parseTimeArg(opts.from, '--from') : undefined;
  const to = opts.to ? parseTimeArg(opts.to, '--to') : undefined;
  const [catalog] = await readCatalog(dir, { streams: [stream], scanUnindexed: false, range: { from, to } });
  if (!catalog) throw new ConfigError(`no stream "${stream}" in ${dir}: \`nsr ls ${dir}\` lists the streams there`);
  const out = new StdoutWriter();
  const bar = progress();
  const problems = problemReporter('cat', bar);
  for await (const { line } of readRecords(catalog, {
    from,
    to,
    onProblem: problems.onProblem,
    onWindow: (w, i, n) => bar.update(`nsr cat: window ${i + 1}/${n} ${w.file}`),
  })) {
    await out.write(opts.flowKey ? renameWrappedKey(line, 'flowinfo', opts.flowKey) : line);
    await out.write(NEWLINE);
    if (out.closed) break;
  }
  await out.flush();
  bar.done();
  return problems.count() > 0 ? EXIT_RUNTIME : EXIT_OK;
}
