// Configuration mistakes a new user makes, one row each: a configuration error
// (exit 2) with a message that names the key as written, the value (never a secret's),
// what is expected and a fix; the fix, taken from the message and applied to
// the file, makes it load.
import t from 'tap';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseConfig, type LoadedConfig } from '../src/config/loader.js';
import { ConfigError } from '../src/config/errors.js';
import { NSR, tempDir } from './helpers.js';

interface Row {
  name: string;
  yaml: string;
  env?: Record<string, string>;
  /** Fragments the message must hold. */
  says: RegExp[];
  /** What it must not say: a key the user did not write, a raw regex, a secret. */
  never?: (RegExp | string)[];
  /** The file with the message's suggested fix applied (taken from the message itself), and what it then loads as. */
  fixed?: (message: string) => { yaml: string; env?: Record<string, string>; check?: (loaded: LoadedConfig) => boolean };
}

/** The text after `pattern` in the message: the fix it suggests, as written. */
const suggested = (message: string, pattern: RegExp): string => {
  const m = pattern.exec(message);
  if (!m) throw new Error(`no suggestion matching ${pattern} in: ${message}`);
  return m[1];
};

const FLOW = 'flowinfo: {kind: ndtwin, kernel: "http://127.0.0.1:9", data: flow';
const SECRET = 's3cr3t-Value-42';

