/**
 * `nsr run`: the foreground recorder. SIGTERM/SIGINT stop it cleanly; a second
 * signal skips compression (the files are recovered at the next start).
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Option, type Command } from 'commander';
import type { LoadedConfig } from '../config/loader.js';
import { ConfigError } from '../config/errors.js';
import { parseDuration } from '../config/duration.js';
import { parseShard } from '../sources/probe/probe-targets.js';
import type { Logger } from '../logging/logger.js';
import { configOption, EXIT_OK, EXIT_RUNTIME, fail, OperatorError, resolveConfigFile, version } from './common.js';
import { DAC_DEFAULT_TASKS, setDacRunOptions } from '../config/dac.js';
import { MAX_PROCESSES, runDacShards } from './dac-shards.js';
import { enableYoungGc } from '../pipeline/young-gc.js';

/** A whole-number option, or undefined when not given; `example` goes into the fix. */
function wholeOption(flag: string, text: string | undefined, min: number, max: number, what: string, example: number): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text.trim()) || Number(text) < min || Number(text) > max) throw new ConfigError(`${flag}: got ${JSON.stringify(text)}; expected the number of ${what}, ${min} to ${max}, e.g. ${flag} ${example}`);
  return Number(text);
}

interface RunOptions {
  config?: string;
  simulate?: boolean;
  for?: string;
  logLevel?: string;
  shard?: string;
  /** DAC's -p: shard processes on this machine (dac-shards.ts). */
  processes?: string;
  /** DAC's -t: probes in flight per process. */
  tasks?: string;
  /** Set by dac-shards.ts on the processes it starts: log lines go to it, which owns the log file. */
  logToParent?: boolean;
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('record the configured streams until SIGTERM or SIGINT')
    .addOption(configOption())
    .option('--simulate', 'also start the built-in simulators (NDTwin kernel, NetBox, Junos devices, probe targets, Netbeam) on the addresses of the config (for demos)')
    .option('--for <duration>', 'stop by itself after this long, as on SIGTERM (e.g. 30s, 10m)')
    .option('--shard <k/N>', 'probe only share k of N of the probe targets (N processes or machines, each with its own k)')
    .addOption(new Option('--log-level <level>', 'override log.level').choices(['trace', 'debug', 'info', 'warn', 'error', 'silent']))
    .option('-p, --processes <N>', "with DAC's collector.ini: N processes on this machine, each probing its own share of the urls (DAC's -p; default 1)")
    .option('-t, --tasks <M>', "with DAC's collector.ini: probes in flight at once in each process (DAC's -t; default 2)")
    .addOption(new Option('--log-to-parent').hideHelp())
    .action(async (opts: RunOptions) => {
      try {
        process.exitCode = await run(opts);
      } catch (err) {
        fail(err);
      }
    });
}

/** Kinds that make one request a tick: their tick rate is their request rate. */
const ONE_REQUEST_KINDS = new Set(['ndtwin', 'http']);
const LOW_REQUEST_RATE = 10; // a second, all streams together
const FOR_SIZE_AFTER_START_MS = 20_000;

/**
 * Whether V8 should favour memory over speed (--optimize-for-size): without it
 * V8 grows the old generation with the allocation rate. Measured side by side
 * (BENCHMARKS.md §17): at the nominal load (2 requests/s) the recorder's peak
 * RSS 79 -> 72 MB, its CPU within the noise; at 40 requests/s RSS 110 -> 79 MB
 * but 18-29 % more steady CPU, and at 800 requests/s 45 % more CPU per record.
 * So only for streams of one request a tick (ndtwin, http: the original
 * recorder's load) at up to 10 requests a second together, and only for the
 * start (FOR_SIZE_AFTER_START_MS after recording began), whose peak it cuts:
 * left on, it ends each scavenge (~10 s apart at nominal) in a full
 * mark-compact, 14-32 % of the steady CPU for no steady RSS (measured side by
 * side, BENCHMARKS.md §17).
 */
function memoryOverSpeed(loaded: LoadedConfig): boolean {
  let perSecond = 0;
  for (const s of loaded.streams) {
    if (!ONE_REQUEST_KINDS.has(s.kind)) return false;
    perSecond += 1000 / s.timing.intervalMs;
  }
  return loaded.streams.length > 0 && perSecond <= LOW_REQUEST_RATE;
}

