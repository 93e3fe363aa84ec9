/**
 * `nsr stop`: finds the recorder of a configuration through its pidfile (the
 * lock in the output directory, trusted only when it is this user's, mode
 * 0600, and its pid is still the node process that wrote it), sends SIGTERM,
 * waits, and says whether it stopped cleanly, from the stop event it wrote.
 * No pgrep, no sudo: run it as the user the recorder runs as.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { readCatalog } from '../archive/catalog.js';
import { readRecords } from '../archive/records.js';
import { parseDuration } from '../config/duration.js';
import { ConfigError } from '../config/errors.js';
import { EVENTS_STREAM } from '../config/defaults.js';
import { processIdentity } from '../pipeline/process-identity.js';
import { configOption, EXIT_OK, EXIT_RUNTIME, fail, OperatorError, resolveConfigFile } from './common.js';
import { runningRecorder } from './running-recorder.js';

export function registerStop(program: Command): void {
  program
    .command('stop')
    .description('stop the running recorder of a configuration (SIGTERM), wait, and report how it stopped')
    .addOption(configOption())
    .option('--timeout <duration>', 'how long to wait (default: the shutdown deadline plus 10 s)')
    .action(async (opts: { config?: string; timeout?: string }) => {
      try {
        process.exitCode = await stop(opts);
      } catch (err) {
        fail(err);
      }
    });
}

async function stop(opts: { config?: string; timeout?: string }): Promise<number> {
  const { loadConfig } = await import('../config/loader.js');
  const { config } = loadConfig(resolveConfigFile(opts.config));
  const dir = path.resolve(config.output.dir);
  const waitMs = opts.timeout ? parseDuration(opts.timeout) : config.shutdown.deadline + 10_000;
  if (!waitMs) throw new ConfigError(`--timeout: got ${JSON.stringify(opts.timeout)}; expected a duration such as 90s`);
  const { pid, startTime } = runningRecorder(dir);
  const sentAt = Date.now();
  try {
    process.kill(pid, 'SIGTERM');
  } catch (err) {
    throw new OperatorError(`cannot signal pid ${pid}: ${(err as NodeJS.ErrnoException).code} (run nsr stop as the user the recorder runs as)`);
  }
  process.stdout.write(`nsr stop: sent SIGTERM to pid ${pid}, waiting up to ${Math.round(waitMs / 1000)} s\n`);
  while (processIdentity(pid, startTime) === 'same') {
    if (Date.now() - sentAt > waitMs) throw new OperatorError(`pid ${pid} is still running after ${Math.round(waitMs / 1000)} s; a second \`nsr stop\` (or kill -TERM ${pid}) skips compression`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const stopEvent = await lastStopEvent(dir, sentAt - 1000);
  if (!stopEvent) {
    process.stdout.write(`nsr stop: pid ${pid} exited without writing a stop event; the next start recovers its files\n`);
    return EXIT_RUNTIME;
  }
  const clean = stopEvent.unwritten_records === 0 && stopEvent.compressed === true;
  process.stdout.write(
    clean
      ? `nsr stop: stopped cleanly in ${(stopEvent.shutdown_ms / 1000).toFixed(1)} s: every fetched record written and compressed\n`
      : `nsr stop: stopped with ${stopEvent.unwritten_records} unwritten records${stopEvent.compressed ? '' : ', windows left uncompressed (compressed at the next start)'}\n`,
  );
  return clean ? EXIT_OK : EXIT_RUNTIME;
}

/** The newest stop event written after `since`. */
async function lastStopEvent(dir: string, since: number): Promise<Record<string, any> | undefined> {
  const [events] = await readCatalog(dir, { streams: [EVENTS_STREAM] });
  if (!events) return undefined;
  let found: Record<string, any> | undefined;
  for await (const { line } of readRecords(events, { from: since })) {
    if (line.includes('"event":"stop"')) found = JSON.parse(line.toString('utf8'));
  }
  return found;
}