const rows: Row[] = [
  {
    name: 'interval longer than the default window',
    yaml: `streams:\n  ${FLOW}, interval: 10m}\n`,
    says: [/streams\.flowinfo\.interval: got 10m, longer than the window \(5m, the default of output\.window\); a window must hold at least one record/, /set window: 10m \(or longer\) on stream flowinfo, or output\.window: 10m \(or longer\) for every stream/],
    never: [/streams\.flowinfo\.window/],
    fixed: (m) => ({ yaml: `streams:\n  ${FLOW}, interval: 10m, ${suggested(m, /set (window: \S+)/)}}\n`, check: (l) => l.streams[0].timing.windowMs === 600_000 }),
  },
  {
    name: 'interval longer than the default window, fixed in output.window',
    yaml: `streams:\n  ${FLOW}, interval: 10m}\n`,
    says: [/or output\.window: 10m/],
    fixed: (m) => ({ yaml: `output: {window: ${suggested(m, /output\.window: (\S+)/)}}\nstreams:\n  ${FLOW}, interval: 10m}\n`, check: (l) => l.streams[0].timing.windowMs === 600_000 }),
  },
  {
    name: 'defaults.interval longer than the default window',
    yaml: `defaults: {interval: 10m}\nstreams:\n  ${FLOW}}\n`,
    says: [/defaults\.interval: got 10m, longer than the window \(5m, the default of output\.window\)/],
    never: [/streams\.flowinfo\.(window|interval)/],
    fixed: (m) => ({ yaml: `defaults: {interval: 10m}\noutput: {window: ${suggested(m, /output\.window: (\S+)/)}}\nstreams:\n  ${FLOW}}\n` }),
  },
  {
    name: 'a size without its B',
    yaml: `streams:\n  ${FLOW}, max_body_size: 64M}\n`,
    says: [/streams\.flowinfo\.max_body_size: got "64M" \(a string\); expected a size such as 64MB/, /e\.g\. max_body_size: 64MB/],
    never: [/pattern|\\s\*|\^/],
    fixed: (m) => ({ yaml: `streams:\n  ${FLOW}, ${suggested(m, /e\.g\. (max_body_size: \S+)/)}}\n`, check: (l) => l.streams[0].options.max_body_size === 64 * 1024 ** 2 }),
  },
  {
    name: 'min_free with a unit nsr does not read',
    yaml: `output: {min_free: 2G}\nstreams:\n  ${FLOW}}\n`,
    says: [/output\.min_free: got "2G" \(a string\); expected a size such as 64MB.*, or a share of the file system such as 5%/, /e\.g\. min_free: 2GB$/],
    never: [/pattern|\\s\*|\^/, /min_free: 5%/],
    fixed: (m) => ({ yaml: `output: {${suggested(m, /e\.g\. (min_free: \S+)/)}}\nstreams:\n  ${FLOW}}\n`, check: (l) => l.config.output.min_free?.bytes === 2 * 1024 ** 3 }),
  },
  {
    name: 'min_free as a word',
    yaml: `output: {min_free: 5 percent}\nstreams:\n  ${FLOW}}\n`,
    says: [/output\.min_free: got "5 percent" \(a string\); expected a size such as 64MB.*, or a share of the file system such as 5%/, /e\.g\. min_free: 2GB or min_free: 5%/],
    never: [/pattern|\\s\*|\^/],
    fixed: (m) => ({ yaml: `output: {${suggested(m, /or (min_free: \S+)/)}}\nstreams:\n  ${FLOW}}\n`, check: (l) => l.config.output.min_free?.percent === 5 }),
  },
  {
    name: 'min_free of more than 99%',
    yaml: `output: {min_free: 150%}\nstreams:\n  ${FLOW}}\n`,
    says: [/output\.min_free: got "150%" \(a string\); expected a share of the file system from 0% to 99%/, /e\.g\. min_free: 5%/],
    fixed: (m) => ({ yaml: `output: {${suggested(m, /e\.g\. (min_free: \S+)/)}}\nstreams:\n  ${FLOW}}\n`, check: (l) => l.config.output.min_free?.percent === 5 }),
  },
  {
    name: 'streams written as a list',
    yaml: 'streams:\n  - {kind: ndtwin, data: flow}\n',
    says: [/streams: got a list; expected a mapping of stream name → stream settings/, /without a leading "- "/, /e\.g\.\n +streams:\n +flowinfo: \{kind: ndtwin, data: flow\}/],
    never: [/expected record/],
    fixed: (m) => ({ yaml: `${suggested(m, /e\.g\.\n((?:.*\n?)+)$/).replace(/^ {2}/gm, '')}\n`, check: (l) => l.streams.length === 2 }),
  },
  {
    name: 'a control token written as a number',
    yaml: `control: {token: 12345}\nstreams:\n  ${FLOW}}\n`,
    says: [/control\.token: got a number \(not shown: it is a secret\); a token must be a string: quote it/, /token: "\$\{NSR_CONTROL_TOKEN\}"/],
    never: ['12345', /got a string/, /expected string/],
    fixed: (m) => ({ yaml: `control: {${suggested(m, /better keep it out of the file: (token: "\$\{\w+\}")/)}}\nstreams:\n  ${FLOW}}\n`, env: { NSR_CONTROL_TOKEN: 'a-real-token' }, check: (l) => l.control.token === 'a-real-token' }),
  },
  {
    name: 'a zero interval',
    yaml: `streams:\n  ${FLOW}, interval: 0s}\n`,
    says: [/streams\.flowinfo\.interval: got 0ms; expected a positive duration, e\.g\. interval: 1s/],
    never: [/timeout/],
    fixed: (m) => ({ yaml: `streams:\n  ${FLOW}, ${suggested(m, /e\.g\. (interval: \S+)/)}}\n`, check: (l) => l.streams[0].timing.intervalMs === 1000 }),
  },
  {
    name: 'an interval nsr cannot keep (1 ms)',
    yaml: `streams:\n  ${FLOW}, interval: 1ms}\n`,
    says: [/streams\.flowinfo\.interval: got 1ms; expected at least 2ms/, /e\.g\. interval: 1s/],
    never: [/timeout: 1ms/],
    fixed: (m) => ({ yaml: `streams:\n  ${FLOW}, ${suggested(m, /e\.g\. (interval: \S+)/)}}\n` }),
  },
  {
    name: 'retries as a word',
    yaml: `streams:\n  ${FLOW}, retries: two}\n`,
    says: [/streams\.flowinfo\.retries: got "two" \(a string\); expected a whole number from 0 to 10/, /e\.g\. retries: 2/],
    fixed: (m) => ({ yaml: `streams:\n  ${FLOW}, ${suggested(m, /e\.g\. (retries: \S+)/)}}\n`, check: (l) => l.streams[0].timing.retries === 2 }),
  },
  {
    name: 'a port in quotes',
    yaml: `control: {port: "9465"}\nstreams:\n  ${FLOW}}\n`,
    says: [/control\.port: got "9465" \(a string\); expected a whole number from 0 to 65535, written without quotes/, /e\.g\. port: 9465/],
    fixed: (m) => ({ yaml: `control: {${suggested(m, /e\.g\. (port: \S+)/)}}\nstreams:\n  ${FLOW}}\n`, check: (l) => l.control.port === 9465 }),
  },
  {
    name: 'enabled: yes (text in YAML 1.2)',
    yaml: `streams:\n  ${FLOW}, enabled: yes}\n`,
    says: [/streams\.flowinfo\.enabled: got "yes" \(a string\); expected true or false/, /e\.g\. enabled: true/],
    fixed: (m) => ({ yaml: `streams:\n  ${FLOW}, ${suggested(m, /e\.g\. (enabled: \S+)/)}}\n`, check: (l) => l.streams.length === 1 }),
  },
  {
    name: 'a secret from the environment where a duration belongs',
    yaml: `streams:\n  ${FLOW}, interval: "\${NSR_TEST_SECRET}"}\n`,
    env: { NSR_TEST_SECRET: SECRET },
    says: [/streams\.flowinfo\.interval: got the value of \$\{NSR_TEST_SECRET\} \(from the environment; not shown\); expected the fetch interval such as 500ms, 1s or 5m/],
    never: [SECRET],
  },
  {
    name: 'a YAML alias bomb',
    yaml: ['a: &a [x, x, x, x, x, x, x, x, x]', ...'bcdefgh'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefgh'[i]}`).join(', ')}]`), `streams:\n  ${FLOW}}`, ''].join('\n'),
    says: [/YAML aliases \(\*name\) expand too far/],
    never: [/ReferenceError|resource exhaustion/],
  },
  {
    name: "netbeam's ESnet interface table without table: mysql",
    yaml: `mysql: {url: "mysql://nsr@127.0.0.1:3306/esnet"}\nstreams:\n  esnet: {kind: netbeam, url: "http://127.0.0.1:9/api", track_changes: {layout: esnet}}\n`,
    says: [/streams\.esnet\.track_changes\.table: not set; layout: esnet is the ESnet collector's MySQL table/, /set table: mysql/],
    fixed: (m) => ({
      yaml: `mysql: {url: "mysql://nsr@127.0.0.1:3306/esnet"}\nstreams:\n  esnet: {kind: netbeam, url: "http://127.0.0.1:9/api", track_changes: {layout: esnet, ${suggested(m, /set (table: \w+)/)}}}\n`,
      check: (l) => (l.streams[0].options.track_changes as { table?: string }).table === 'mysql',
    }),
  },
  {
    name: 'table_name without layout: esnet',
    yaml: `streams:\n  esnet: {kind: netbeam, url: "http://127.0.0.1:9/api", track_changes: {table_name: esnet_interfaces}}\n`,
    says: [/streams\.esnet\.track_changes\.table_name: got "esnet_interfaces" \(a string\); table_name names the table of layout: esnet, and layout is nsr/, /add layout: esnet \(and table: mysql\), or remove table_name/],
  },
];

/** `nsr check -c FILE` as a process: its exit code and what it printed. */
function check(dir: string, file: string, env: Record<string, string> = {}): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [NSR, 'check', '-c', file], { cwd: dir, env: { ...process.env, ...env } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', (code) => resolve({ code, out }));
  });
}

