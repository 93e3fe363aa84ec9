// Forged lock files (issue 13, finding 6): `nsr status` must not send the
// control token to a URL a planted lock names, and `nsr stop` must not signal
// a process a planted lock names. A lock is trusted only when it is this
// user's, mode 0600, names a URL on this machine, and its pid is still the
// node process that wrote it (same start time).
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import path from 'node:path';
import { NSR, tempDir } from './helpers.js';

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

async function waitForCmdline(pid: number, text: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes(text)) return;
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

  const cases: [string, () => string, RegExp][] = [
    ['the forged lock of the finding: a live pid whose command line says nsr, and a URL', () => plant(dir, `${fake.pid}\n${listener}\n`).cwd, /cannot be trusted: its mode is 0644, not 0600/],
    ['the same with mode 0600 (written by this user as an older nsr did)', () => plant(dir, `${fake.pid}\n${listener}\n`, 0o600).cwd, /cannot be trusted: its first line is not "<pid> <start time>"/],
    ['mode 0600, the pid and its real start time, but the process is not node', () => plant(dir, `${pidLine}\n${listener}\n`, 0o600).cwd, new RegExp(`no recorder is running for .* \\(pid ${fake.pid} is not the nsr that wrote the lock \\(its start time or executable differ\\)`)],
    ['mode 0600, a URL off this machine', () => plant(dir, `${pidLine}\nhttp://192.0.2.1:80\n`, 0o600).cwd, /cannot be trusted: its control URL "http:\/\/192\.0\.2\.1:80" is not http:\/\/<address of this machine>:<port>/],
    ['mode 0600, a URL with a path', () => plant(dir, `${pidLine}\n${listener}/steal?x=\n`, 0o600).cwd, /cannot be trusted: its control URL .* is not http:\/\/<address of this machine>:<port>/],
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
      /cannot be trusted: it is a symlink/,
    ],
  ];
  if (process.geteuid?.() === 0) {
    cases.push([
      'a lock of another user (mode 0600)',
      () => {
        const { cwd, lock } = plant(dir, `${pidLine}\n${listener}\n`, 0o600);
        chownSync(lock, 65534, 65534);
        return cwd;
      },
      /cannot be trusted: it belongs to uid 65534, not to this user \(uid 0\)/,
    ]);
  }
  // One directory per case, all at once: each is a separate `nsr status`.
  const results = await Promise.all(cases.map(([, setUp]) => nsrAsync(setUp(), ['status', '-c', 'r.yaml'])));
  cases.forEach(([what, , message], i) => {
    t.equal(results[i].code, 1, `${what}: exit 1`);
    t.match(results[i].out, message, what);
    t.notMatch(results[i].out, TOKEN, 'the token is not printed');
  });
  t.same(seen.map((h) => h.authorization), [], 'the listener never received the token');
  t.same(seen, [], 'nor any request at all');
  t.ok(running(fake.pid!), 'and the named process was left alone');
});

t.test('nsr stop signals no process a forged lock names', { skip: linux ? false : 'needs /proc' }, async (t) => {
  const dir = tempDir(t);
  const fake = fakeNsr(t);
  await waitForCmdline(fake.pid!, 'nsr-fake');
  const real = startTime(fake.pid!);
  const cases: [string, string, number | undefined, RegExp][] = [
    ['the forged lock of the finding: a pid whose command line says nsr', `${fake.pid}\n`, undefined, /cannot be trusted: its mode is 0644/],
    ['the same with mode 0600', `${fake.pid}\n`, 0o600, /cannot be trusted: its first line is not "<pid> <start time>"/],
    ['mode 0600 with the real start time of a process that is not node', `${fake.pid} ${real}\n`, 0o600, /pid \d+ is not the nsr that wrote the lock/],
    ['mode 0600 with another start time', `${fake.pid} ${Number(real) + 1}\n`, 0o600, /pid \d+ is not the nsr that wrote the lock/],
  ];
  const results = await Promise.all(cases.map(([, text, mode]) => nsrAsync(plant(dir, text, mode).cwd, ['stop', '-c', 'r.yaml', '--timeout', '2s'])));
  cases.forEach(([what, , , message], i) => {
    t.equal(results[i].code, 1, `${what}: exit 1`);
    t.match(results[i].out, message, what);
    t.notMatch(results[i].out, /sent SIGTERM/, `${what}: nothing was signalled`);
  });
  t.ok(running(fake.pid!), 'the named process still runs');
});

t.test('a lock nsr does not trust still keeps a second recorder out while its writer may run', { skip: linux ? false : 'needs /proc' }, async (t) => {
  const dir = tempDir(t);
  const fake = fakeNsr(t);
  await waitForCmdline(fake.pid!, 'nsr-fake');
  // An older nsr's lock (the pid alone, mode 0644) whose process runs: not taken over, as before.
  const older = plant(dir, `${fake.pid}\n`);
  // The current form with the live process's start time, mode 0600 (the writer's executable aside).
  const current = plant(dir, `${fake.pid} ${startTime(fake.pid!)}\n`, 0o600);
  const runs = await Promise.all([older, current].map(({ cwd }) => nsrAsync(cwd, ['run', '-c', 'r.yaml', '--for', '1s'])));
  for (const r of runs) {
    t.equal(r.code, 2, r.out.slice(-300));
    t.match(r.out, new RegExp(`another nsr \\(pid ${fake.pid}\\) is recording into .*recorded_info: stop it first`));
  }
  t.equal(readFileSync(older.lock, 'utf8'), `${fake.pid}\n`, 'the lock is left as it was');
  t.ok(running(fake.pid!), 'and its process alone');
});
