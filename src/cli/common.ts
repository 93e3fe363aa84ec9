/** What every command shares: the config option, exit codes, error printing. */
import { existsSync, readFileSync } from 'node:fs';
import { Option } from 'commander';
import { ConfigError, OperatorError } from '../config/errors.js';
import { DEFAULT_CONFIG_FILE } from '../config/defaults.js';

export const EXIT_OK = 0;
export const EXIT_RUNTIME = 1;
export const EXIT_USAGE = 2;

/** The original recorder's settings file, used when nsr's own is absent. */
const LEGACY_CONFIG_FILE = 'setting/recorder_setting.yaml';

export const configOption = () => new Option('-c, --config <file>', `configuration file (default ${DEFAULT_CONFIG_FILE}, or the original recorder's ${LEGACY_CONFIG_FILE} when only that exists)`);

export function resolveConfigFile(given: string | undefined): string {
  if (given) return given;
  if (!existsSync(DEFAULT_CONFIG_FILE) && existsSync(LEGACY_CONFIG_FILE)) return LEGACY_CONFIG_FILE;
  return DEFAULT_CONFIG_FILE;
}

export function version(): string {
  try {
    return JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;
  } catch {
    return 'unknown';
  }
}

export { OperatorError };

/** Prints an error the way every command does and exits with its code. */
export function fail(err: unknown): never {
  if (err instanceof ConfigError || err instanceof OperatorError) {
    process.stderr.write(`nsr: ${err.message}\n`);
    process.exit(err instanceof ConfigError ? EXIT_USAGE : EXIT_RUNTIME);
  }
  process.stderr.write(`nsr: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(EXIT_RUNTIME);
}
