/**
 * Streams added and removed at run time (control commands), kept in the output
 * directory so they survive a restart: `<output.dir>/.nsr.runtime.json`,
 * `{"added": {"<name>": {<stream config>}}, "removed": ["<name>"]}`. The loader
 * lays it over the configuration file's `streams` before validation, so a
 * runtime stream is checked exactly like one in the file.
 */
import path from 'node:path';
import { readOwnFileSync, replaceOwnFileSync, UnsafeFileError } from '../fs/safe-files.js';
import { ConfigError } from './errors.js';

export const RUNTIME_FILE = '.nsr.runtime.json';

export interface RuntimeStreams {
  added: Record<string, Record<string, unknown>>;
  removed: string[];
}

export function runtimeFile(outputDir: string): string {
  return path.join(outputDir, RUNTIME_FILE);
}

/** Read only if it is a regular file: a link there is refused, never followed (its streams would come from anywhere). */
export function readRuntimeStreams(outputDir: string): RuntimeStreams {
  const file = runtimeFile(outputDir);
  let text: string | undefined;
  try {
    text = readOwnFileSync(file)?.toString('utf8');
  } catch (err) {
    throw asConfigError(err, file);
  }
  if (text === undefined) return { added: {}, removed: [] };
  try {
    const doc = JSON.parse(text);
    return { added: doc.added ?? {}, removed: doc.removed ?? [] };
  } catch (err) {
    throw new ConfigError(`${file}: the runtime streams file is not valid JSON (${(err as Error).message}); fix or remove it`);
  }
}

/**
 * At most this many streams added at run time: each costs memory and a
 * connection, and a client looping on POST /streams must not exhaust the
 * recorder (500 took 236 MB). More belong in the configuration file.
 */
export const MAX_RUNTIME_STREAMS = 100;

/** Throws when `name` would be one runtime stream too many. */
export function checkRuntimeRoom(rt: RuntimeStreams, name: string, configFile: string): void {
  const count = Object.keys(rt.added).length;
  if (!Object.hasOwn(rt.added, name) && count >= MAX_RUNTIME_STREAMS) {
    throw new ConfigError(`streams.${name}: ${count} streams were added at run time already, the most there may be (${MAX_RUNTIME_STREAMS}); write more streams into ${configFile} (then POST /reload), or remove a runtime stream first (DELETE /streams/<name>)`);
  }
}

/** Written to a fresh temporary and renamed: a crash never leaves half a file, and no link is written through. */
export function writeRuntimeStreams(outputDir: string, rt: RuntimeStreams): void {
  const file = runtimeFile(outputDir);
  try {
    replaceOwnFileSync(file, `${JSON.stringify(rt, null, 2)}\n`);
  } catch (err) {
    throw asConfigError(err, file);
  }
}

/** Something not a regular file at the runtime file's name is left alone and named, with the fix. */
function asConfigError(err: unknown, file: string): unknown {
  if (err instanceof UnsafeFileError) return new ConfigError(`${err.message}; the streams added at run time are kept in that file`);
  return err;
}

/** The configuration's raw `streams` with the runtime changes laid over them. */
export function overlayStreams(streams: unknown, rt: RuntimeStreams): unknown {
  if (!streams || typeof streams !== 'object' || Array.isArray(streams)) return streams;
  const merged: Record<string, unknown> = { ...(streams as Record<string, unknown>) };
  for (const name of rt.removed) delete merged[name];
  return { ...merged, ...rt.added };
}
