/** `nsr export --for ndtwin-gui`: flow and graph files the NDTwin Web-GUI and Visualizer load as they are. */
import { mkdir } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { readCatalog } from '../archive/catalog.js';
import { exportForGui } from '../archive/export-gui.js';
import { streamInterval } from '../archive/stream-interval.js';
import { parseTimeArg } from '../archive/time-arg.js';
import { parseSize } from '../config/duration.js';
import { ConfigError } from '../config/errors.js';
import { EVENTS_STREAM } from '../config/defaults.js';
import { archiveDir, dirOption } from './archive-args.js';
import { EXIT_OK, EXIT_RUNTIME, fail } from './common.js';
import { problemReporter, progress } from './progress.js';

interface ExportOptions {
  for: string;
  dir: string;
  out: string;
  from?: string;
  to?: string;
  flowStream: string;
  graphStream: string;
  maxFileSize: string;
}

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('export archives for other tools (--for ndtwin-gui: paired flow_info and graph files below 100 MB)')
    .addOption(new Option('--for <tool>', 'the tool to export for').choices(['ndtwin-gui']).makeOptionMandatory())
    .requiredOption('--out <dir>', 'where to write the files (created if missing; existing files are never overwritten)')
    .addOption(dirOption())
    .option('--from <time>', 'first time, inclusive (ISO or epoch ms)')
    .option('--to <time>', 'end time, exclusive')
    .option('--flow-stream <name>', 'the flow stream', 'flowinfo')
    .option('--graph-stream <name>', 'the graph stream', 'graphinfo')
    .option('--max-file-size <size>', 'split files before this size', '100MB')
    .action(async (opts: ExportOptions) => {
      try {
        process.exitCode = await runExport(opts);
      } catch (err) {
        fail(err);
      }
    });
}

async function runExport(opts: ExportOptions): Promise<number> {
  const dir = await archiveDir(opts.dir);
  const from = opts.from ? parseTimeArg(opts.from, '--from') : undefined;
  const to = opts.to ? parseTimeArg(opts.to, '--to') : undefined;
  const maxFileBytes = parseSize(opts.maxFileSize);
  if (!maxFileBytes) throw new ConfigError(`--max-file-size: got ${JSON.stringify(opts.maxFileSize)}; expected a size such as 100MB`);
  const catalogs = [
    ...(await readCatalog(dir, { streams: [opts.flowStream, opts.graphStream], scanUnindexed: false, range: { from, to } })),
    ...(await readCatalog(dir, { streams: [EVENTS_STREAM], scanUnindexed: false })),
  ];
  const find = (name: string, option: string) => {
    const c = catalogs.find((x) => x.stream === name);
    if (!c) throw new ConfigError(`${option}: no stream "${name}" in ${dir} (\`nsr ls ${dir}\` lists them)`);
    return c;
  };
  const flow = find(opts.flowStream, '--flow-stream');
  const graph = find(opts.graphStream, '--graph-stream');
  const intervalMs = (await streamInterval(flow, catalogs.find((c) => c.stream === EVENTS_STREAM))) ?? (await streamInterval(graph, undefined));
  if (!intervalMs) throw new ConfigError(`cannot tell the tick interval of ${opts.flowStream} or ${opts.graphStream} in ${dir}: neither has two records to pair by (\`nsr ls ${dir}\` shows what is there)`);
  await mkdir(opts.out, { recursive: true });
  const bar = progress();
  const problems = problemReporter('export', bar);
  let result;
  try {
    result = await exportForGui(flow, graph, {
      outDir: opts.out,
      intervalMs,
      maxFileBytes,
      from,
      to,
      onProblem: problems.onProblem,
      onWindow: (w) => bar.update(`nsr export: ${w.file}`),
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new ConfigError(`--out ${opts.out}: ${(err as Error).message.replace(/^EEXIST: /, '')}; export into an empty directory`);
    throw err;
  }
  bar.done();
  process.stdout.write(`${result.pairs} flow/graph pairs in ${result.files.length / 2} file pair${result.files.length === 2 ? '' : 's'}:\n${result.files.map((f) => `  ${f}`).join('\n')}\n`);
  if (result.unpairedFlow || result.unpairedGraph) {
    process.stdout.write(`left out, without a partner at the same tick: ${result.unpairedFlow} flow, ${result.unpairedGraph} graph records\n`);
  }
  return problems.count() ? EXIT_RUNTIME : EXIT_OK;
}