async function run(opts: RunOptions): Promise<number> {
  // Loaded here, not at the top: the offline commands start faster without them.
  const [{ loadConfig }, { createLogger }, { Recorder }] = await Promise.all([import('../config/loader.js'), import('../logging/logger.js'), import('../pipeline/recorder.js')]);
  const forMs = opts.for === undefined ? undefined : parseDuration(opts.for);
  const shard = opts.shard === undefined ? undefined : parseShard(opts.shard);
  if (opts.shard !== undefined && !shard) throw new ConfigError(`--shard: got ${JSON.stringify(opts.shard)}; expected k/N with 1 ≤ k ≤ N, e.g. --shard 2/3 on the second of three machines`);
  if (opts.for !== undefined && !forMs) throw new ConfigError(`--for: got ${JSON.stringify(opts.for)}; expected a duration such as 30s or 10m`);
  const processes = wholeOption('-p', opts.processes, 1, MAX_PROCESSES, 'processes', 2);
  const tasks = wholeOption('-t', opts.tasks, 1, 100_000, 'probes in flight per process', 4);
  if (processes !== undefined && processes > 1 && shard) throw new ConfigError(`-p ${processes} with --shard: -p splits the targets among processes on this machine, --shard takes one share of them; use one of the two`);
  // Before loading: the DAC conversion reads them, also at a reload.
  setDacRunOptions({ tasks, shard });
  const loaded = loadConfig(resolveConfigFile(opts.config));
  if ((processes !== undefined || tasks !== undefined) && !loaded.dac) {
    throw new ConfigError(`${processes !== undefined ? '-p' : '-t'}: only with DAC's collector.ini (${loaded.file} is nsr's own configuration); there, set concurrency: on the probe stream, and run one process per share with --shard k/N`);
  }
  if (processes !== undefined && processes > 1) return runDacShards(loaded, { processes, tasks, forArg: opts.for, logLevel: opts.logLevel });
  const { log: logCfg } = loaded.config;
  // A shard process of -p logs on stderr only: the process that started it writes the one log file.
  const log = createLogger({ level: opts.logLevel ?? logCfg.level, console: opts.logToParent ? true : logCfg.console, file: opts.logToParent ? undefined : logCfg.file, maxBytes: logCfg.max_size, keep: logCfg.keep, pretty: opts.logToParent ? false : undefined });
  if (loaded.dac) log.info({ config: loaded.file, tasks: tasks ?? DAC_DEFAULT_TASKS, shard: shard && `${shard.k}/${shard.n}` }, "reading DAC's collector.ini");
  if (loaded.legacy) log.info({ config: loaded.file, settings: loaded.legacySettings }, 'reading the original recorder settings format');
  if (!opts.logToParent) for (const warning of loaded.warnings) log.warn({ config: loaded.file }, warning);

  enableYoungGc();
  const v8ForSize = memoryOverSpeed(loaded) ? (await import('node:v8')).default : undefined;
  v8ForSize?.setFlagsFromString('--optimize-for-size');
  const recorder = new Recorder(loaded, { log, version: version(), shard });
  // Signals are ours from here on, also during a long start (recovery): the
  // first stops cleanly once started, the second skips compression, the third
  // exits at once (window files are recovered at the next start).
  let signals = 0;
  let stopRequested: (reason: string) => void = () => {};
  const stopped = new Promise<string>((resolve) => (stopRequested = resolve));
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      log.info({ signal }, 'stopping: finishing fetches, flushing and compressing windows');
      stopRequested(signal);
    } else if (signals === 2) recorder.hurryStop();
    else {
      log.error({ signal }, 'third signal: exiting now; unfinished windows are recovered at the next start');
      log.flush?.();
      process.exit(EXIT_RUNTIME);
    }
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // SIGHUP reloads the configuration file; an invalid one is rejected and the running one stays.
  process.on('SIGHUP', () => {
    recorder.reload().then(
      (r) => log.info(r, 'configuration reloaded'),
      (err) => log.error({ error: (err as Error).message }, 'reload rejected; the running configuration stays'),
    );
  });

  const simulator = opts.simulate ? await startSimulator(loaded, log) : undefined;
  try {
    await recorder.start();
  } catch (err) {
    simulator?.kill('SIGTERM');
    throw err;
  }
  log.info({ streams: loaded.streams.map((s) => s.name), output: loaded.config.output.dir }, 'recording');
  if (forMs) setTimeout(() => stopRequested('duration'), forMs).unref();
  if (v8ForSize) setTimeout(() => v8ForSize.setFlagsFromString('--no-optimize-for-size'), FOR_SIZE_AFTER_START_MS).unref();
  const reason = await stopped;
  const result = await recorder.stop(reason);
  simulator?.kill('SIGTERM');
  log.info(result, result.complete ? 'stopped: every fetched record is on disk' : 'stopped with unwritten records');
  log.flush?.();
  return result.complete && !result.deadlineReached ? EXIT_OK : EXIT_RUNTIME;
}

