/**
 * pino logs on stderr (stdout stays for command output): readable lines on a
 * terminal, JSON lines otherwise, optionally also JSON lines into a file,
 * rotated by size or by day (rotating-file.ts).
 * Credentials are redacted by key wherever they appear.
 */
import { pino, type Logger, type DestinationStream, type StreamEntry, type Level } from 'pino';
import { createRequire } from 'node:module';
import type PinoPretty from 'pino-pretty';
import { RotatingFile } from './rotating-file.js';

export type { Logger };

export interface LoggerOptions {
  level: string;
  console: boolean;
  file?: string;
  /** Rotation of `file` (rotating-file.ts). */
  maxBytes?: number;
  /** Rotated files (or earlier days) kept; `all` deletes none. */
  keep?: number | 'all';
  /** Force pretty (true) or JSON (false); default: pretty when stderr is a terminal. */
  pretty?: boolean;
}

export function createLogger(opts: LoggerOptions): Logger {
  const streams: StreamEntry[] = [];
  const level = opts.level as Level;
  if (opts.console) {
    const usePretty = opts.pretty ?? Boolean(process.stderr.isTTY);
    const dest: DestinationStream = usePretty
      ? loadPretty()({ destination: 2, colorize: true, sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' })
      : pino.destination({ dest: 2, sync: true });
    streams.push({ level, stream: dest });
  }
  if (opts.file) streams.push({ level, stream: new RotatingFile({ file: opts.file, maxBytes: opts.maxBytes, keep: opts.keep === 'all' ? Infinity : (opts.keep ?? 5) }) });
  return pino(
    {
      level: opts.level,
      base: { pid: process.pid },
      redact: { paths: ['*.authorization', '*.Authorization', '*.token', '*.password', 'headers.*'], censor: '[redacted]' },
    },
    streams.length > 0 ? pino.multistream(streams) : pino.destination('/dev/null'),
  );
}

/**
 * pino-pretty is loaded only for a terminal: a service logs JSON and should not
 * pay its ~30 ms of start-up CPU and memory (BENCHMARKS.md §17). Synchronous
 * (createRequire) because createLogger is.
 */
function loadPretty(): typeof PinoPretty {
  const mod = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty & { default?: typeof PinoPretty };
  return mod.default ?? mod;
}
