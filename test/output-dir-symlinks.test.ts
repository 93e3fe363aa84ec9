// Symlinks planted in the output directory (issue 13, finding 3): anyone who can
// write there can put a link at a name nsr is about to use. Each test plants one
// where a real `nsr run` reads or writes, and checks what a user would notice:
// the file the link points to is unchanged, nothing of it is archived, the link
// is left alone and reported, and recording goes on.
import t from 'tap';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { formatWindowTime, parseWindowName, parseWindowTime, windowStart } from '../src/sinks/window-naming.js';
import { readArchives, readEvents, seqOf, simulatorWithConfig, sleep, startNsr, tempDir, type NsrProcess } from './helpers.js';

const WINDOW_MS = 2000;
const config = (url: string) =>
  `output: {dir: out, window: 2s}\nshutdown: {grace: 1s, deadline: 20s}\nstreams:\n  flowinfo: {kind: ndtwin, kernel: "${url}", data: flow, interval: 250ms}\n`;

/** A directory of its own for the files the links point to, with `file` holding `text`. */
function outsideFile(t: Tap.Test, name: string, text: string): string {
  const file = path.join(tempDir(t, 'nsr-outside-'), name);
  writeFileSync(file, text);
  return file;
}

/** Starts `nsr run` in `dir` (killed at teardown). */
function run(t: Tap.Test, dir: string, args: string[] = []): NsrProcess {
  const nsr = startNsr(dir, ['run', '-c', 'r.yaml', ...args]);
  t.teardown(() => {
    try {
      process.kill(nsr.pid, 'SIGKILL');
    } catch {}
  });
  return nsr;
}

/** Waits for the recorder to exit with `code`; its output is shown only when it does not. */
async function exits(t: Tap.Test, nsr: NsrProcess, code: number): Promise<void> {
  const exit = await nsr.exit;
  t.equal(exit.code, code, `nsr exits ${code}`, exit.code === code ? {} : { output: nsr.output().slice(-2000) });
}

/** Polls `fn` until it returns a value (or fails the test at the timeout). */
async function waitFor<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs: number, nsr?: NsrProcess): Promise<T> {
  for (const end = Date.now() + timeoutMs; Date.now() < end; await sleep(25)) {
    const v = await fn();
    if (v !== undefined) return v;
  }
  throw new Error(`timed out waiting for ${what}${nsr ? `:\n${nsr.output().slice(-1500)}` : ''}`);
}

/** The control URL, from the lock's second line. */
const controlUrl = (out: string, nsr: NsrProcess) =>
  waitFor('the control URL in the lock', () => (existsSync(path.join(out, '.nsr.lock')) ? readFileSync(path.join(out, '.nsr.lock'), 'utf8').split('\n')[1] || undefined : undefined), 10_000, nsr);

const unsafeEvents = async (out: string) => (await readEvents(out)).filter((e) => e.event === 'unsafe_file');

t.test('recovery: a .json symlink left from a "crash" is neither cut nor archived; it is left alone and reported', async (t) => {
  const dir = tempDir(t);
  const out = path.join(dir, 'out');
  mkdirSync(out);
  await simulatorWithConfig(t, dir, config);
  // One ends in a torn line (recovery cuts those), one is complete (recovery archives those).
  const torn = '{"timestamp":1770703392057,"secret":"A"}\n{"timestamp":17707033';
  const whole = '{"timestamp":1770703392057,"secret":"B"}\n';
  const targets = { '2026_02_10_14-00-00_flowinfo.json': outsideFile(t, 'a.json', torn), '2026_02_10_14-05-00_flowinfo.json': outsideFile(t, 'b.json', whole) };
  for (const [name, target] of Object.entries(targets)) symlinkSync(target, path.join(out, name));

  const nsr = run(t, dir, ['--for', '1s']);
  await exits(t, nsr, 0);

  t.equal(readFileSync(targets['2026_02_10_14-00-00_flowinfo.json'], 'utf8'), torn, 'the file behind the torn one is not cut');
  t.equal(readFileSync(targets['2026_02_10_14-05-00_flowinfo.json'], 'utf8'), whole, 'the other is unchanged');
  t.same(readdirSync(out).filter((f) => f.startsWith('2026_02_10_14') && f.endsWith('.zip')), [], 'no zip made from them');
  const archived = (await readArchives(out, 'flowinfo')).flatMap((w) => w.lines);
  t.ok(archived.length > 0 && !archived.some((l) => l.includes('"secret"')), 'the recording goes on, and no outside line is in it');
  for (const [name, target] of Object.entries(targets)) t.equal(readlinkSync(path.join(out, name)), target, `${name}: left in place`);
  const events = await unsafeEvents(out);
  t.same(events.map((e) => e.file).sort(), Object.keys(targets).sort(), 'each is reported');
  t.ok(events.every((e) => e.found === 'a symbolic link' && e.action === 'left_alone'));
});

