// Configuration: defaults, the legacy format, and errors that name the path, the value and the fix.
import t from 'tap';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig, parseConfig } from '../src/config/loader.js';
import { ConfigError } from '../src/config/errors.js';
import { configJsonSchema } from '../src/config/schema.js';
import { ROOT, tempDir } from './helpers.js';

const errorOf = (yaml: string, env: NodeJS.ProcessEnv = {}) => {
  try {
    parseConfig(yaml, 'test.yaml', env);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  return 'no error';
};

const STREAMS = 'streams:\n  flowinfo: {kind: ndtwin, data: flow}\n';

t.test('every example in setting/examples/ is valid with no secret set', async (t) => {
  const dir = path.join(ROOT, 'setting', 'examples');
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
  t.ok(files.length >= 3);
  for (const f of files) {
    const { streams } = parseConfig(readFileSync(path.join(dir, f), 'utf8'), f, {}, { added: {}, removed: [] });
    t.ok(streams.length > 0, `${f}: ${streams.map((s) => `${s.name} (${s.kind})`).join(', ')}`);
  }
});

t.test('the shipped setting/recorder.yaml is valid and records flow and graph at 1 s in 5 min windows', async (t) => {
  const { streams, config } = loadConfig(path.join(ROOT, 'setting', 'recorder.yaml'));
  t.same(streams.map((s) => [s.name, s.kind, s.timing.intervalMs, s.timing.windowMs]), [
    ['flowinfo', 'ndtwin', 1000, 300_000],
    ['graphinfo', 'ndtwin', 1000, 300_000],
  ]);
  t.equal(streams[0].timing.timeoutMs, 800, 'timeout defaults to 80% of the interval');
  t.equal(config.output.dir, 'recorded_info');
  t.equal(config.compression.level, 4);
});

t.test('the published JSON Schema is up to date', async (t) => {
  const published = JSON.parse(readFileSync(path.join(ROOT, 'setting', 'recorder.schema.json'), 'utf8'));
  t.same(published, configJsonSchema(), 'setting/recorder.schema.json is stale: run `npm run schema`');
});

t.test('durations and sizes in human units', async (t) => {
  const { streams, config } = parseConfig(`output: {window: 2m, max_window_size: 64MB}\nstreams:\n  f: {kind: ndtwin, data: flow, interval: 500ms, timeout: 0.3s}\n`, 'x');
  t.same(streams[0].timing, { intervalMs: 500, timeoutMs: 300, windowMs: 120_000, retries: 2 });
  t.equal(config.output.max_window_size, 64 * 1024 * 1024);
  const big = parseConfig(`queue: {max_bytes: 1TB}\nstreams:\n  f: {kind: ndtwin, data: flow}\n`, 'x');
  t.equal(big.config.queue.max_bytes, 1024 ** 4, 'TB');
});

t.test('output.min_free: bytes or a share of the file system; off unless set', async (t) => {
  const minFree = (v: string) => parseConfig(`output: {min_free: ${v}}\nstreams:\n  f: {kind: ndtwin, data: flow}\n`, 'x').config.output.min_free;
  t.equal(parseConfig(`streams:\n  f: {kind: ndtwin, data: flow}\n`, 'x').config.output.min_free, undefined, 'off by default');
  t.same(minFree('2GB'), { bytes: 2 * 1024 ** 3 });
  t.same(minFree('1.5TB'), { bytes: 1.5 * 1024 ** 4 });
  t.same(minFree('1073741824'), { bytes: 1024 ** 3 });
  t.same(minFree('"5%"'), { percent: 5 });
  t.same(minFree('"0.5 %"'), { percent: 0.5 });
  t.same(minFree('"99%"'), { percent: 99 });
});

t.test('environment variables are substituted, and a missing one is named', async (t) => {
  const ok = parseConfig(`streams:\n  f: {kind: http, url: "\${BASE}/x", headers: {authorization: "Bearer \${TOKEN}"}}\n`, 'x', { BASE: 'http://h:1', TOKEN: 's3cret' });
  t.equal(ok.streams[0].options.url, 'http://h:1/x');
  t.match(errorOf(`streams:\n  f: {kind: http, url: "\${NOPE}/x"}\n`), /streams\.f\.url: the environment variable NOPE is not set/);
  t.equal(parseConfig(`streams:\n  f: {kind: http, url: "\${NOPE:-http://d:2}/x"}\n`, 'x', {}).streams[0].options.url, 'http://d:2/x');
});

t.test('the original recorder settings file is accepted as is', async (t) => {
  const loaded = parseConfig(`Recorder:\n  data:\n    ndtwin_kernel: "http://10.1.1.1:8000"\n    request_interval: 0.5\n    storage_interval: 0.25\n    log_level: "WARNING"\n    display_on_console: false\n`, 'recorder_setting.yaml');
  t.ok(loaded.legacy);
  t.same(loaded.streams.map((s) => [s.name, s.timing.intervalMs, s.timing.windowMs]), [['flowinfo', 500, 15_000], ['graphinfo', 500, 15_000]], 'seconds and minutes, fractions allowed');
  t.equal(loaded.streams[0].options.kernel, 'http://10.1.1.1:8000');
  t.equal(loaded.config.output.dir, 'recorded_info');
  t.same([loaded.config.log.level, loaded.config.log.console], ['warn', false]);
  t.match(errorOf('Recorder:\n  data:\n    request_interval: -1\n'), /Recorder\.data\.request_interval: got -1; expected a positive number of seconds/);
});

t.test('bad input: each error names the path, the value and what is expected', async (t) => {
  const cases: [string, string, RegExp][] = [
    ['broken YAML', 'streams:\n  f: {kind: ndtwin, data: flow\n', /test\.yaml:\d+:\d+: the file is not valid YAML/],
    ['empty file', '', /the file is empty/],
    ['not a mapping', '- a\n- b\n', /expected a mapping with a `streams:` section/],
    ['no streams', 'output: {dir: x}\n', /streams: missing/],
    ['unknown top-level key', `outptu: {dir: x}\n${STREAMS}`, /\(top level\): unknown key "outptu"/],
    ['unknown stream key', 'streams:\n  f: {kind: ndtwin, data: flow, intervall: 1s}\n', /streams\.f: unknown key "intervall"/],
    ['unknown stream kind', 'streams:\n  f: {kind: snmp}\n', /streams\.f\.kind: unknown stream kind "snmp"; expected one of ndtwin, http/],
    ['missing kind', 'streams:\n  f: {data: flow}\n', /streams\.f: the stream has no `kind`/],
    ['wrong type', `output: {window: 5}\n${STREAMS}`, /output\.window: got 5 \(a number\); expected the default window length such as 500ms, 1s or 5m/],
    ['bad duration', 'streams:\n  f: {kind: ndtwin, data: flow, interval: fast}\n', /streams\.f\.interval: got "fast" \(a string\); expected the fetch interval such as 500ms/],
    ['bad enum', 'streams:\n  f: {kind: ndtwin, data: flows}\n', /streams\.f\.data: got "flows"/],
    ['bad url', 'streams:\n  f: {kind: ndtwin, data: flow, kernel: "ftp://x"}\n', /streams\.f\.kernel: got "ftp:\/\/x" \(a string\); expected an http:\/\/ or https:\/\/ URL/],
    ['timeout not shorter than interval', 'streams:\n  f: {kind: ndtwin, data: flow, interval: 1s, timeout: 1s}\n', /streams\.f\.timeout: got 1s, not shorter than the interval \(1s\).*e\.g\. timeout: 800ms/],
    ['zero interval', 'streams:\n  f: {kind: ndtwin, data: flow, interval: 0s}\n', /streams\.f\.interval: got 0ms; expected a positive duration/],
    ['window shorter than interval', 'streams:\n  f: {kind: ndtwin, data: flow, interval: 10s, window: 5s}\n', /streams\.f\.window: got 5s, shorter than the interval \(10s\)/],
    ['duplicate stream names', 'streams:\n  f: {kind: ndtwin, data: flow}\n  f: {kind: ndtwin, data: graph}\n', /not valid YAML: Map keys must be unique.*each stream name and setting may appear once/],
    ['name escaping the output directory', 'streams:\n  "../etc": {kind: ndtwin, data: flow}\n', /streams\.\.\.\/etc: .*a stream name must be 1-64 characters/],
    ['reserved name', 'streams:\n  events: {kind: ndtwin, data: flow}\n', /streams\.events: the name "events" is reserved/],
    ['window size a zip cannot hold', `output: {max_window_size: 5GB}\n${STREAMS}`, /output\.max_window_size: got 5368709120 bytes; at most 3GB/],
    ['compression level out of range', `compression: {level: 12}\n${STREAMS}`, /compression\.level: got 12 \(a number\); .*<=9/],
  ];
  for (const [name, yaml, expected] of cases) t.match(errorOf(yaml), expected, name);
});

t.test('a missing config file says how to get one', async (t) => {
  const dir = tempDir(t);
  t.throws(() => loadConfig(path.join(dir, 'nope.yaml')), { message: /config file .*nope\.yaml not found: create it/ });
  writeFileSync(path.join(dir, 'ok.yaml'), STREAMS);
  t.equal(loadConfig(path.join(dir, 'ok.yaml')).streams.length, 1);
});