/** The loader's verdict on a row: a ConfigError is what every command prints and exits 2 for (cli/common.ts). */
function load(yaml: string, env: Record<string, string> = {}): { configError: boolean; message: string } {
  try {
    parseConfig(yaml, 'test.yaml', env, { added: {}, removed: [] });
    return { configError: false, message: 'it loads' };
  } catch (err) {
    return { configError: err instanceof ConfigError, message: err instanceof ConfigError ? err.message : String((err as Error).stack) };
  }
}

t.test('configuration mistakes: a configuration error naming the key, the value, what is expected and a fix that loads', async (t) => {
  for (const row of rows) {
    const { configError, message } = load(row.yaml, row.env);
    t.ok(configError, `${row.name}: a configuration error, exit code 2 (${message})`);
    for (const fragment of row.says) t.match(message, fragment, `${row.name}: says ${fragment}`);
    for (const bad of row.never ?? []) t.notMatch(message, bad, `${row.name}: does not say ${bad}`);
    if (!row.fixed) continue;
    let fix;
    try {
      fix = row.fixed(message);
    } catch (err) {
      t.fail(`${row.name}: ${(err as Error).message}`);
      continue;
    }
    let loaded: LoadedConfig | undefined;
    t.doesNotThrow(() => (loaded = parseConfig(fix.yaml, 'fixed.yaml', fix.env ?? {}, { added: {}, removed: [] })), `${row.name}: the suggested fix loads:\n${fix.yaml}`);
    if (loaded && fix.check) t.ok(fix.check(loaded), `${row.name}: the fixed file means what the fix says`);
  }
});

