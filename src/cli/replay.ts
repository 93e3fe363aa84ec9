/**
 * `nsr replay [dir]`: serves recorded archives on the NDTwin kernel's endpoints,
 * the recorded past advancing at --speed times real time (src/archive/replay-server.ts).
 * SIGTERM/SIGINT stop it with exit 0.
 */
import type { Command } from 'commander';
import { ConfigError } from '../config/errors.js';
import { formatTime, parseTimeArg } from '../archive/time-arg.js';
import { archiveDir, dirOption, pickDir } from './archive-args.js';
import { EXIT_OK, fail, OperatorError } from './common.js';

interface ReplayCliOptions {
  dir: string;
  speed: string;
  port: string;
  host: string;
  from?: string;
  to?: string;
  loop?: boolean;
  map?: string[];
}

export function registerReplay(program: Command): void {
  program
    .command('replay')
    .description('serve recorded archives on the NDTwin kernel endpoints, the past advancing at --speed times real time')
    .argument('[dir]', 'directory of the archives, as with --dir (default recorded_info)')
    .addOption(dirOption())
    .option('--speed <x>', 'replay seconds per real second (e.g. 1, 10, 0.5)', '1')
    .option('-p, --port <port>', 'TCP port (0 = any free port)', '8000')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--from <time>', 'start of the replay: ISO time (local unless a zone is given) or epoch ms (default: the first record)')
    .option('--to <time>', 'end of the replay, inclusive (default: the last record)')
    .option('--loop', 'start again at --from once --to is passed (default: keep serving the last records)')
    .option('--map <stream=/path>', 'serve a stream on this endpoint path (repeatable; default: the path it was recorded from)', (v: string, acc: string[] | undefined) => [...(acc ?? []), v])
    .action(async (dir: string | undefined, opts: ReplayCliOptions, cmd: Command) => {
      try {
        process.exitCode = await replay(pickDir(dir, opts, cmd), opts);
      } catch (err) {
        fail(err);
      }
    });
}

async function replay(dir: string, opts: ReplayCliOptions): Promise<number> {
  const speed = parseSpeed(opts.speed);
  const port = parsePort(opts.port);
  const from = opts.from === undefined ? undefined : parseTimeArg(opts.from, '--from');
  const to = opts.to === undefined ? undefined : parseTimeArg(opts.to, '--to');
  const map = parseMap(opts.map ?? []);
  await archiveDir(dir);
  // Loaded here, not at the top: the other commands start faster without it.
  const { ReplayServer, STATUS_PATH } = await import('../archive/replay-server.js');
  const server = new ReplayServer({
    dir,
    host: opts.host,
    port,
    speed,
    from,
    to,
    loop: Boolean(opts.loop),
    map,
    onProblem: (p) => process.stderr.write(`nsr replay: ${p.file}: ${p.problem}\n`),
  });
  await server.prepare();
  let started;
  try {
    started = await server.start();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE') throw new OperatorError(`cannot listen on ${opts.host}:${port}: address already in use (choose another --port, or stop what listens there)`);
    if (e.code === 'EACCES') throw new OperatorError(`cannot listen on ${opts.host}:${port}: permission denied (ports below 1024 need privileges; choose another --port)`);
    if (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND') throw new OperatorError(`cannot listen on ${opts.host}:${port}: no such local address (--host)`);
    throw err;
  }
  const out = process.stdout;
  out.write(`nsr replay: serving ${dir} (${formatTime(started.from)} … ${formatTime(started.to)}) at ${speed}× on ${started.url}${opts.loop ? ', looping' : ''}\n`);
  for (const s of started.streams) {
    const shape = s.shape ? (s.shape.mode === 'wrap' ? 'wrapped' : 'merged') : 'shape told from its records';
    out.write(`nsr replay:   ${s.stream} → ${started.url}${s.path} (${s.records} records, ${formatTime(s.first)} … ${formatTime(s.last)}; endpoint from ${s.endpointFrom}, ${shape})\n`);
  }
  for (const s of started.skipped) out.write(`nsr replay:   ${s.stream} not served: ${s.reason}\n`);
  if (started.topK) out.write(`nsr replay:   top-k flows → ${started.url}${started.topK.path}?k=N (the busiest N flows of ${started.topK.from})\n`);
  out.write(`nsr replay:   status: ${started.url}${STATUS_PATH}\n`);

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  out.write(`nsr replay: ${signal}: stopping\n`);
  await server.stop();
  return EXIT_OK;
}

function parseSpeed(text: string): number {
  const v = text.trim().replace(/x$/i, '');
  const n = Number(v);
  if (v === '' || !Number.isFinite(n) || n <= 0) throw new ConfigError(`--speed: got ${JSON.stringify(text)}; expected a positive number of replay seconds per real second, e.g. 1, 10 or 0.5`);
  return n;
}

function parsePort(text: string): number {
  const v = text.trim();
  if (!/^\d+$/.test(v) || Number(v) > 65535) throw new ConfigError(`--port: got ${JSON.stringify(text)}; expected an integer between 0 and 65535`);
  return Number(v);
}

function parseMap(items: string[]): Record<string, string> {
  const map: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    const stream = item.slice(0, eq);
    const path = item.slice(eq + 1);
    if (eq <= 0 || !path.startsWith('/')) throw new ConfigError(`--map: got ${JSON.stringify(item)}; expected stream=/path, e.g. graphinfo=/ndt/get_graph_data`);
    if (Object.hasOwn(map, stream)) throw new ConfigError(`--map: ${stream} is mapped twice`);
    map[stream] = path;
  }
  return map;
}
