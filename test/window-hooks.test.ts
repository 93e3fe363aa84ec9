// The on_window command: what it is given (argument, environment, metadata on stdin,
// working directory), retries with back-off until it succeeds, its time limit (the
// whole process group), its concurrency and order, stop, the list form without a
// shell, and the configuration's errors. Real processes; every wait is for a condition.
import t from 'tap';
import { existsSync, readFileSync, realpathSync, writeFileSync, chmodSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { createLogger } from '../src/logging/logger.js';
import type { EventLevel } from '../src/logging/note-event.js';
import { hookArgv, onWindowSchema, windowHookFor, type WindowHookSettings } from '../src/config/on-window.js';
import { WindowHooks, backoff, type HookWindow } from '../src/pipeline/window-hooks.js';
import { stderrText } from '../src/pipeline/hook-process.js';
import { parseConfig } from '../src/config/loader.js';
import { ConfigError } from '../src/config/errors.js';
import { configJsonSchema } from '../src/config/schema.js';
import { sleep, tempDir } from './helpers.js';

interface Noted {
  event: string;
  fields: Record<string, any>;
  level: EventLevel;
  at: number;
}

const settings = (raw: unknown): WindowHookSettings => onWindowSchema.parse(raw);

function harness(t: Tap.Test, settingsFor: (stream: string) => WindowHookSettings | undefined) {
  const events: Noted[] = [];
  const successes: HookWindow[] = [];
  const hooks = new WindowHooks({
    settingsFor,
    note: (event, fields, level = 'info') => events.push({ event, fields, level, at: Date.now() }),
    log: createLogger({ level: 'silent', console: false }),
    onSuccess: (w) => successes.push(w),
  });
  t.teardown(() => hooks.stop(200));
  const named = (event: string) => events.filter((e) => e.event === event);
  return { hooks, events, successes, named };
}

let counter = 0;
/** A (fake) zip in `dir`: the runner only needs it to exist. */
function zipIn(dir: string, stream = 'flowinfo', exists = true): HookWindow {
  const n = counter++;
  const start = Date.UTC(2026, 0, 1, 0, n * 5);
  const file = `2026_01_01_00-${String((n * 5) % 60).padStart(2, '0')}-00_${stream}_${n}_json.zip`;
  const full = path.join(dir, file);
  if (exists) writeFileSync(full, 'PK not really');
  return { stream, file, path: full, records: 60 + n, first: start + 10, last: start + 299_000, bytes: 123_456 + n, zipBytes: 7_890 + n, windowStart: start };
}

async function until(what: string, ok: () => boolean, ms = 30_000): Promise<void> {
  for (const end = Date.now() + ms; !ok(); await sleep(20)) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
  }
}

