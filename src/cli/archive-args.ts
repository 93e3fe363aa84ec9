/** Options the offline tools share: where the archives are. */
import { stat } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { ConfigError } from '../config/errors.js';

export const DEFAULT_ARCHIVE_DIR = 'recorded_info';

export const dirOption = () => new Option('-d, --dir <dir>', 'the directory of the archives').default(DEFAULT_ARCHIVE_DIR);

/** Checks the directory exists before a command reads it. */
export async function archiveDir(dir: string): Promise<string> {
  try {
    if ((await stat(dir)).isDirectory()) return dir;
  } catch {
    /* reported below */
  }
  throw new ConfigError(`${dir} is not a directory of archives: pass the directory nsr records into (output.dir, default ${DEFAULT_ARCHIVE_DIR})`);
}

/**
 * Every offline command takes the directory either way: `nsr ls DIR` or
 * `nsr ls -d DIR`. Two different ones is a usage error.
 */
export function pickDir(positional: string | undefined, opts: { dir: string }, cmd: Command): string {
  if (positional !== undefined && cmd.getOptionValueSource('dir') === 'cli' && positional !== opts.dir) {
    throw new ConfigError(`two directories given: ${positional} and --dir ${opts.dir}; give one`);
  }
  return positional ?? opts.dir;
}
