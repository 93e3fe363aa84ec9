/**
 * What a stream added at run time (POST /streams, kept in .nsr.runtime.json)
 * may read besides the network. Whoever can send a control command must not
 * make nsr read a file or an environment variable that the configuration
 * file did not offer: its contents would be sent to whatever host the stream
 * names. So `*_file` settings (password_file, token_file, ca_file,
 * targets_file, …) and `${NAME}` references are refused unless
 * `control.runtime_secrets` in the configuration file lists them; listed
 * references are substituted like those in the file.
 */
import path from 'node:path';
import { ConfigError } from './errors.js';

/** `${NAME}` and `${NAME:-default}`, as the loader substitutes them in the configuration file. */
const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The allow-list as written in the raw file (the schema checks its shape later; until then anything else allows nothing). */
export function runtimeSecretsOf(control: unknown): string[] {
  const list = (control as { runtime_secrets?: unknown } | undefined)?.runtime_secrets;
  return Array.isArray(list) ? list.filter((x): x is string => typeof x === 'string') : [];
}

/**
 * The runtime streams with their allowed references substituted; throws a
 * ConfigError naming every key that reads a secret the file did not allow.
 */
export function guardRuntimeStreams(added: Record<string, Record<string, unknown>>, allowed: readonly string[], env: NodeJS.ProcessEnv, file: string): Record<string, Record<string, unknown>> {
  const envNames = new Set(allowed.filter((a) => ENV_NAME.test(a)));
  const files = new Set(allowed.filter((a) => !ENV_NAME.test(a)).map((a) => path.resolve(a)));
  const problems: string[] = [];
  const how = (what: string) => `to allow it, add ${JSON.stringify(what)} to control.runtime_secrets in ${file}, or write the stream into ${file} itself`;

  const walk = (value: unknown, at: string[]): unknown => {
    const where = at.join('.');
    const key = at[at.length - 1];
    if (key?.endsWith('_file') && at.length > 2) {
      const allowedFile = typeof value === 'string' && files.has(path.resolve(value));
      if (!allowedFile) problems.push(`${where}: a stream added at run time may not name a file for ${key} (got ${JSON.stringify(value)}): nsr would read it and could send its contents to the stream's host; ${how(String(value))}`);
      return value;
    }
    if (typeof value === 'string') {
      return value.replace(ENV_REF, (ref, name: string, fallback: string | undefined) => {
        if (!envNames.has(name)) {
          problems.push(`${where}: a stream added at run time may not read the environment variable ${name}; ${how(name)}`);
          return ref;
        }
        const v = env[name];
        if (v !== undefined && v !== '') return v;
        if (fallback !== undefined) return fallback;
        problems.push(`${where}: the environment variable ${name} is not set in the recorder's environment; export it there, or write \${${name}:-default}`);
        return ref;
      });
    }
    if (Array.isArray(value)) return value.map((v, i) => walk(v, [...at, String(i)]));
    if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, [...at, k])]));
    return value;
  };

  const out = Object.fromEntries(Object.entries(added).map(([name, cfg]) => [name, walk(cfg, ['streams', name]) as Record<string, unknown>]));
  if (problems.length) throw new ConfigError(`${file}: ${problems.length === 1 ? problems[0] : `${problems.length} problems:\n  ${problems.join('\n  ')}`}`);
  return out;
}
