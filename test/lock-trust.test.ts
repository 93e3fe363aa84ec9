// Forged lock files (issue 13, finding 6): `nsr status` must not send the
// control token to a URL a planted lock names, and `nsr stop` must not signal
// a process a planted lock names. A lock is trusted only when it is this
// user's, mode 0600, names a URL on this machine, and its pid is still the
// node process that wrote it (same start time).
import t from 'tap';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import path from 'node:path';
import { NSR, tempDir } from './helpers.js';
import { lockOutputDir, readRecorderLock } from '../src/pipeline/lock-file.js';

const TOKEN = 'tok-forged-lock-test-0123456789';

/** Runs `nsr …` without blocking this process (the listener lives here). */
function nsrAsync(cwd: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [NSR, ...args], { cwd, env: { ...process.env, NSR_TEST_CONTROL_TOKEN: TOKEN } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (out += d));
    child.on('exit', (code) => resolve({ code, out }));
  });
}

/** A process that is not nsr but whose command line says so (`nsr-fake 30`), as in the finding. */
function fakeNsr(t: Tap.Test): ChildProcess {
  const child = spawn('bash', ['-c', 'exec -a nsr-fake sleep 30'], { stdio: 'ignore' });
  t.teardown(() => child.kill('SIGKILL'));
  return child;
}

/** /proc/<pid>/stat field 22, as a forger who reads /proc would copy it. */
function startTime(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

/** Alive and not a zombie (a process killed but not yet reaped is one). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/**
 * Until the process's command line starts with `text`: bash's own
 * (`bash -c exec -a nsr-fake …`) contains it too, and while bash execs, the
 * command line can read empty (a check then found no nsr there).
 */
async function waitForCmdline(pid: number, text: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'latin1').startsWith(text)) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`pid ${pid} never became ${text}`);
}

/** A directory of its own with the configuration and the lock as a forger wrote it; `mode` undefined keeps 0644 (umask 022). */
function plant(dir: string, text: string, mode?: number): { cwd: string; lock: string } {
  const cwd = mkdtempSync(path.join(dir, 'case-'));
  writeFileSync(path.join(cwd, 'r.yaml'), CONFIG);
  const lock = path.join(cwd, 'recorded_info', '.nsr.lock');
  mkdirSync(path.dirname(lock));
  writeFileSync(lock, text, { mode: 0o644 });
  if (mode !== undefined) chmodSync(lock, mode);
  return { cwd, lock };
}

const CONFIG = `control: {token: "\${NSR_TEST_CONTROL_TOKEN}"}\nstreams:\n  flowinfo: {kind: ndtwin, kernel: "http://127.0.0.1:1", data: flow}\n`;
const linux = existsSync('/proc/self/stat');

t.test('nsr status sends the token to no URL a forged lock names', { skip: linux ? false : 'needs /proc' }, async (t) => {
  const dir = tempDir(t);
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers);
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const listener = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const fake = fakeNsr(t);
  await waitForCmdline(fake.pid!, 'nsr-fake');
  const pidLine = `${fake.pid} ${startTime(fake.pid!)}`;

  // As a user sees it: `nsr status` on the forged locks of the finding and its near misses.
  const cases: [string, string, RegExp][] = [
    ['the forged lock of the finding: a live pid whose command line says nsr, and a URL', plant(dir, `${fake.pid}\n${listener}\n`).cwd, /cannot be trusted: its mode is 0644, not 0600/],
    ['mode 0600, the pid and its real start time, but the process is not node', plant(dir, `${pidLine}\n${listener}\n`, 0o600).cwd, new RegExp(`no recorder is running for .* \\(pid ${fake.pid} is not the nsr that wrote the lock \\(its start time or executable differ\\)`)],
    ['mode 0600, a URL off this machine', plant(dir, `${pidLine}\nhttp://192.0.2.1:80\n`, 0o600).cwd, /cannot be trusted: its control URL "http:\/\/192\.0\.2\.1:80" is not http:\/\/<address of this machine>:<port>/],
  ];
  // One directory per case, all at once: each is a separate `nsr status`.
  const results = await Promise.all(cases.map(([, cwd]) => nsrAsync(cwd, ['status', '-c', 'r.yaml'])));
  cases.forEach(([what, , message], i) => {
    t.equal(results[i].code, 1, `${what}: exit 1`);
    t.match(results[i].out, message, what);
    t.notMatch(results[i].out, TOKEN, 'the token is not printed');
  });

  // Each rule of the check, through the function nsr status and nsr stop use.
  const rules: [string, () => string, RegExp][] = [
    ['an older nsr\'s form, mode 0600', () => plant(dir, `${fake.pid}\n${listener}\n`, 0o600).cwd, /its first line is not "<pid> <start time>"/],
    ['writable by others', () => plant(dir, `${pidLine}\n${listener}\n`, 0o666).cwd, /its mode is 0666, not 0600/],
    ['a URL with a path', () => plant(dir, `${pidLine}\n${listener}/steal?x=\n`, 0o600).cwd, /its control URL .* is not http:\/\/<address of this machine>:<port>/],
    ['a URL by name', () => plant(dir, `${pidLine}\nhttp://localhost.evil.example:80\n`, 0o600).cwd, /its control URL .* is not http:\/\/<address of this machine>:<port>/],
    [
      'a symlink to a lock that would pass',
      () => {
        const { cwd, lock } = plant(dir, '');
        const real = path.join(cwd, 'elsewhere.lock');
        writeFileSync(real, `${pidLine}\n${listener}\n`, { mode: 0o600 });
        unlinkSync(lock);
        symlinkSync(real, lock);
        return cwd;
      },
      /it is a symlink/,
    ],
  ];
  if (process.geteuid?.() === 0) {
    rules.push([
      'a lock of another user (mode 0600)',
      () => {
        const { cwd, lock } = plant(dir, `${pidLine}\n${listener}\n`, 0o600);
        chownSync(lock, 65534, 65534);
        return cwd;
      },
      /it belongs to uid 65534, not to this user \(uid 0\)/,
    ]);
  }
  for (const [what, setUp, problem] of rules) t.match(readRecorderLock(path.join(setUp(), 'recorded_info')), { state: 'untrusted', problem }, what);
  t.same(seen.map((h) => h.authorization), [], 'the listener never received the token');
  t.same(seen, [], 'nor any request at all');
  t.ok(running(fake.pid!), 'and the named process was left alone');
});