t.test('a symlink planted at the temporary name of the next zip is not written through; the zip is written', async (t) => {
  const dir = tempDir(t);
  const out = path.join(dir, 'out');
  mkdirSync(out);
  await simulatorWithConfig(t, dir, config);
  const victim = outsideFile(t, 'victim', 'precious\n');
  const nsr = run(t, dir);
  // An open window with time left before it rotates: plant the link where the old writer put its zip.
  const base = await waitFor(
    'an open flowinfo window with time left',
    () =>
      readdirSync(out)
        .map((f) => parseWindowName(f))
        .find((p) => p?.type === 'json' && p.stream === 'flowinfo' && Date.now() < parseWindowTime(p.time) + WINDOW_MS - 400)?.base,
    15_000,
    nsr,
  );
  const planted = path.join(out, `${base}_json.zip.tmp`);
  symlinkSync(victim, planted);
  const zip = path.join(out, `${base}_json.zip`);
  await waitFor('the window to be zipped', () => (existsSync(path.join(out, `${base}.json`)) ? undefined : true), 15_000, nsr);
  process.kill(nsr.pid, 'SIGTERM');
  await exits(t, nsr, 0);

  t.equal(readFileSync(victim, 'utf8'), 'precious\n', 'the outside file is unchanged');
  t.ok(lstatSync(zip).isFile(), 'the zip is a file of its own, not the planted link');
  const window = (await readArchives(out, 'flowinfo')).find((w) => w.file === `${base}_json.zip`);
  t.ok(window && window.lines.length > 0, 'and holds the window (CRC-checked)');
  t.equal(readlinkSync(planted), victim, 'the link is left alone');
});

