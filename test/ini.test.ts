// The INI reader against Python's configparser itself (DAC read its
// collector.ini with ConfigParser(): BasicInterpolation, strict, comments # and
// ;). Each tricky file goes through both; every section's keys and values, or
// the fact that the file (or a key's interpolation) is refused, must agree.
// Without python3: a visible skip on a developer's machine, a failure in CI.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../src/config/errors.js';
import { iniSection, parseIni } from '../src/config/ini.js';
import { tempDir } from './helpers.js';

const CASES: Record<string, string> = {
  plain: '[application]\ndefault_timeout_sec = 4\nmaxretries: 10\n',
  'delimiters and spaces': '[s]\nk1=v\nk2 :  v2  \nk3 = a = b : c\nk4 : x=y\nk5 =\nmy key = spaced name\n',
  'keys fold to lower case, sections do not': '[Database]\nUSER = Dac\nHost = h\n[database]\nuser = other\n',
  'comments, # and ; inside values kept': '# top\n; top\n[s]\n  # indented comment\nurl = http://h/#frag ; not a comment\nk = v # still value\n',
  'continuation lines': '[s]\nk = first\n  second\n\tthird\nnext = n\n',
  'a blank line inside a value, trailing ones cut': '[s]\nk = a\n\n  b\n\n\nnext = n\nlast = z\n\n',
  'a comment line inside a value does not end it': '[s]\nk = a\n# note\n  b\nj = c\n',
  'an indented key line: same indent is a new key, deeper continues': '[s]\n  a = 1\n  b = 2\n    more\n',
  'an indented header': '[s]\nk = 1\n[t]\n  [u]\nx = 2\n',
  'header with text after it and brackets inside': '[sec] trailing\nk = 1\n[a]b]\nx = 2\n',
  'CRLF and CR line ends': '[s]\r\nk = a\r\n  b\r\nj = c\rl = d\r',
  'DEFAULT supplies keys; a section overrides': '[DEFAULT]\nhost = h\nport = 1\n[database]\nport = 5432\n[logging]\nverbose = INFO\n',
  'a second DEFAULT adds to the first': '[DEFAULT]\na = 1\n[s]\nk = v\n[DEFAULT]\nb = 2\n',
  'interpolation: %(x)s, %%, nested, from DEFAULT, case of the reference': '[DEFAULT]\nbase = /var/log\n[s]\nname = dac\nfile = %(BASE)s/%(name)s.log\npct = 100%%\nboth = %(file)s at 50%%\n',
  'interpolation: a lone %, a missing key, a bad reference (only that key fails)': '[s]\nok = fine\nlone = 5%\nmissing = %(nothere)s\nbad = %(x)d\nempty = %()s\n',
  'interpolation: a chain of ten references and one of eleven': `[s]\n${Array.from({ length: 12 }, (_, i) => `k${i} = ${i === 11 ? 'end' : `%(k${i + 1})s`}`).join('\n')}\nself = %(self)s\nplain0 = %(plain1)s\nplain1 = no percent\n`,
  'a duplicate section': '[s]\na = 1\n[t]\n[s]\nb = 2\n',
  'a duplicate key, in other case': '[s]\nKey = 1\nkey = 2\n',
  'a duplicate key in DEFAULT across two DEFAULTs': '[DEFAULT]\na = 1\n[DEFAULT]\na = 2\n',
  'a key before any section': 'k = v\n[s]\n',
  'a line without a delimiter': '[s]\njust a word\n',
  'an empty key name': '[s]\n= v\n',
  'a continuation right after a header is a key line': '[s]\n  k = v\n',
};