t.test('nsr stop signals no process a forged lock names', { skip: linux ? false : 'needs /proc' }, async (t) => {
  const dir = tempDir(t);
  const fake = fakeNsr(t);
  await waitForCmdline(fake.pid!, 'nsr-fake');
  const real = startTime(fake.pid!);
  // As a user sees it: `nsr stop` on the forged lock of the finding, and on one that copies the process's start time.
  const cases: [string, string, number | undefined, RegExp][] = [
    ['the forged lock of the finding: a pid whose command line says nsr', `${fake.pid}\n`, undefined, /cannot be trusted: its mode is 0644/],
    ['mode 0600 with the real start time of a process that is not node', `${fake.pid} ${real}\n`, 0o600, /pid \d+ is not the nsr that wrote the lock/],
  ];
  const results = await Promise.all(cases.map(([, text, mode]) => nsrAsync(plant(dir, text, mode).cwd, ['stop', '-c', 'r.yaml', '--timeout', '2s'])));
  cases.forEach(([what, , , message], i) => {
    t.equal(results[i].code, 1, `${what}: exit 1`);
    t.match(results[i].out, message, what);
    t.notMatch(results[i].out, /sent SIGTERM/, `${what}: nothing was signalled`);
  });
  // The other rules, through the function nsr stop uses.
  const other = (text: string) => readRecorderLock(path.join(plant(dir, text, 0o600).cwd, 'recorded_info'));
  t.match(other(`${fake.pid}\n`), { state: 'untrusted', problem: /its first line is not "<pid> <start time>"/ }, 'an older nsr\'s form, mode 0600');
  t.match(other(`${fake.pid} ${Number(real) + 1}\n`), { state: 'stale', why: /is not the nsr that wrote the lock/ }, 'another start time');
  t.match(other(`${process.pid} ${startTime(process.pid)}\n`), { state: 'running', pid: process.pid }, 'while a node process with its recorded start time is trusted');
  t.ok(running(fake.pid!), 'the named process still runs');
});

t.test('a lock nsr does not trust still keeps a second recorder out while its writer may run', { skip: linux ? false : 'needs /proc' }, async (t) => {
  const dir = tempDir(t);
  const fake = fakeNsr(t);
  await waitForCmdline(fake.pid!, 'nsr-fake');
  // An older nsr's lock (the pid alone, mode 0644) whose process runs: not taken over, as before;
  // nor one of the current form with the live process's start time (another user's executable cannot be seen).
  const older = plant(dir, `${fake.pid}\n`);
  const current = plant(dir, `${fake.pid} ${startTime(fake.pid!)}\n`, 0o600);
  for (const { cwd, lock } of [older, current]) {
    const before = readFileSync(lock, 'utf8');
    t.throws(() => lockOutputDir(path.join(cwd, 'recorded_info')), { name: 'ConfigError', message: new RegExp(`another nsr \\(pid ${fake.pid}\\) is recording into .*recorded_info: stop it first`) });
    t.equal(readFileSync(lock, 'utf8'), before, 'the lock is left as it was');
  }
  // A lock whose writer is gone is taken over, and given back.
  const gone = plant(dir, `999999999 1\n`, 0o600);
  const release = lockOutputDir(path.join(gone.cwd, 'recorded_info'));
  t.match(readFileSync(gone.lock, 'utf8'), new RegExp(`^${process.pid} \\d+\\n$`), 'a stale lock is taken over');
  release();
  t.notOk(existsSync(gone.lock), 'and removed at the release');
  t.ok(running(fake.pid!), 'the named process was left alone');
});

t.test('a named pipe planted as the lock hangs neither nsr status nor a start', async (t) => {
  const dir = tempDir(t);
  const out = path.join(dir, 'out');
  mkdirSync(out);
  execFileSync('mkfifo', [path.join(out, '.nsr.lock')]);
  writeFileSync(path.join(dir, 'r.yaml'), 'output: {dir: out}\ncontrol: {enabled: false}\nstreams:\n  f: {kind: ndtwin, kernel: "http://127.0.0.1:9", data: flow}\n');
  const status = await nsrAsync(dir, ['status', '-c', 'r.yaml']);
  t.equal(status.code, 1, 'status ends, refusing the lock');
  t.match(status.out, /not a regular file/, 'and says why');
  const run = await nsrAsync(dir, ['run', '-c', 'r.yaml', '--for', '1s']);
  t.not(run.code, null, `a start ends too (exit ${run.code})`);
});