/** Gone, or a zombie nobody has reaped yet (it runs no more). */
function dead(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    return /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

function pidIn(file: string): number {
  const pid = Number(readFileSync(file, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 1) throw new Error(`no pid in ${file}`);
  return pid;
}
const written = (file: string) => existsSync(file) && readFileSync(file, 'utf8').trim() !== '';

t.test('a shell command line gets the zip as $1, the NSR_* variables, the metadata on stdin, the output directory as cwd', async (t) => {
  const dir = tempDir(t);
  process.env.NSR_HOOK_TEST_INHERITED = 'inherited';
  t.teardown(() => delete process.env.NSR_HOOK_TEST_INHERITED);
  const s = settings('printf "%s" "$1" > "$NSR_FILE.arg"; env | grep "^NSR_" | sort > "$NSR_FILE.env"; cat > "$NSR_FILE.stdin"; pwd -P > "$NSR_FILE.cwd"; printf "%s" "$0" > "$NSR_FILE.name"');
  t.equal(s.shell, true);
  const { hooks, successes, named } = harness(t, () => s);
  const w = zipIn(dir);
  hooks.submit(w);
  t.ok(hooks.isPending(w.file), 'pending as soon as submitted');
  t.equal(hooks.pendingCount, 1);
  await until('the success', () => successes.length === 1);
  const read = (ext: string) => readFileSync(path.join(dir, `${w.file}.${ext}`), 'utf8');
  t.equal(read('arg'), w.path, '"$1" is the absolute zip path');
  t.equal(read('name'), 'nsr-on-window', '$0 names the hook');
  t.equal(read('cwd').trim(), realpathSync(dir), 'run in the output directory');
  const env = Object.fromEntries(read('env').trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  t.same(env, {
    NSR_ATTEMPT: '1',
    NSR_BYTES: String(w.bytes),
    NSR_FILE: w.file,
    NSR_FIRST: String(w.first),
    NSR_HOOK_TEST_INHERITED: 'inherited',
    NSR_LAST: String(w.last),
    NSR_RECORDS: String(w.records),
    NSR_STREAM: 'flowinfo',
    NSR_WINDOW_PATH: w.path,
    NSR_WINDOW_START: String(w.windowStart),
    NSR_ZIP_BYTES: String(w.zipBytes),
  }, 'every variable, and the rest of the environment inherited');
  t.same(JSON.parse(read('stdin')), { stream: 'flowinfo', file: w.file, path: w.path, records: w.records, first: w.first, last: w.last, bytes: w.bytes, zip_bytes: w.zipBytes, window_start: w.windowStart, attempt: 1 }, 'the metadata as one JSON object on stdin');
  t.same(successes, [w], 'onSuccess once, with the window');
  const done = named('window_hook_done');
  t.equal(done.length, 1);
  t.match(done[0], { level: 'info', fields: { stream: 'flowinfo', file: w.file, attempts: 1, ms: Number } });
  t.notOk(hooks.isPending(w.file), 'no longer pending');
  t.equal(hooks.pendingCount, 0);
});

t.test('a failing command is tried again after initial, then twice as long; success then counts the tries', async (t) => {
  const dir = tempDir(t);
  const s = settings({
    command: 'echo "$NSR_ATTEMPT $(date +%s%3N)" >> tries; n=$(wc -l < tries); if [ "$n" -lt 3 ]; then echo "upload refused: try $n ✓" >&2; exit 7; fi',
    retry: { initial: '200ms', max: '300ms' },
  });
  const { hooks, successes, named } = harness(t, () => s);
  const w = zipIn(dir);
  hooks.submit(w);
  await until('the first failure', () => named('window_hook_failed').length === 1);
  t.ok(hooks.isPending(w.file), 'pending while it fails');
  t.equal(successes.length, 0);
  await until('the success', () => successes.length === 1);
  const failed = named('window_hook_failed');
  t.same(
    failed.map((f) => [f.level, f.fields.attempt, f.fields.exit_code, f.fields.signal, f.fields.timed_out, f.fields.stderr, f.fields.retry_in_ms]),
    [
      ['warn', 1, 7, null, false, 'upload refused: try 1 ✓', 200],
      ['warn', 2, 7, null, false, 'upload refused: try 2 ✓', 300],
    ],
    'each failure: its try, exit code, stderr and the wait (initial, then doubled, capped at max)',
  );
  t.notOk('error' in failed[0].fields, 'no spawn error');
  const tries = readFileSync(path.join(dir, 'tries'), 'utf8').trim().split('\n').map((l) => l.split(' ').map(Number));
  t.same(tries.map((x) => x[0]), [1, 2, 3], 'NSR_ATTEMPT counts the tries');
  t.ok(tries[1][1] - tries[0][1] >= 195, `the second try waited the initial back-off (${tries[1][1] - tries[0][1]} ms)`);
  t.ok(tries[2][1] - tries[1][1] >= 295, `the third waited the doubled one, capped at max (${tries[2][1] - tries[1][1]} ms)`);
  t.match(named('window_hook_done'), [{ fields: { file: w.file, attempts: 3 } }]);
  t.equal(successes.length, 1, 'onSuccess once');
  t.notOk(hooks.isPending(w.file));
  await hooks.stop(200);
  t.equal(successes.length, 1, 'and never again');
});

t.test('a command that cannot be started is a failure with its reason; from the 5th failure in a row an error', async (t) => {
  const dir = tempDir(t);
  const s = settings({ command: [path.join(dir, 'no-such-program')], retry: { initial: '10ms', max: '20ms' } });
  const { hooks, named } = harness(t, () => s);
  const w = zipIn(dir);
  hooks.submit(w);
  await until('six failures', () => named('window_hook_failed').length >= 6);
  const failed = named('window_hook_failed');
  t.match(failed[0].fields, { stream: 'flowinfo', file: w.file, attempt: 1, exit_code: null, signal: null, timed_out: false, stderr: '', error: /^ENOENT/ });
  t.notMatch(JSON.stringify(failed), /no-such-program/, 'the command line is not in the event');
  t.same(failed.slice(0, 6).map((f) => f.level), ['warn', 'warn', 'warn', 'warn', 'error', 'error']);
  t.ok(hooks.isPending(w.file), 'still pending: tried for as long as nsr runs');
});

t.test('a hanging command is cut at its timeout with everything it started (SIGTERM to the group)', async (t) => {
  const dir = tempDir(t);
  const s = settings({ command: 'echo $$ > leader.pid; sleep 100 & echo $! > child.pid; sleep 100', timeout: '300ms', retry: { initial: '1h', max: '1h' } });
  const { hooks, named } = harness(t, () => s);
  hooks.submit(zipIn(dir));
  await until('the timeout', () => named('window_hook_failed').length === 1);
  t.match(named('window_hook_failed')[0].fields, { attempt: 1, timed_out: true, exit_code: null, signal: 'SIGTERM', retry_in_ms: 3_600_000 });
  const leader = pidIn(path.join(dir, 'leader.pid'));
  const child = pidIn(path.join(dir, 'child.pid'));
  await until('the command and its background sleep to be gone', () => dead(leader) && dead(child), 10_000);
  t.pass('no sleep survives');
});

t.test('a command that ignores SIGTERM is killed 5 s later (SIGKILL to the group)', async (t) => {
  const dir = tempDir(t);
  const s = settings({ command: 'trap "" TERM; sleep 100 & echo $! > child.pid; sleep 100', timeout: '200ms', retry: { initial: '1h', max: '1h' } });
  const { hooks, named } = harness(t, () => s);
  const started = Date.now();
  hooks.submit(zipIn(dir));
  await until('the kill', () => named('window_hook_failed').length === 1, 20_000);
  t.match(named('window_hook_failed')[0].fields, { timed_out: true, signal: 'SIGKILL' });
  t.ok(Date.now() - started >= 5000, 'after the 5 s grace');
  const child = pidIn(path.join(dir, 'child.pid'));
  await until('the background sleep to be gone', () => dead(child), 10_000);
  t.pass('its child is gone too');
});

t.test('at most `concurrency` at once per settings, in submission order; other settings run beside them', async (t) => {
  const dir = tempDir(t);
  const script = 'echo "+ $NSR_FILE" | tee -a log-all >> "log-$NSR_STREAM"; sleep 1; echo "- $NSR_FILE" | tee -a log-all >> "log-$NSR_STREAM"';
  const two = settings({ command: script, concurrency: 2 });
  const one = settings({ command: `${script} # other settings` });
  const { hooks, successes } = harness(t, (stream) => (stream === 'flowinfo' ? two : one));
  const flows = Array.from({ length: 5 }, () => zipIn(dir, 'flowinfo'));
  const graphs = Array.from({ length: 3 }, () => zipIn(dir, 'graphinfo'));
  for (let i = 0; i < 5; i++) {
    hooks.submit(flows[i]);
    if (graphs[i]) hooks.submit(graphs[i]);
  }
  t.equal(hooks.pendingCount, 8);
  await until('all eight', () => successes.length === 8, 60_000);
  const log = (stream: string) => readFileSync(path.join(dir, `log-${stream}`), 'utf8').trim().split('\n');
  const most = (lines: string[]) => {
    let running = 0;
    let max = 0;
    for (const l of lines) max = Math.max(max, (running += l.startsWith('+') ? 1 : -1));
    return max;
  };
  t.equal(most(log('flowinfo')), 2, 'two at once, never more');
  t.equal(most(log('graphinfo')), 1, 'one at once for the other settings');
  const starts = (stream: string) => log(stream).filter((l) => l.startsWith('+')).map((l) => l.slice(2));
  t.same(starts('graphinfo'), graphs.map((g) => g.file), 'one at a time: in submission order');
  t.same(new Set(starts('flowinfo').slice(0, 2)), new Set(flows.slice(0, 2).map((f) => f.file)), 'the first two submitted start first');
  t.same(starts('flowinfo').slice(2).sort(), flows.slice(2).map((f) => f.file).sort());
  const running = { flowinfo: 0, graphinfo: 0 };
  let together = false;
  for (const l of log('all')) {
    running[l.includes('_flowinfo_') ? 'flowinfo' : 'graphinfo'] += l.startsWith('+') ? 1 : -1;
    together ||= running.flowinfo > 0 && running.graphinfo > 0;
  }
  t.ok(together, 'the two settings ran at the same time');
});

t.test('a window the command always refuses holds up no other; a failing lane tries once per back-off, not once per window', async (t) => {
  const dir = tempDir(t);
  const poison = settings({ command: 'case "$NSR_FILE" in *_poison_*) exit 1;; esac; exit 0', retry: { initial: '100ms', max: '100ms' } });
  const a = harness(t, () => poison);
  const bad = zipIn(dir, 'poison');
  const good = Array.from({ length: 4 }, () => zipIn(dir, 'poison-free'));
  a.hooks.submit(bad);
  for (const g of good) a.hooks.submit(g);
  await until('every good window', () => a.successes.length === 4);
  t.ok(a.hooks.isPending(bad.file), 'the refused one is still pending');
  t.ok(a.named('window_hook_failed').every((f) => f.fields.file === bad.file));

  const down = settings({ command: 'exit 1', retry: { initial: '300ms', max: '300ms' } });
  const b = harness(t, () => down);
  for (let i = 0; i < 6; i++) b.hooks.submit(zipIn(dir));
  await until('six failures', () => b.named('window_hook_failed').length >= 6);
  const at = b.named('window_hook_failed').map((f) => f.at);
  const gaps = at.slice(1).map((x, i) => x - at[i]);
  t.ok(gaps.every((g) => g >= 280), `one try per back-off while the command fails (${gaps.join(', ')} ms apart)`);
  t.same(new Set(b.named('window_hook_failed').slice(0, 6).map((f) => f.fields.file)).size, 6, 'each window had its turn');
});

t.test('stop(): running commands are ended with their group, nothing new starts, pending windows stay pending', async (t) => {
  const dir = tempDir(t);
  const s = settings('echo $$ > "$NSR_FILE.pid"; sleep 100 & echo $! > "$NSR_FILE.child"; sleep 100');
  const { hooks, events } = harness(t, () => s);
  const [w1, w2] = [zipIn(dir), zipIn(dir)];
  hooks.submit(w1);
  hooks.submit(w2);
  await until('the first to run', () => written(path.join(dir, `${w1.file}.child`)));
  const started = Date.now();
  await hooks.stop(1000);
  t.ok(Date.now() - started < 5000, 'stop returns within its grace');
  const pids = [pidIn(path.join(dir, `${w1.file}.pid`)), pidIn(path.join(dir, `${w1.file}.child`))];
  await until('the command and its child to be gone', () => pids.every(dead), 10_000);
  t.ok(hooks.isPending(w1.file) && hooks.isPending(w2.file), 'both still pending');
  t.equal(hooks.pendingCount, 2);
  t.same(events, [], 'a stop is neither a success nor a failure');
  t.notOk(existsSync(path.join(dir, `${w2.file}.pid`)), 'the second never started');
  hooks.submit(zipIn(dir));
  t.equal(hooks.pendingCount, 3, 'a window submitted after the stop is kept pending, not run');
});

t.test('the list form runs without a shell: every argument reaches argv as written, placeholders filled in', async (t) => {
  const dir = tempDir(t);
  const bin = path.join(dir, 'bin');
  const out = path.join(dir, 'out');
  mkdirSync(bin);
  mkdirSync(out);
  const script = path.join(bin, 'argv.sh');
  writeFileSync(script, '#!/bin/sh\nfor a in "$@"; do printf \'%s\\0\' "$a"; done > "$NSR_FILE.argv"\n');
  chmodSync(script, 0o755);
  const literal = ['a b', `it's "quoted"`, '$(touch pwned)', '`touch pwned2`', '; touch pwned3', '$NSR_FILE', '*'];
  const placed = settings({ command: [script, ...literal, 'remote:{stream}/{file}', '--src={path}'] });
  const appended = settings([script, 'x']);
  const { hooks, successes } = harness(t, (stream) => (stream === 'placed' ? placed : appended));
  const w1 = zipIn(out, 'placed');
  const w2 = zipIn(out, 'appended');
  hooks.submit(w1);
  hooks.submit(w2);
  await until('both', () => successes.length === 2);
  const argv = (w: HookWindow) => readFileSync(path.join(out, `${w.file}.argv`), 'utf8').split('\0').slice(0, -1);
  t.same(argv(w1), [...literal, `remote:placed/${w1.file}`, `--src=${w1.path}`], 'as written, the path not added again');
  t.same(argv(w2), ['x', w2.path], 'without {path}, the path comes last');
  for (const f of ['pwned', 'pwned2', 'pwned3']) t.notOk(existsSync(path.join(out, f)) || existsSync(path.join(bin, f)), `no shell ran ${f}`);
});

t.test('a zip that is gone when its turn comes is skipped, not run, not pending', async (t) => {
  const dir = tempDir(t);
  const s = settings('touch "$NSR_FILE.ran"');
  const { hooks, named, successes } = harness(t, () => s);
  const w = zipIn(dir, 'flowinfo', false);
  hooks.submit(w);
  await until('the skip', () => named('window_hook_skipped').length === 1);
  t.match(named('window_hook_skipped')[0], { level: 'warn', fields: { stream: 'flowinfo', file: w.file, reason: 'zip_gone' } });
  t.notOk(hooks.isPending(w.file));
  t.equal(successes.length, 0);
  t.notOk(existsSync(path.join(dir, `${w.file}.ran`)));
});

t.test('stderr: only its last 512 bytes, whole characters, credentials in URLs hidden; a flood of stdout goes nowhere', async (t) => {
  const dir = tempDir(t);
  const s = settings({
    command: 'head -c 2000000 /dev/zero; i=0; while [ $i -lt 400 ]; do printf "é€" >&2; i=$((i+1)); done; echo >&2; echo "PUT https://u:hunter2@store.example/b?token=abc123 refused" >&2; exit 3',
    retry: { initial: '1h', max: '1h' },
  });
  const { hooks, named } = harness(t, () => s);
  hooks.submit(zipIn(dir));
  await until('the failure', () => named('window_hook_failed').length === 1);
  const { stderr, exit_code } = named('window_hook_failed')[0].fields;
  t.equal(exit_code, 3);
  t.ok(Buffer.byteLength(stderr) <= 512, `at most 512 bytes (${Buffer.byteLength(stderr)})`);
  t.ok(Buffer.byteLength(stderr) > 400, 'the tail, not nothing');
  t.notMatch(stderr, /\uFFFD/, 'no character cut in half');
  t.match(stderr, /refused$/, 'ends with the last line');
  t.notMatch(stderr, /hunter2|abc123/, 'credentials hidden');
  // Cut inside a character: the partial one at the start is dropped.
  const text = stderrText(Buffer.concat([Buffer.from('x'), Buffer.from('€'.repeat(200))]));
  t.equal(text, '€'.repeat(170), '170 whole characters of 3 bytes, no partial one');
});

t.test('streams without a command are not taken; a stream whose command was removed skips its pending windows', async (t) => {
  const dir = tempDir(t);
  let s: WindowHookSettings | undefined = settings({ command: 'exit 1', retry: { initial: '100ms', max: '100ms' } });
  const { hooks, named } = harness(t, (stream) => (stream === 'flowinfo' ? s : undefined));
  t.ok(hooks.wants('flowinfo'));
  t.notOk(hooks.wants('graphinfo'));
  const g = zipIn(dir, 'graphinfo');
  hooks.submit(g);
  t.notOk(hooks.isPending(g.file), 'no command: not queued');
  const w = zipIn(dir);
  hooks.submit(w);
  await until('a failure', () => named('window_hook_failed').length >= 1);
  s = undefined; // a reload took the command away
  await until('the skip', () => named('window_hook_skipped').length === 1);
  t.match(named('window_hook_skipped')[0].fields, { file: w.file, reason: 'hook_removed' });
  t.notOk(hooks.isPending(w.file));
});

t.test('hookArgv, back-off and the per-stream choice', async (t) => {
  const w = { path: '/out/a_json.zip', file: 'a_json.zip', stream: 's' };
  t.same(hookArgv(settings('cp "$1" /x'), w), ['/bin/sh', '-c', 'cp "$1" /x', 'nsr-on-window', '/out/a_json.zip']);
  t.same(hookArgv(settings(['up', '{stream}:{file}', '{path}.sha']), w), ['up', 's:a_json.zip', '/out/a_json.zip.sha']);
  t.same(hookArgv(settings({ command: ['up', '{file}'] }), w), ['up', 'a_json.zip', '/out/a_json.zip']);
  const s = settings({ command: 'x', retry: { initial: '10s', max: '1m' } });
  t.same([1, 2, 3, 4, 5, 100].map((n) => backoff(s, n)), [10_000, 20_000, 40_000, 60_000, 60_000, 60_000]);
  t.same(settings('x'), { shell: true, command: ['/bin/sh', '-c', 'x', 'nsr-on-window'], timeoutMs: 600_000, retryInitialMs: 10_000, retryMaxMs: 1_800_000, concurrency: 1 }, 'the defaults');
  const out = settings('x');
  const own = settings('y');
  t.equal(windowHookFor(out, undefined), out, "a stream without its own runs the output's");
  t.equal(windowHookFor(out, own), own, 'its own replaces it');
  t.equal(windowHookFor(out, false), undefined, 'false: none');
});

const FLOW = 'flowinfo: {kind: ndtwin, kernel: "http://127.0.0.1:9", data: flow';

function loadError(yaml: string): string {
  try {
    parseConfig(yaml, 'r.yaml', {}, { added: {}, removed: [] });
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error(`it loads:\n${yaml}`);
}
const load = (yaml: string) => parseConfig(yaml, 'r.yaml', {}, { added: {}, removed: [] });
const suggested = (message: string, pattern: RegExp) => pattern.exec(message)?.[1] ?? `(no fix matching ${pattern} in: ${message})`;

t.test('configuration: output.on_window for every stream, a stream its own or false; the forms as the program gets them', async (t) => {
  const loaded = load(`output:\n  on_window: 'rclone copyto "$1" remote:nsr/$NSR_FILE'\nstreams:\n  ${FLOW}, on_window: false}\n  graphinfo: {kind: ndtwin, data: graph, on_window: {command: [up, "{path}"], timeout: 100ms, retry: {initial: 100ms, max: 1s}, concurrency: 3}}\n  other: {kind: ndtwin, data: graph}\n`);
  t.match(loaded.config.output.on_window, { shell: true, command: ['/bin/sh', '-c', 'rclone copyto "$1" remote:nsr/$NSR_FILE', 'nsr-on-window'] });
  const own = (name: string) => loaded.streams.find((s) => s.name === name)!.options.on_window as WindowHookSettings | false | undefined;
  t.equal(own('flowinfo'), false);
  t.same(own('graphinfo'), { shell: false, command: ['up', '{path}'], timeoutMs: 100, retryInitialMs: 100, retryMaxMs: 1000, concurrency: 3 });
  t.equal(own('other'), undefined);
  t.equal(windowHookFor(loaded.config.output.on_window, own('other')), loaded.config.output.on_window);
  t.equal(load(`streams:\n  ${FLOW}}\n`).config.output.on_window, undefined, 'none unless configured');
  const schema = JSON.stringify(configJsonSchema());
  t.match(schema, /on_window/, 'in the published JSON Schema');
});

t.test('configuration errors name the key as written, the value, what is expected and a fix that loads', async (t) => {
  const rows: { yaml: string; says: RegExp[]; never?: RegExp[]; fix?: (m: string) => string }[] = [
    {
      yaml: `output: {on_window: {command: "x", timeout: 10}}\nstreams:\n  ${FLOW}}\n`,
      says: [/output\.on_window\.timeout: got 10 \(a number\); expected a time limit for each try such as 500ms, 1s or 5m, e\.g\. timeout: 10m/],
      fix: (m) => `output: {on_window: {command: "x", ${suggested(m, /e\.g\. (timeout: \w+)/)}}}\nstreams:\n  ${FLOW}}\n`,
    },
    {
      yaml: `output: {on_window: {command: "x", retry: {initial: 0s}}}\nstreams:\n  ${FLOW}}\n`,
      says: [/output\.on_window\.retry\.initial: got "0s" \(a string\); expected the wait after a first failure longer than 0, e\.g\. initial: 10s/],
      fix: (m) => `output: {on_window: {command: "x", retry: {${suggested(m, /e\.g\. (initial: \w+)/)}}}}\nstreams:\n  ${FLOW}}\n`,
    },
    {
      yaml: `output: {on_window: {command: "x", retry: {initial: 1h, max: 1m}}}\nstreams:\n  ${FLOW}}\n`,
      says: [/output\.on_window\.retry\.initial: got "1h" \(a string\); longer than retry\.max \(1m\)/, /e\.g\. initial: 10s with max: 30m/],
      fix: () => `output: {on_window: {command: "x", retry: {initial: 10s, max: 30m}}}\nstreams:\n  ${FLOW}}\n`,
    },
    {
      yaml: `output: {on_window: {command: "x", concurrency: 20}}\nstreams:\n  ${FLOW}}\n`,
      says: [/output\.on_window\.concurrency: got 20 \(a number\); expected at most 16/, /e\.g\. concurrency: 16/],
      fix: (m) => `output: {on_window: {command: "x", ${suggested(m, /e\.g\. (concurrency: \d+)/)}}}\nstreams:\n  ${FLOW}}\n`,
    },
    {
      yaml: `output: {on_window: {timeout: 1m}}\nstreams:\n  ${FLOW}}\n`,
      says: [/output\.on_window\.command: missing; expected a shell command line or a list of arguments, e\.g\. command: \[rclone, copyto, "\{path\}", "remote:nsr\/\{file\}"\]/],
      fix: (m) => `output: {on_window: {timeout: 1m, ${suggested(m, /e\.g\. (command: \[.*\])/)}}}\nstreams:\n  ${FLOW}}\n`,
    },
    {
      yaml: `output: {on_window: 5}\nstreams:\n  ${FLOW}}\n`,
      says: [/output\.on_window: got 5 \(a number\); expected a command to run for each zipped window/, /e\.g\. on_window: 'rclone copyto "\$1" remote:nsr\/\$NSR_FILE'/],
      fix: (m) => `output: {${suggested(m, /e\.g\. (on_window: '.*')$/)}}\nstreams:\n  ${FLOW}}\n`,
    },
    {
      yaml: `streams:\n  ${FLOW}, on_window: true}\n`,
      says: [/streams\.flowinfo\.on_window: got true \(a boolean\); expected false \(no command for this stream\) or a command/, /without on_window the stream runs output\.on_window/],
      never: [/kind/],
      fix: () => `streams:\n  ${FLOW}, on_window: false}\n`,
    },
    {
      yaml: `output: {on_window: [rclone, copyto, "{dir}/{file}", "--token=s3cr3t"]}\nstreams:\n  ${FLOW}}\n`,
      says: [/output\.on_window\.2: got a string \(not shown: a command line may hold a secret\); unknown placeholder \{dir\}; the placeholders are \{path\}, \{file\}, \{stream\}/],
      never: [/s3cr3t/],
    },
    {
      yaml: `output: {on_window: "rclone copyto {path} remote: --token=s3cr3t"}\nstreams:\n  ${FLOW}}\n`,
      says: [/output\.on_window: got a string \(not shown: a command line may hold a secret\); \{path\} is filled in only in the list form; a shell command line gets the zip as "\$1"/],
      never: [/s3cr3t/],
    },
    {
      yaml: `streams:\n  ${FLOW}, on_window: [rclone, 5]}\n`,
      says: [/streams\.flowinfo\.on_window\.1: got 5 \(a number\); expected text; put the argument in quotes, e\.g\. "5"/],
      fix: () => `streams:\n  ${FLOW}, on_window: [rclone, "5"]}\n`,
    },
    {
      yaml: `streams:\n  ${FLOW}, on_window: 'cp "$1" /x/\${NSR_FILE}'}\n`,
      says: [/streams\.flowinfo\.on_window: the environment variable NSR_FILE is not set/, /write \$NSR_FILE without braces/],
      fix: () => `streams:\n  ${FLOW}, on_window: 'cp "$1" /x/$NSR_FILE'}\n`,
    },
  ];
  for (const row of rows) {
    const message = loadError(row.yaml);
    for (const says of row.says) t.match(message, says, `${row.yaml.split('\n')[0]}: says ${says}`);
    for (const never of row.never ?? []) t.notMatch(message, never, `does not say ${never}`);
    if (row.fix) {
      const fixed = row.fix(message);
      t.doesNotThrow(() => load(fixed), `the fix loads:\n${fixed}`);
    }
  }
});
