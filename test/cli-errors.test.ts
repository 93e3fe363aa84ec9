// Wrong configurations and command lines: a message naming the problem and the fix, exit code 2.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { NSR, sleep, startNsr, tempDir } from './helpers.js';

function nsr(cwd: string, args: string[]) {
  const r = spawnSync(process.execPath, [NSR, ...args], { cwd, encoding: 'utf8', timeout: 30_000, killSignal: 'SIGKILL' });
  return { code: r.status, stderr: r.stderr, stdout: r.stdout };
}

const STREAM = 'streams:\n  flowinfo: {kind: ndtwin, kernel: "http://127.0.0.1:9", data: flow}\n';

t.test('config and usage errors exit 2 with a clear message', async (t) => {
  const dir = tempDir(t);
  writeFileSync(path.join(dir, 'broken.yaml'), 'streams:\n  f: [unclosed\n');
  writeFileSync(path.join(dir, 'types.yaml'), `output: {window: 300}\n${STREAM}`);
  writeFileSync(path.join(dir, 'afile'), 'not a directory');
  writeFileSync(path.join(dir, 'notdir.yaml'), `output: {dir: afile/sub}\n${STREAM}`);
  writeFileSync(path.join(dir, 'proc.yaml'), `output: {dir: /proc/nsr-cannot-write-here}\n${STREAM}`);
  writeFileSync(path.join(dir, 'ok.yaml'), STREAM);
  const cases: [string, string[], RegExp][] = [
    ['missing config (default path)', ['run'], /config file setting\/recorder\.yaml not found: create it .* or pass -c FILE/],
    ['missing config', ['run', '-c', 'nope.yaml'], /config file nope\.yaml not found/],
    ['broken YAML', ['run', '-c', 'broken.yaml'], /broken\.yaml:\d+:\d+: the file is not valid YAML/],
    ['wrong type', ['run', '-c', 'types.yaml'], /output\.window: got 300 \(a number\); expected .* such as 500ms, 1s or 5m/],
    ['output dir under a file', ['run', '-c', 'notdir.yaml'], /output directory .*afile\/sub cannot be written \(ENOTDIR\): choose another output\.dir/],
    ['output dir on a read-only path', ['run', '-c', 'proc.yaml'], /output directory .*\/proc\/nsr-cannot-write-here cannot be written \(\w+\)/],
    ['bad --for', ['run', '-c', 'ok.yaml', '--for', 'soon'], /--for: got "soon"; expected a duration/],
    ['unknown option', ['run', '--bogus'], /unknown option '--bogus'/],
    ['unknown command', ['recordd'], /unknown command 'recordd'/],
    ['bad simulator port', ['simulate', '--port', '99999'], /port/],
  ];
  for (const [name, args, expected] of cases) {
    const r = nsr(dir, args);
    t.equal(r.code, 2, `${name}: exit code 2`);
    t.match(r.stderr, expected, name);
    t.notMatch(r.stderr, /\n\s+at /, `${name}: no stack trace`);
  }
});

t.test('help on every command, exit 0', async (t) => {
  const dir = tempDir(t);
  for (const args of [['--help'], ['run', '--help'], ['simulate', '--help'], ['schema', '--help']]) {
    const r = nsr(dir, args);
    t.equal(r.code, 0, args.join(' '));
    t.match(r.stdout, /Usage: nsr/);
  }
});

t.test('a second recorder on the same output directory is refused; a stale lock is taken over', async (t) => {
  const dir = tempDir(t);
  writeFileSync(path.join(dir, 'ok.yaml'), STREAM);
  const first = startNsr(dir, ['run', '-c', 'ok.yaml']);
  await sleep(1500);
  const second = await nsrAsync(dir, ['run', '-c', 'ok.yaml', '--for', '1s']);
  t.equal(second.code, 2);
  t.match(second.stderr, new RegExp(`another nsr \\(pid ${first.pid}\\) is recording into .*recorded_info: stop it first`));
  process.kill(first.pid, 'SIGTERM');
  t.equal((await first.exit).code, 0);
  // a lock left by a crash, whose pid now belongs to another process (here: this test), is taken over
  writeFileSync(path.join(dir, 'recorded_info', '.nsr.lock'), `${process.pid}\n`);
  const again = await nsrAsync(dir, ['run', '-c', 'ok.yaml', '--for', '1s']);
  t.equal(again.code, 0, again.stderr.slice(-400));
});

function nsrAsync(cwd: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [NSR, ...args], { cwd });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}
