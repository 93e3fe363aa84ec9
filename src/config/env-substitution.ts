/**
 * `${NAME}` and `${NAME:-default}` in the configuration's string values, from
 * the environment. Done after YAML parsing, so a value cannot inject YAML.
 *
 * A value taken from the environment may be a secret put in the wrong place
 * (`interval: ${NETBOX_TOKEN}`), so every value that holds one is remembered
 * by its path with the text as written: error messages then say "the value of
 * ${NETBOX_TOKEN}" instead of echoing it (they end up in terminals, logs and
 * the events stream: `reload_rejected`).
 */
import { ConfigError } from './errors.js';

/** `${NAME}` and `${NAME:-default}`. */
export const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** The values that hold something from the environment: the text as written (`${SECRET}`), by path (see pathKey). */
export type EnvValues = ReadonlyMap<string, string>;

/** The key of a path (`['streams', 'f', 'interval']`) in EnvValues. */
export const pathKey = (path: readonly PropertyKey[]): string => JSON.stringify(path.map(String));

/** `root`: the path of `doc` in the whole configuration (streams added at run time are substituted on their own). */
export function substituteEnv(doc: unknown, env: NodeJS.ProcessEnv, file: string, root: (string | number)[] = []): { value: unknown; fromEnv: Map<string, string> } {
  const fromEnv = new Map<string, string>();
  const walk = (value: unknown, path: (string | number)[]): unknown => {
    if (typeof value === 'string') {
      let used = false;
      const out = value.replace(ENV_REF, (_, name: string, fallback: string | undefined) => {
        const v = env[name];
        if (v !== undefined && v !== '') {
          used = true;
          return v;
        }
        if (fallback !== undefined) return fallback; // written in the file: not a secret
        // A hook's own variable (${NSR_FILE}) written for the shell, but substituted here, when the file is loaded.
        const hook = path.includes('on_window') ? `; in an on_window command write $${name} without braces: the command's shell expands it when it runs (nsr sets NSR_WINDOW_PATH, NSR_FILE, NSR_STREAM, …)` : '';
        throw new ConfigError(`${file}: ${path.join('.')}: the environment variable ${name} is not set; export it (e.g. in the systemd unit's EnvironmentFile) or write \${${name}:-default}${hook}`);
      });
      if (used) fromEnv.set(pathKey(path), value);
      return out;
    }
    if (Array.isArray(value)) return value.map((v, i) => walk(v, [...path, i]));
    if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, [...path, k])]));
    return value;
  };
  return { value: walk(doc, root), fromEnv };
}

/** How a message names a value from the environment: by what was written, never by the value. */
export function describeEnvValue(written: string): string {
  const whole = /^\s*\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-[^}]*)?\}\s*$/.exec(written);
  return whole ? `the value of \${${whole[1]}} (from the environment; not shown)` : `the value of ${JSON.stringify(written)} (from the environment; not shown)`;
}

/** `text` (a value as a message shows it), or how it came from the environment when it did. */
export function showValue(fromEnv: EnvValues, path: readonly PropertyKey[], text: string): string {
  const written = fromEnv.get(pathKey(path));
  return written === undefined ? text : describeEnvValue(written);
}
