// The original recorder's setting/recorder_setting.yaml, run by bin/nsr: keys it
// leaves out take the original code's defaults (1 s, 5 minutes, INFO), and
// display_on_console: false logs only into logs/NSR_<date>.log, as the original does.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseConfig } from '../src/config/loader.js';
import { NSR, readEvents, simulatorWithConfig, startNsr, tempDir } from './helpers.js';

const localDate = (d = new Date()) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
const NO_RUNTIME = { added: {}, removed: [] };

/** `nsr check` as a process: its exit code and what it printed. */
function check(cwd: string, file: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [NSR, 'check', '-c', file], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', (code) => resolve({ code, out }));
  });
}

t.test('keys left out take the defaults of the original code: request_interval 1 s, storage_interval 5 min, log_level INFO, console on', async (t) => {
  const loaded = parseConfig('Recorder:\n  data: {}\n', 'recorder_setting.yaml', {}, NO_RUNTIME);
  t.same(
    loaded.streams.map((s) => [s.name, s.timing.intervalMs, s.timing.windowMs]),
    [
      ['flowinfo', 1000, 300_000],
      ['graphinfo', 1000, 300_000],
    ],
  );
  t.same(loaded.config.log, { level: 'info', console: true, keep: 5 });
  t.equal(loaded.streams[0].options.kernel, 'http://127.0.0.1:8000', "the original's default kernel");
  // The original's shipped file sets 5 s and 2 minutes: those values, not the defaults, apply.
  const shipped = parseConfig('Recorder:\n  data:\n    ndtwin_kernel: "http://127.0.0.1:8000"\n    request_interval: 5\n    storage_interval: 2\n    display_on_console: true\n    log_level: "DEBUG"\n', 'recorder_setting.yaml', {}, NO_RUNTIME);
  t.same([shipped.streams[0].timing.intervalMs, shipped.streams[0].timing.windowMs, shipped.config.log.level], [5000, 120_000, 'debug']);
});

t.test('display_on_console: false maps to logs/NSR_{date}.log, console off, no day ever deleted (the original sets no retention)', async (t) => {
  for (const value of ['false', '0', '']) {
    const loaded = parseConfig(`Recorder:\n  data:\n    display_on_console: ${value}\n`, 'recorder_setting.yaml', {}, NO_RUNTIME);
    t.same(loaded.config.log, { level: 'info', console: false, file: 'logs/NSR_{date}.log', keep: 'all' }, `display_on_console: ${value || '(empty: None in Python, false)'}`);
  }
});

t.test('bin/nsr: a legacy file without the interval and level keys records every 1 s into 5-minute windows, logging at INFO', async (t) => {
  const dir = tempDir(t);
  await simulatorWithConfig(t, dir, (url) => `Recorder:\n  data:\n    ndtwin_kernel: "${url}"\n`);
  const checked = await check(dir, 'r.yaml');
  t.equal(checked.code, 0, checked.out);
  t.match(checked.out, /^settings: request_interval 1 s \(default\), storage_interval 5 min \(default\), log_level INFO \(default\), display_on_console true \(default\): logging to the console$/m);

  const nsr = startNsr(dir, ['run', '-c', 'r.yaml', '--for', '2500ms']);
  t.equal((await nsr.exit).code, 0, nsr.output().slice(-800));
  const start = (await readEvents(path.join(dir, 'recorded_info'))).find((e) => e.event === 'start');
  t.same(
    [start?.streams?.flowinfo?.interval_ms, start?.streams?.flowinfo?.window_ms, start?.streams?.graphinfo?.interval_ms, start?.window_ms],
    [1000, 300_000, 1000, 300_000],
    'the start event: 1 s ticks, 5-minute windows',
  );
  const lines = nsr
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { level: number; msg: string });
  t.ok(lines.some((l) => l.level === 30 && /reading the original recorder settings format/.test(l.msg)), 'info lines are logged');
  // The windows compressed at stop are logged at debug: a DEBUG default would show them.
  t.same(lines.filter((l) => l.level < 30).map((l) => l.msg), [], 'nothing below INFO');
});

t.test('bin/nsr: display_on_console: false prints nothing; the log lines land in logs/NSR_<date>.log under the working directory', async (t) => {
  const dir = tempDir(t);
  mkdirSync(path.join(dir, 'setting'));
  mkdirSync(path.join(dir, 'logs'));
  // A day the original logged long ago stays.
  writeFileSync(path.join(dir, 'logs', 'NSR_2024-01-01.log'), 'a line of the original\n');
  const { url } = await simulatorWithConfig(t, dir, () => '');
  writeFileSync(path.join(dir, 'setting', 'recorder_setting.yaml'), `Recorder:\n  data:\n    ndtwin_kernel: "${url}"\n    request_interval: 0.5\n    storage_interval: 1\n    display_on_console: false\n    log_level: "INFO"\n`);
  const before = localDate();
  // No -c: as the original, nsr finds setting/recorder_setting.yaml in the working directory.
  const nsr = startNsr(dir, ['run', '--for', '2s']);
  const { code } = await nsr.exit;
  const after = localDate();
  t.equal(code, 0);
  t.equal(nsr.output(), '', 'nothing on stdout or stderr');
  const logs = readdirSync(path.join(dir, 'logs')).sort();
  const today = logs.find((n) => n === `NSR_${before}.log` || n === `NSR_${after}.log`);
  t.ok(today, `today's file among ${logs.join(', ')}`);
  t.ok(logs.includes('NSR_2024-01-01.log'), "the original's old log stays");
  const lines = readFileSync(path.join(dir, 'logs', today!), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { msg: string; settings?: string });
  t.match(lines[0]?.msg, /reading the original recorder settings format/);
  t.match(lines[0]?.settings, /display_on_console false: logging to logs\/NSR_\{date\}\.log only/);
  t.ok(lines.some((l) => /^stopped/.test(l.msg)), 'the stop is logged there too');
  t.ok(readdirSync(path.join(dir, 'recorded_info')).some((f) => f.endsWith('_flowinfo_json.zip')), 'records in ./recorded_info');
});