t.test('a symlink at .nsr.runtime.json.tmp is not written through when a stream is added at run time', async (t) => {
  const dir = tempDir(t);
  const out = path.join(dir, 'out');
  mkdirSync(out);
  const { url: kernel } = await simulatorWithConfig(t, dir, config);
  const victim = outsideFile(t, 'victim', 'precious\n');
  const planted = path.join(out, '.nsr.runtime.json.tmp');
  symlinkSync(victim, planted);
  const nsr = run(t, dir);
  const url = await controlUrl(out, nsr);
  const res = await fetch(`${url}/streams`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${readFileSync(path.join(out, '.nsr.control-token'), 'utf8').trim()}` }, body: JSON.stringify({ name: 'graphinfo', kind: 'ndtwin', kernel, data: 'graph', interval: '500ms' }) });
  t.equal(res.status, 200, await res.text());
  process.kill(nsr.pid, 'SIGTERM');
  await exits(t, nsr, 0);

  t.equal(readFileSync(victim, 'utf8'), 'precious\n', 'the outside file is unchanged');
  const runtime = path.join(out, '.nsr.runtime.json');
  t.ok(lstatSync(runtime).isFile(), 'the runtime file is a regular file');
  t.ok(JSON.parse(readFileSync(runtime, 'utf8')).added.graphinfo, 'holding the added stream');
  t.equal(readlinkSync(planted), victim, 'the link is left alone');
});

t.test('symlinks at the write probe names the pids would give (.nsr-write-test-<pid>) are not written through', async (t) => {
  let last: number;
  let pidMax: number;
  try {
    last = Number(readFileSync('/proc/sys/kernel/ns_last_pid', 'utf8'));
    pidMax = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
  } catch {
    t.skip('no /proc/sys/kernel/ns_last_pid: pids cannot be foreseen here');
    return;
  }
  const dir = tempDir(t);
  const out = path.join(dir, 'out');
  mkdirSync(out);
  await simulatorWithConfig(t, dir, config);
  const victim = outsideFile(t, 'victim', 'precious\n');
  // Linux hands out pids in order: the recorder gets one of the next thousand.
  const pids = new Set<number>();
  for (let i = 1; i <= 1000; i++) pids.add(last + i < pidMax ? last + i : 300 + last + i - pidMax); // past pid_max, pids start again at 300
  for (const pid of pids) symlinkSync(victim, path.join(out, `.nsr-write-test-${pid}`));
  const nsr = run(t, dir, ['--for', '1s']);
  if (!pids.has(nsr.pid)) t.comment(`the recorder got pid ${nsr.pid}, outside the planted range (a busy machine)`);
  await exits(t, nsr, 0);
  t.equal(readFileSync(victim, 'utf8'), 'precious\n', 'the outside file is unchanged');
  t.equal(readdirSync(out).filter((f) => f.startsWith('.nsr-write-test-')).length, pids.size, 'every planted link is left alone');
});

t.test('a dangling symlink at the next window\'s name: the stream records into the next free name, nothing is lost, the link is reported', async (t) => {
  const dir = tempDir(t);
  const out = path.join(dir, 'out');
  mkdirSync(out);
  const { sim } = await simulatorWithConfig(t, dir, config);
  const nowhere = path.join(tempDir(t, 'nsr-outside-'), 'nowhere');
  const nsr = run(t, dir);
  await waitFor('the first window', () => readdirSync(out).find((f) => f.endsWith('_flowinfo.json')), 15_000, nsr);
  // The next window (not one about to open): its name is where the stream will open its file.
  let next = windowStart(Date.now(), WINDOW_MS) + WINDOW_MS;
  if (next - Date.now() < 500) next += WINDOW_MS;
  const starts = [next];
  const names = starts.map((s) => `${formatWindowTime(s)}_flowinfo.json`);
  for (const name of names) symlinkSync(nowhere, path.join(out, name));
  const after = next + WINDOW_MS;
  // Recording past it: a window after it is open (under the old code the stream stalled at the link, for good).
  await waitFor(
    'a window after the planted one',
    () => readdirSync(out).map((f) => parseWindowName(f)).find((p) => p?.type !== 'tmp' && p?.stream === 'flowinfo' && parseWindowTime(p.time) >= after),
    20_000,
    nsr,
  );
  process.kill(nsr.pid, 'SIGTERM');
  await exits(t, nsr, 0);

  for (const name of names) {
    t.ok(lstatSync(path.join(out, name)).isSymbolicLink(), `${name}: left alone`);
  }
  t.notOk(existsSync(nowhere), 'nothing was created through a link');
  const windows = await readArchives(out, 'flowinfo');
  const stamps = windows.flatMap((w) => w.lines.map((l) => Number(/"timestamp":(\d+)/.exec(l)![1])));
  for (const s of starts) t.ok(stamps.some((ts) => ts >= s && ts < s + WINDOW_MS), `records of the window at ${formatWindowTime(s)} are archived`);
  t.same(windows.flatMap((w) => w.lines.map(seqOf)), sim.served()['/ndt/get_detected_flow_data'], 'every response served was archived exactly once, in order');
  const events = await unsafeEvents(out);
  for (const name of names) {
    const e = events.find((x) => x.file === name);
    t.match(e, { stream: 'flowinfo', found: 'a symbolic link', action: 'left_alone', window: /_flowinfo\.json$/ }, `${name}: reported with the name used instead`);
    t.not(e?.window, name);
  }
});
