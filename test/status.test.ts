// nsr status: the plain snapshot, --watch without a terminal, --watch on a
// terminal (under tmux, checked as a person sees it), and no recorder running.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { NSR, nsrAsync, simulatorWithConfig, sleep, startNsr, tempDir, type NsrProcess } from './helpers.js';

async function recording(t: { teardown(fn: () => unknown): void }, dir: string): Promise<NsrProcess> {
  await simulatorWithConfig(t, dir, (url) => `streams:\n  flowinfo: {kind: ndtwin, kernel: "${url}", data: flow}\n  graphinfo: {kind: ndtwin, kernel: "${url}", data: graph}\n`);
  const nsr = startNsr(dir, ['run', '-c', 'r.yaml']);
  t.teardown(() => {
    try {
      process.kill(nsr.pid, 'SIGKILL');
    } catch {}
  });
  const lock = path.join(dir, 'recorded_info', '.nsr.lock');
  for (let i = 0; i < 100 && !(existsSync(lock) && readFileSync(lock, 'utf8').split('\n')[1]); i++) await sleep(50);
  await sleep(2200); // a couple of records
  return nsr;
}

t.test('nsr status prints the streams; says so when no recorder runs', async (t) => {
  const dir = tempDir(t);
  const nsr = await recording(t, dir);
  const r = await nsrAsync(dir, ['status', '-c', 'r.yaml']);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, new RegExp(`^nsr \\S+  pid ${nsr.pid}  up [\\d.]+s  output ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/recorded_info`));
  t.match(r.stdout, /^STREAM +STATE +LAST REC +RATE\/s +FETCH p50\/p99 +LATE p99 +FETCHES +RECORDS +ERRORS +MISSED +QUEUE$/m);
  t.match(r.stdout, /^flowinfo +ok +[\d.]+s ago +[\d.]+ +[\d.]+ms\/[\d.]+ms +[\d.]+ms +\d+ +[1-9]\d* +0 +0 +0 \(0 B\)$/m);
  t.match(r.stdout, /^graphinfo +ok +/m);
  t.match(r.stdout, /^compression backlog \d+ +window files open \d+ +disk free [\d.]+ [KMGT]B$/m);
  t.match(r.stdout, /^recent events\n {2}\d\d:\d\d:\d\d {2}start +version=/m);

  const json = await nsrAsync(dir, ['status', '-c', 'r.yaml', '--json']);
  t.equal(json.code, 0);
  t.equal(JSON.parse(json.stdout).pid, nsr.pid, '--json gives the /status document');

  // without a terminal, --watch prints a plain snapshot every second
  const watch = await nsrAsync(dir, ['status', '-c', 'r.yaml', '--watch'], 4500); // start-up under load can take a second or two
  const snapshots = watch.stdout.split(/^nsr \S+ {2}pid /m).length - 1;
  t.ok(snapshots >= 2, `--watch printed ${snapshots} snapshots`);
  t.notMatch(watch.stdout, /\x1b\[/, 'no terminal escapes in a pipe');

  process.kill(nsr.pid, 'SIGTERM');
  t.equal((await nsr.exit).code, 0);
  const none = await nsrAsync(dir, ['status', '-c', 'r.yaml']);
  t.equal(none.code, 1);
  t.match(none.stderr, /^nsr: no recorder is running for .*recorded_info \(no live pid in .*\.nsr\.lock\); start one with nsr run\n$/);
  t.equal(none.stdout, '');
});

const tmux = spawnSync('tmux', ['-V']).status === 0;

t.test('nsr status --watch on a terminal: a live table, q quits', { skip: tmux ? false : 'tmux is not installed' }, async (t) => {
  const dir = tempDir(t);
  await recording(t, dir);
  // a tmux server of its own, its socket in the test's directory (removed with it)
  const socket = path.join(dir, 'tmux.sock');
  const session = 'status';
  const tm = (...args: string[]) => spawnSync('tmux', ['-S', socket, ...args], { encoding: 'utf8' });
  t.teardown(() => tm('kill-server'));
  const cmd = `${process.execPath} ${NSR} status -c r.yaml --watch`;
  t.equal(tm('new-session', '-d', '-s', session, '-x', '160', '-y', '50', '-c', dir, cmd).status, 0);
  const screen = () => tm('capture-pane', '-p', '-t', session).stdout;
  let first = '';
  for (let i = 0; i < 60 && !/graphinfo/.test(first); i++) {
    await sleep(100);
    first = screen();
  }
  const lines = first.split('\n');
  t.match(lines[0], /^nsr \S+ {2}pid \d+ {2}up /, 'the screen starts at the top (cleared, not scrolled)');
  t.match(first, /^STREAM +STATE +LAST REC +RATE\/s/m);
  t.match(first, /^flowinfo +ok +[\d.]+s ago/m);
  t.match(first, /^graphinfo +ok +[\d.]+s ago/m);
  t.match(first, /^recent events$/m);
  t.match(first, /\(q or Ctrl-C quits\)/);
  const records = (s: string) => Number(/^flowinfo(?: +\S+){6} +(\d+)/m.exec(s)?.[1]);
  await sleep(2200);
  const later = screen();
  t.equal(later.match(/^STREAM /gm)?.length, 1, 'redrawn in place: one table on the screen');
  t.ok(records(later) > records(first), `the records count moved (${records(first)} → ${records(later)})`);
  tm('send-keys', '-t', session, 'q');
  let gone = false;
  for (let i = 0; i < 30 && !gone; i++) {
    await sleep(100);
    gone = tm('has-session', '-t', session).status !== 0;
  }
  t.ok(gone, 'q quits');
});

t.test('nsr status --watch on a terminal quits on Ctrl-C', { skip: tmux ? false : 'tmux is not installed' }, async (t) => {
  const dir = tempDir(t);
  await recording(t, dir);
  const socket = path.join(dir, 'tmux.sock');
  const tm = (...args: string[]) => spawnSync('tmux', ['-S', socket, ...args], { encoding: 'utf8' });
  t.teardown(() => tm('kill-server'));
  // the shell stays after nsr exits, so its exit code can be read from the pane
  t.equal(tm('new-session', '-d', '-s', 'c', '-x', '160', '-y', '50', '-c', dir, 'sh').status, 0);
  tm('send-keys', '-t', 'c', `${process.execPath} ${NSR} status -c r.yaml --watch; echo "exit=$?"`, 'Enter');
  let screen = '';
  for (let i = 0; i < 60 && !/graphinfo/.test(screen); i++) {
    await sleep(100);
    screen = tm('capture-pane', '-p', '-t', 'c').stdout;
  }
  t.match(screen, /^flowinfo +ok/m);
  tm('send-keys', '-t', 'c', 'C-c');
  for (let i = 0; i < 30 && !/exit=\d/.test(screen); i++) {
    await sleep(100);
    screen = tm('capture-pane', '-p', '-t', 'c').stdout;
  }
  t.match(screen, /exit=0/, 'Ctrl-C ends it with exit code 0');
  tm('kill-server');
});
