/**
 * What a stream added at run time (POST /streams, kept in .nsr.runtime.json)
 * may read besides the network. Whoever can send a control command must not
 * make nsr read a file or an environment variable that the configuration
 * file did not offer: its contents would be sent to whatever host the stream
 * names. So `*_file` settings (password_file, token_file, ca_file,
 * targets_file, …) and `${NAME}` references are refused unless
 * `control.runtime_secrets` in the configuration file lists them; the loader
 * then substitutes the listed references like those in the file.
 */
import path from 'node:path';
import { ENV_REF } from './env-substitution.js';
import { ConfigError } from './errors.js';
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The allow-list as written in the raw file (the schema checks its shape later; until then anything else allows nothing). */
export function runtimeSecretsOf(control: unknown): string[] {
  const list = (control as { runtime_secrets?: unknown } | undefined)?.runtime_secrets;
  return Array.isArray(list) ? list.filter((x): x is string => typeof x === 'string') : [];
}

/** Throws a ConfigError naming every key of the runtime streams that reads a secret the file did not allow. */
export function checkRuntimeSecrets(added: Record<string, Record<string, unknown>>, allowed: readonly string[], file: string): void {
  const envNames = new Set(allowed.filter((a) => ENV_NAME.test(a)));
  const files = new Set(allowed.filter((a) => !ENV_NAME.test(a)).map((a) => path.resolve(a)));
  const problems: string[] = [];
  const how = (what: string) => `to allow it, add ${JSON.stringify(what)} to control.runtime_secrets in ${file}, or write the stream into ${file} itself`;

  const walk = (value: unknown, at: string[]): void => {
    const where = at.join('.');
    const key = at[at.length - 1];
    if (key?.endsWith('_file') && at.length > 2) {
      const allowedFile = typeof value === 'string' && files.has(path.resolve(value));
      if (!allowedFile) problems.push(`${where}: a stream added at run time may not name a file for ${key} (got ${JSON.stringify(value)}): nsr would read it and could send its contents to the stream's host; ${how(String(value))}`);
    } else if (typeof value === 'string') {
      for (const [, name] of value.matchAll(ENV_REF)) {
        if (!envNames.has(name)) problems.push(`${where}: a stream added at run time may not read the environment variable ${name}; ${how(name)}`);
      }
    } else if (Array.isArray(value)) value.forEach((v, i) => walk(v, [...at, String(i)]));
    else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) walk(v, [...at, k]);
  };

  for (const [name, cfg] of Object.entries(added)) walk(cfg, ['streams', name]);
  if (problems.length) throw new ConfigError(`${file}: ${problems.length === 1 ? problems[0] : `${problems.length} problems:\n  ${problems.join('\n  ')}`}`);
}