/** What configparser makes of each file: per section (DEFAULT excluded) every key's value, or the error's class. */
const PY = `
import configparser, json, sys
out = {}
for name, path in json.load(sys.stdin).items():
    cp = configparser.ConfigParser()
    try:
        cp.read(path, encoding='utf-8')
    except configparser.Error as e:
        out[name] = {'error': type(e).__name__}
        continue
    sections = {}
    for s in cp.sections():
        keys = {}
        for k in cp[s]:
            try:
                keys[k] = cp.get(s, k)
            except configparser.Error as e:
                keys[k] = {'error': type(e).__name__}
        sections[s] = keys
    out[name] = {'sections': sections}
print(json.dumps(out))
`;

type Outcome = { error: string } | { sections: Record<string, Record<string, string | { error: string }>> };

function ours(text: string, file: string): Outcome {
  try {
    const ini = parseIni(text, file);
    const sections: Record<string, Record<string, string | { error: string }>> = {};
    for (const name of ini.keys()) {
      if (name === 'DEFAULT') continue;
      const s = iniSection(ini, name, file)!;
      const keys: Record<string, string | { error: string }> = {};
      for (const k of s.keys()) {
        try {
          keys[k] = s.get(k)!;
        } catch (err) {
          if (!(err instanceof ConfigError)) throw err;
          keys[k] = { error: err.message };
        }
      }
      sections[name] = keys;
    }
    return { sections };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return { error: err.message };
  }
}

/** Errors compared as "refused" on both sides; the messages are ours. */
const shape = (o: Outcome): unknown => ('error' in o ? 'refused' : Object.fromEntries(Object.entries(o.sections).map(([s, keys]) => [s, Object.fromEntries(Object.entries(keys).map(([k, v]) => [k, typeof v === 'string' ? v : 'refused']))])));

t.test("parseIni reads every tricky file as Python's configparser does", async (t) => {
  const dir = tempDir(t);
  const paths: Record<string, string> = {};
  Object.entries(CASES).forEach(([name, text], i) => {
    paths[name] = path.join(dir, `case-${i}.ini`);
    writeFileSync(paths[name], text);
  });
  const py = spawnSync('python3', ['-c', PY], { input: JSON.stringify(paths), encoding: 'utf8' });
  if (py.error || py.status !== 0) {
    const why = `python3 not usable here: ${py.error?.message ?? py.stderr}`;
    if (process.env.CI) return t.fail(`${why}; CI must have python3 (apt-get install python3) to compare the INI reader with configparser`);
    return t.skip(why);
  }
  const theirs = JSON.parse(py.stdout) as Record<string, Outcome>;
  for (const [name, text] of Object.entries(CASES)) {
    const mine = ours(text, 'collector.ini');
    t.same(shape(mine), shape(theirs[name]), name, { ours: mine, configparser: theirs[name] });
  }
});

t.test('what is refused says where, what and how to fix it', async (t) => {
  const fails = (text: string) => ours(text, 'collector.ini') as { error: string };
  t.match(fails(CASES['a duplicate section']).error, /^collector\.ini:4: section \[s\] appears twice; keep one/);
  t.match(fails(CASES['a duplicate key, in other case']).error, /^collector\.ini:3: \[s\] key appears twice in its section; keep one/);
  t.match(fails(CASES['a key before any section']).error, /^collector\.ini:1: got "k = v" before any \[section\] header; put it under a header such as \[database\]/);
  t.match(fails(CASES['a line without a delimiter']).error, /^collector\.ini:2: got "just a word"; expected a \[section\] header or key = value/);
  const keys = (ours(CASES['interpolation: a lone %, a missing key, a bad reference (only that key fails)'], 'collector.ini') as { sections: Record<string, Record<string, { error: string }>> }).sections.s;
  t.match(keys.lone.error, /^collector\.ini: \[s\] lone: a lone % \("%"\); as for DAC \(Python's configparser\), write a percent sign as %%/);
  t.match(keys.missing.error, /\[s\] missing: refers to %\(nothere\)s, which the section does not have; write a percent sign as %%/);
  t.match(keys.bad.error, /\[s\] bad: bad reference "%\(x\)d"; expected %\(name\)s, or %% for a percent sign/);
});
