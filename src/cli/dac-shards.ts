/**
 * `nsr run -c collector.ini -p N`: DAC's collector processes. N processes of
 * `nsr run --shard k/N` on this machine, each probing its own share of the
 * urls (a target's shard comes from its id's hash, so one added later lands
 * on exactly one), each with its windows in recorded_info/shard-k-of-N.
 *
 * Processes rather than worker threads: a thread is cheaper to start, but a
 * recorder owns process-wide things (its output directory's lock, the control
 * server, signals, the compression pool's children), and a process that
 * fails takes no other share with it. Measured: BENCHMARKS.md, "DAC -p".
 *
 * This process writes the one log file (DAC's logfilename): the shards log
 * on their stderr, and their lines are appended here, so rotation happens in
 * one place. A signal is passed to every shard; when one shard ends by itself,
 * the others are stopped and the exit code says so.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import type { LoadedConfig } from '../config/loader.js';
import { RotatingFile } from '../logging/rotating-file.js';
import { EXIT_OK, EXIT_RUNTIME } from './common.js';

/** More processes than this on one machine is a configuration mistake, not a plan. */
export const MAX_PROCESSES = 64;

export interface ShardOptions {
  processes: number;
  tasks?: number;
  forArg?: string;
  logLevel?: string;
}

export async function runDacShards(loaded: LoadedConfig, opts: ShardOptions): Promise<number> {
  const { log: logCfg } = loaded.config;
  const level = opts.logLevel ?? logCfg.level;
  const file = logCfg.file ? new RotatingFile({ file: logCfg.file, maxBytes: logCfg.max_size, keep: logCfg.keep === 'all' ? Infinity : logCfg.keep }) : undefined;
  const log = pino({ level, base: { pid: process.pid } }, pino.multistream([...(logCfg.console ? [{ level: level as pino.Level, stream: pino.destination({ dest: 2, sync: true }) }] : []), ...(file ? [{ level: level as pino.Level, stream: file }] : [])]));
  for (const warning of loaded.warnings) log.warn({ config: loaded.file }, warning);

  const main = fileURLToPath(new URL('../../bin/nsr', import.meta.url));
  const shards: ChildProcess[] = [];
  let stopping = false;
  let firstFailure: number | undefined;
  const exits: Promise<number>[] = [];
  for (let k = 1; k <= opts.processes; k++) {
    const args = [main, 'run', '-c', loaded.file, '--shard', `${k}/${opts.processes}`, '--log-to-parent', '--log-level', level];
    if (opts.tasks !== undefined) args.push('-t', String(opts.tasks));
    if (opts.forArg !== undefined) args.push('--for', opts.forArg);
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'pipe'] });
    shards.push(child);
    // Each shard's log line as it wrote it (JSON, with its pid), into the one file and onto the console.
    createInterface({ input: child.stderr! }).on('line', (line) => {
      if (logCfg.console) process.stderr.write(`${line}\n`);
      if (file && line.startsWith('{')) file.write(`${line}\n`);
      else if (file) file.write(`${JSON.stringify({ level: 50, time: Date.now(), pid: child.pid, shard: `${k}/${opts.processes}`, msg: line })}\n`);
    });
    exits.push(
      new Promise((resolve) =>
        child.on('exit', (code, signal) => {
          const result = code ?? EXIT_RUNTIME;
          if (!stopping) {
            // One share is no longer probed: stop the others, so that a supervisor (systemd) restarts the whole.
            log.error({ shard: `${k}/${opts.processes}`, code, signal }, 'a shard process ended by itself; stopping the others');
            firstFailure ??= result === EXIT_OK ? EXIT_RUNTIME : result;
            stopAll('SIGTERM');
          }
          resolve(result);
        }),
      ),
    );
  }
  log.info({ processes: opts.processes, pids: shards.map((c) => c.pid), tasks: opts.tasks }, 'started the shard processes (-p)');
  function stopAll(signal: NodeJS.Signals) {
    stopping = true;
    for (const c of shards) if (c.exitCode === null && c.signalCode === null) c.kill(signal);
  }
  const onSignal = (signal: NodeJS.Signals) => {
    log.info({ signal }, 'stopping the shard processes');
    // Each shard counts its own signals: a second one here is a second one there (skip compression).
    stopAll(signal);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // A reload (the urls table is read again anyway; the INI's settings may have changed) is each shard's own.
  process.on('SIGHUP', () => shards.forEach((c) => c.kill('SIGHUP')));
  // --for: every shard stops by itself at the same time; that is not a failure.
  if (opts.forArg !== undefined) stopping = true;
  const codes = await Promise.all(exits);
  log.info({ codes }, 'the shard processes have stopped');
  return firstFailure ?? (codes.every((c) => c === EXIT_OK) ? EXIT_OK : Math.max(...codes));
}