/** The simulated routers' SSH host key, kept in the output directory (0600) between demo runs. */
const SIMULATOR_HOST_KEY = '.simulator-junos-host-key';

/** Generated Juniper routers the simulator adds for a junos stream (besides the NetBox fixtures' devices). */
const SIMULATED_ROUTERS = 20;

/** Forks `nsr simulate` on the addresses the config points at: the NDTwin kernel, NetBox, the Junos devices. */
async function startSimulator(loaded: LoadedConfig, log: Logger): Promise<ChildProcess> {
  const byKind = (kind: string) => loaded.streams.find((s) => s.kind === kind);
  const ndtwin = byKind('ndtwin');
  const netbox = byKind('netbox');
  const junos = byKind('junos');
  const probe = byKind('probe');
  const netbeam = byKind('netbeam');
  const probeUrl = (probe?.options.targets as { url: string }[] | undefined)?.[0]?.url;
  if (!ndtwin && !netbox && !junos && !probeUrl && !netbeam) throw new ConfigError('--simulate: no ndtwin, netbox, junos, netbeam or probe stream (with targets in the file) to point the simulator at');
  const loopback = (what: string, raw: unknown) => {
    const u = new URL(String(raw));
    if (!['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)) throw new ConfigError(`--simulate: the ${what} address ${u.host} is not a loopback address; the simulator only listens on this machine`);
    return u;
  };
  const url = ndtwin ? loopback('kernel', ndtwin.options.kernel ?? 'http://127.0.0.1:8000') : netbox ? loopback('NetBox', netbox.options.url) : probeUrl ? loopback('probe target', probeUrl) : netbeam ? loopback('Netbeam', netbeam.options.url) : new URL('http://127.0.0.1');
  const args = ['simulate', '--host', url.hostname.replace(/^\[|\]$/g, '')];
  // DPIDs 1…N as on Mininet: the NDTwin clients read a DPID as a Java long.
  args.push(...(ndtwin ? ['--port', url.port || '80', '--dpids', 'mininet'] : ['--no-ndtwin']));
  if (netbox) {
    const nb = loopback('NetBox', netbox.options.url);
    args.push('--netbox-port', nb.port || '80');
  }
  if (probeUrl) args.push('--probe-port', loopback('probe target', probeUrl).port || '80');
  if (netbeam) args.push('--netbeam-port', loopback('Netbeam', netbeam.options.url).port || '80');
  if (junos) {
    const netconf = junos.options.transport === 'netconf';
    if (!netconf && junos.options.scheme !== 'http') throw new ConfigError(`--simulate: streams.${junos.name}.scheme: the simulated devices speak plain HTTP; set scheme: http to record from them`);
    const port = junos.options.port ?? (netconf ? 830 : 3443);
    args.push('--junos-devices', String(SIMULATED_ROUTERS), '--junos-port', String(port), '--junos-latency', '20-200');
    // The simulated routers keep one host key across runs (beside the windows), so a known_hosts that remembered it stays right.
    if (netconf) args.push('--junos-transport', 'netconf', '--junos-host-key', path.join(loaded.config.output.dir, SIMULATOR_HOST_KEY));
  }
  const main = fileURLToPath(new URL('../../bin/nsr', import.meta.url));
  const child = fork(main, args, { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  await new Promise<void>((resolve, reject) => {
    child.once('message', (m: { type?: string; url?: string }) => (m?.type === 'ready' ? resolve() : reject(new Error('unexpected message from the simulator'))));
    child.once('exit', (code) => reject(new OperatorError(`--simulate: the simulator could not start (exit code ${code}, see above); if a kernel or simulator already listens there, run without --simulate`)));
  });
  child.removeAllListeners('exit');
  let stopping = false;
  child.on('exit', (code, signal) => stopping || log.warn({ code, signal }, 'the simulator exited while recording'));
  const kill = child.kill.bind(child);
  child.kill = (signal?: NodeJS.Signals | number) => ((stopping = true), kill(signal));
  log.info({ args: args.slice(1) }, 'simulator started');
  return child;
}
