/**
 * Secrets (tokens, passwords) come from the environment (`${NAME}` in the
 * file) or from a file of their own, never from the configuration itself in
 * clear; this reads the `<key>_file` form and checks the two are not both set.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from './errors.js';

/** `where` is how errors name the setting's parent, e.g. `recorder.yaml: streams.inventory`. */
export function resolveSecret(where: string, key: string, value: string | undefined, file: string | undefined): string | undefined {
  if (value !== undefined && file !== undefined) throw new ConfigError(`${where}: both ${key} and ${key}_file are set; keep one`);
  if (file === undefined) return value;
  let secret: string;
  try {
    secret = readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new ConfigError(`${where}.${key}_file: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); check the path and that the recorder's user may read it`);
  }
  if (!secret) throw new ConfigError(`${where}.${key}_file: ${file} is empty; write the ${key} into it`);
  return secret;
}
