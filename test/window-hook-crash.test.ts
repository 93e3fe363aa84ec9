/**
 * A recorder killed between a zip's rename and its line in the archive index
 * (the compression worker finishes the rename after its parent is gone): the
 * next start finds the zip, which its index announced as a window file, and
 * runs its on_window hook like any window zipped that run.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { INDEX_HEADER, windowDay, windowFileOf } from '../src/archive/index/index-format.js';
import { simulatorWithConfig, startNsr, tempDir } from './helpers.js';
import { makeWindow } from './zipped-windows.js';

t.test('a zip the index announced but never recorded (killed before its line) gets its on_window hook at the next start', async (t) => {
  const dir = tempDir(t);
  const out = path.join(dir, 'out');
  mkdirSync(out);
  const start = Date.now() - 120_000;
  const shipped = await makeWindow(out, 'graphinfo', start);
  // The window was announced (`o`); the `z` line never came.
  writeFileSync(path.join(out, '.nsr.index'), `${INDEX_HEADER}o\t${windowDay({ records: 0, first: 0, start })}\t${windowFileOf(shipped)}\t${start}\n`);
  // A zip copied in by hand was never announced: it is not shipped (it was not recorded here).
  const copied = await makeWindow(out, 'graphinfo', start - 3_600_000);
  writeFileSync(
    path.join(dir, 'r.yaml'),
    [
      'output: {dir: out, window: 1m}',
      'shutdown: {grace: 1s}',
      'streams:',
      `  graphinfo: {kind: ndtwin, kernel: "http://127.0.0.1:9", data: graph, interval: 1s, on_window: 'touch "../shipped.$NSR_FILE"'}`,
      '',
    ].join('\n'),
  );
  const nsr = startNsr(dir, ['run', '-c', 'r.yaml', '--for', '3s']);
  const { code } = await nsr.exit;
  t.equal(code, 0, nsr.output().slice(-1500));
  t.ok(existsSync(path.join(dir, `shipped.${shipped}`)), `${shipped}: its hook ran`);
  t.notOk(existsSync(path.join(dir, `shipped.${copied}`)), `${copied} (copied in): no hook`);
});

t.test('a stream whose on_window is turned off by a reload lets its pending windows go at once (not only after a restart)', async (t) => {
  const dir = tempDir(t);
  const config = (url: string, hook: string) =>
    [
      'output: {dir: out, window: 1s, retention: {max_age: 1s}}',
      'shutdown: {grace: 1s}',
      'streams:',
      `  graphinfo: {kind: ndtwin, kernel: "${url}", data: graph, interval: 200ms, on_window: ${hook}}`,
      '',
    ].join('\n');
  // A hook that never succeeds: retention must keep every window of the stream.
  const { url } = await simulatorWithConfig(t, dir, (u) => config(u, "{command: 'exit 3', retry: {initial: 10s, max: 10s}}"));
  const nsr = startNsr(dir, ['run', '-c', 'r.yaml']);
  t.teardown(() => {
    try {
      process.kill(nsr.pid, 'SIGKILL');
    } catch {
      // gone
    }
  });
  const until = async (re: RegExp, ms = 20_000) => {
    for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) if (re.test(nsr.output())) return true;
    return false;
  };
  t.ok(await until(/"event":"retention_blocked"[^\n]*"protected_by":"hook_pending"/), 'a window waits for its hook');
  const held = /"event":"retention_blocked"[^\n]*?"file":"([^"]+)"[^\n]*"protected_by":"hook_pending"/.exec(nsr.output())![1];
  writeFileSync(path.join(dir, 'r.yaml'), config(url, 'false'));
  process.kill(nsr.pid, 'SIGHUP');
  t.ok(await until(/"event":"reload"/), 'reloaded');
  t.ok(await until(new RegExp(`"event":"retention_deleted"[^\\n]*"file":"${held}"`), 15_000), `${held}, held for its hook, goes once the hook is off`);
  process.kill(nsr.pid, 'SIGTERM');
  await nsr.exit;
});
