/**
 * INI files as Python's configparser reads them (DAC's collector.ini is read
 * with ConfigParser()), so a file DAC accepted means the same here:
 * `[section]` headers; `key = value` or `key: value`; keys case-insensitive
 * (lower-cased), values trimmed; whole-line comments with `#` or `;` (a `#`
 * after a value is part of the value, as in configparser); an indented line
 * continues the value above; `[DEFAULT]` supplies keys to every section; and
 * configparser's interpolation: `%(key)s` is another key's value, `%%` a
 * percent sign, any other `%` an error (a password with a `%` was written `%%`
 * for DAC too). A duplicate section or key is an error, as in configparser.
 *
 * Small and our own rather than a dependency: this is the whole of what DAC's
 * files use.
 */
import { ConfigError } from './errors.js';

export type IniSections = Map<string, Map<string, string>>;

export function parseIni(text: string, file: string): IniSections {
  const sections: IniSections = new Map();
  let current: Map<string, string> | undefined;
  let lastKey: string | undefined;
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((line, i) => {
    const where = `${file}:${i + 1}`;
    if (/^\s*([#;].*)?$/.test(line)) {
      lastKey = undefined;
      return;
    }
    if (/^\s/.test(line) && current && lastKey !== undefined) {
      current.set(lastKey, `${current.get(lastKey)}\n${line.trim()}`);
      return;
    }
    const header = /^\[([^\]]+)\]\s*$/.exec(line);
    if (header) {
      const name = header[1];
      if (sections.has(name)) throw new ConfigError(`${where}: section [${name}] appears twice; keep one`);
      current = new Map();
      sections.set(name, current);
      lastKey = undefined;
      return;
    }
    const entry = /^([^=:]+?)\s*[=:]\s*(.*)$/.exec(line.trim());
    if (!entry) throw new ConfigError(`${where}: got ${JSON.stringify(line.trim())}; expected a [section] header or key = value`);
    if (!current) throw new ConfigError(`${where}: ${entry[1]} is outside any section; put it under a header such as [database]`);
    const key = entry[1].toLowerCase();
    if (current.has(key)) throw new ConfigError(`${where}: ${key} appears twice in its section; keep one`);
    current.set(key, entry[2].trim());
    lastKey = key;
  });
  return sections;
}

/** The section's keys with [DEFAULT]'s under them and interpolation done (raw values stay in the map). */
export function iniSection(sections: IniSections, name: string, file: string): Map<string, string> | undefined {
  const own = sections.get(name);
  if (!own) return undefined;
  const merged = new Map([...(sections.get('DEFAULT') ?? []), ...own]);
  const out = new Map<string, string>();
  for (const key of merged.keys()) out.set(key, interpolate(merged, key, file, name, 0));
  return out;
}

function interpolate(values: Map<string, string>, key: string, file: string, section: string, depth: number): string {
  if (depth > 10) throw new ConfigError(`${file}: [${section}] ${key}: %(…)s references go round in a circle; write the value out`);
  return values.get(key)!.replace(/%(%|\(([^)]+)\)s|)/g, (all, what: string, ref: string | undefined) => {
    if (what === '%') return '%';
    if (ref !== undefined) {
      const name = ref.toLowerCase();
      if (!values.has(name)) throw new ConfigError(`${file}: [${section}] ${key}: refers to %(${ref})s, which the section does not have; write a percent sign as %%`);
      return interpolate(values, name, file, section, depth + 1);
    }
    throw new ConfigError(`${file}: [${section}] ${key}: a lone % (${JSON.stringify(all)}); as for DAC (Python's configparser), write a percent sign as %%`);
  });
}
