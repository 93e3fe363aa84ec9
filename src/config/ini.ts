/**
 * INI files as Python's configparser reads them (DAC's collector.ini is read
 * with ConfigParser()), so a file DAC accepted means the same here:
 * `[section]` headers; `key = value` or `key: value`; keys case-insensitive
 * (lower-cased), values trimmed; whole-line comments with `#` or `;` (a `#`
 * after a value is part of the value, as in configparser); an indented line
 * continues the value above; `[DEFAULT]` supplies keys to every section; and
 * configparser's interpolation: `%(key)s` is another key's value, `%%` a
 * percent sign, any other `%` an error (a password with a `%` was written `%%`
 * for DAC too), when the value is read. A duplicate section or key is an
 * error, as in configparser (strict mode). A UTF-8 byte-order mark is skipped
 * (configparser would refuse the first header: a lenience, not a difference in meaning).
 *
 * Small and our own rather than a dependency: this is the whole of what DAC's
 * files use.
 */
import { ConfigError } from './errors.js';

export type IniSections = Map<string, Map<string, string>>;

/** configparser's comment_prefixes: a line whose first non-blank character is one of them. */
const COMMENT = /^[#;]/;

/**
 * configparser's RawConfigParser._read, step by step (Python 3.11, strict,
 * empty_lines_in_values, no inline comments): a line indented deeper than its
 * key's line continues the value, even after blank or comment lines; a blank
 * line adds an empty line to the value (trailing ones are cut at the end); a
 * header is `[` … the last `]` of the line, whatever follows; a second
 * [DEFAULT] adds to the first. Files DAC read therefore mean the same here.
 */
export function parseIni(text: string, file: string): IniSections {
  const parts = new Map<string, Map<string, string[]>>();
  const added = new Set<string>();
  let current: Map<string, string[]> | undefined;
  let sectionName = '';
  let option: string | undefined;
  let indentLevel = 0;
  // Python reads the file with universal newlines: \r\n, \r and \n all end a line.
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/);
  lines.forEach((line, i) => {
    const where = `${file}:${i + 1}`;
    const stripped = line.trim();
    const value = COMMENT.test(stripped) ? '' : stripped;
    if (!value) {
      // A blank line (not a comment) inside a value is part of it.
      if (!COMMENT.test(stripped) && current && option !== undefined) current.get(option)!.push('');
      return;
    }
    const indent = line.search(/\S/);
    if (current && option !== undefined && indent > indentLevel) {
      current.get(option)!.push(value);
      return;
    }
    indentLevel = indent;
    const header = /^\[(.+)\]/s.exec(value);
    if (header) {
      const name = header[1];
      if (name !== 'DEFAULT' && added.has(name)) throw new ConfigError(`${where}: section [${name}] appears twice; keep one (Python's configparser refuses it too)`);
      if (name !== 'DEFAULT') added.add(name);
      current = parts.get(name) ?? new Map();
      parts.set(name, current);
      sectionName = name;
      option = undefined;
      return;
    }
    if (!current) throw new ConfigError(`${where}: got ${JSON.stringify(stripped)} before any [section] header; put it under a header such as [database]`);
    const entry = /^(.*?)\s*([=:])\s*(.*)$/s.exec(value);
    if (!entry || !entry[1]) throw new ConfigError(`${where}: got ${JSON.stringify(stripped)}; expected a [section] header or key = value`);
    const key = entry[1].trimEnd().toLowerCase();
    const id = `${sectionName}\u0000${key}`;
    if (added.has(id)) throw new ConfigError(`${where}: [${sectionName}] ${key} appears twice in its section; keep one (Python's configparser refuses it too)`);
    added.add(id);
    current.set(key, [entry[3].trim()]);
    option = key;
  });
  const sections: IniSections = new Map();
  for (const [name, options] of parts) sections.set(name, new Map([...options].map(([key, values]) => [key, values.join('\n').trimEnd()])));
  return sections;
}

/** One section's values, interpolated when read (as configparser's get): a key nobody reads is never checked. */
export interface IniSection {
  keys(): IterableIterator<string>;
  has(key: string): boolean;
  get(key: string): string | undefined;
}

/** The section's keys with [DEFAULT]'s under them; values are interpolated when read. */
export function iniSection(sections: IniSections, name: string, file: string): IniSection | undefined {
  const own = sections.get(name);
  if (!own) return undefined;
  const merged = new Map([...(sections.get('DEFAULT') ?? []), ...own]);
  return {
    keys: () => merged.keys(),
    has: (key) => merged.has(key),
    get: (key) => (merged.has(key) ? interpolate(merged, key, merged.get(key)!, file, name, 1) : undefined),
  };
}

/** configparser's limit on %(…)s references within references. */
const MAX_DEPTH = 10;

/** BasicInterpolation._interpolate_some: `%%` is %, `%(key)s` the key's value (itself interpolated when it has a %), any other % an error. */
function interpolate(values: Map<string, string>, key: string, text: string, file: string, section: string, depth: number): string {
  if (depth > MAX_DEPTH) throw new ConfigError(`${file}: [${section}] ${key}: %(…)s references more than ${MAX_DEPTH} deep (or in a circle); write the value out`);
  let out = '';
  let rest = text;
  while (rest) {
    const p = rest.indexOf('%');
    if (p < 0) return out + rest;
    out += rest.slice(0, p);
    rest = rest.slice(p);
    if (rest[1] === '%') {
      out += '%';
      rest = rest.slice(2);
    } else if (rest[1] === '(') {
      const m = /^%\(([^)]+)\)s/.exec(rest);
      if (!m) throw new ConfigError(`${file}: [${section}] ${key}: bad reference ${JSON.stringify(rest)}; expected %(name)s, or %% for a percent sign (as for DAC: Python's configparser)`);
      const ref = m[1].toLowerCase();
      rest = rest.slice(m[0].length);
      const v = values.get(ref);
      if (v === undefined) throw new ConfigError(`${file}: [${section}] ${key}: refers to %(${m[1]})s, which the section does not have; write a percent sign as %%`);
      out += v.includes('%') ? interpolate(values, key, v, file, section, depth + 1) : v;
    } else throw new ConfigError(`${file}: [${section}] ${key}: a lone % (${JSON.stringify(rest)}); as for DAC (Python's configparser), write a percent sign as %%`);
  }
  return out;
}