t.test('as a user sees them: nsr check exits 2 with the message and no stack trace', async (t) => {
  // A few rows through the command itself (each process costs a second on a loaded machine).
  const picked = rows.filter((r) => /alias bomb|secret from the environment|streams written as a list/.test(r.name));
  t.equal(picked.length, 3);
  const dir = tempDir(t);
  picked.forEach((row, i) => writeFileSync(path.join(dir, `case${i}.yaml`), row.yaml));
  const results = await Promise.all(picked.map((row, i) => check(dir, `case${i}.yaml`, row.env)));
  picked.forEach((row, i) => {
    const { code, out } = results[i];
    t.equal(code, 2, `${row.name}: exit code 2 (${out.trim()})`);
    t.match(out, /^nsr: case\d\.yaml: /, `${row.name}: one message naming the file`);
    t.notMatch(out, /\n\s+at /, `${row.name}: no stack trace`);
    for (const fragment of row.says) t.match(out, fragment, `${row.name}: says ${fragment}`);
    for (const bad of row.never ?? []) t.notMatch(out, bad, `${row.name}: does not say ${bad}`);
  });
});

t.test('the original recorder settings with request_interval: 0.001 load, with a warning saying what nsr does instead', async (t) => {
  const legacy = 'Recorder:\n  data:\n    ndtwin_kernel: "http://127.0.0.1:9"\n    request_interval: 0.001\n    storage_interval: 1\n';
  const loaded = parseConfig(legacy, 'recorder_setting.yaml', {}, { added: {}, removed: [] });
  t.same(
    loaded.streams.map((s) => [s.name, s.timing.intervalMs, s.timing.timeoutMs, s.timing.windowMs]),
    [
      ['flowinfo', 2, 1, 60_000],
      ['graphinfo', 2, 1, 60_000],
    ],
    "raised to nsr's shortest interval, with a timeout shorter than it",
  );
  t.match(loaded.warnings.join('\n'), /Recorder\.data\.request_interval: 0\.001 s is shorter than nsr's shortest interval \(2 ms/);
  // An interval nsr can keep is taken as it is, with the usual timeout (80%).
  const tenth = parseConfig(legacy.replace('0.001', '0.1'), 'recorder_setting.yaml', {}, { added: {}, removed: [] });
  t.same([tenth.streams[0].timing.intervalMs, tenth.streams[0].timing.timeoutMs, tenth.warnings], [100, 80, []]);

  // What a user sees: `nsr check` reads the file (the kernel is not there: its fetch fails, exit 1, not 2).
  const dir = tempDir(t);
  writeFileSync(path.join(dir, 'recorder_setting.yaml'), legacy);
  const r = await check(dir, 'recorder_setting.yaml');
  t.equal(r.code, 1, r.out);
  t.match(r.out, /recorder_setting\.yaml: valid \(the original recorder settings format\); 2 streams/);
  t.match(r.out, /^warning: .*request_interval: 0\.001 s is shorter than nsr's shortest interval/m);
  t.notMatch(r.out, /not shorter than the interval/);
});

t.test('a secret a stream added at run time reads, put where a duration goes, is not echoed either', async (t) => {
  const env = { NSR_RT_SECRET: 'hunter2-runtime-secret' };
  const text = 'control: {runtime_secrets: [NSR_RT_SECRET]}\nstreams:\n  f: {kind: ndtwin, data: flow}\n';
  const runtime = { added: { r: { kind: 'http', url: 'http://127.0.0.1:9/x', interval: '${NSR_RT_SECRET}' } }, removed: [] };
  const err = (() => {
    try {
      parseConfig(text, 'r.yaml', env, runtime);
    } catch (e) {
      return e as Error;
    }
  })();
  t.ok(err instanceof ConfigError, 'refused as a configuration error');
  t.match(err!.message, /streams\.r\.interval: got the value of \$\{NSR_RT_SECRET\}/, 'names the reference');
  t.notMatch(err!.message, /hunter2/, 'never the value');
});
