/**
 * The output directory's lock, which is also the recorder's pidfile:
 *
 *   <pid> <start time>      written at start (the start time: /proc/<pid>/stat field 22, `-` without /proc)
 *   <control URL>           appended once the control server listens (`nsr status` reads it)
 *
 * Two recorders never write into the same windows, and recorders on one
 * machine never fight over a control port. The file is created exclusively
 * with mode 0600; `nsr stop` and `nsr status` trust it only when it is this
 * user's, mode 0600, names a URL on this machine and a pid that is still the
 * node process that wrote it: a lock planted by someone else makes them
 * signal nothing and send no token anywhere.
 */
import { readlinkSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../config/errors.js';
import { isLocalIp } from '../control/local-address.js';
import { appendPrivateFile, createPrivateFile, readFileNoFollow, readPrivateFile } from './private-file.js';
import { isAlive, mayBeOlderRecorder, processIdentity, processStartTime } from './process-identity.js';

export const LOCK_FILE = '.nsr.lock';

interface LockLines {
  pid: number;
  /** Undefined in a lock from an older nsr (the pid alone) or where there is no /proc. */
  startTime: string | undefined;
  /** Only a complete line counts: the URL is appended after the first line was written. */
  controlUrl: string | undefined;
  /** Whether the first line has this version's form (`<pid> <start time>`). */
  current: boolean;
}

function parseLock(text: string): LockLines {
  const lines = text.split('\n');
  const first = lines[0];
  const m = /^(\d+) (\d+|-)$/.exec(first.trim());
  // The second line is complete only when a newline follows it.
  const controlUrl = lines.length > 2 && lines[1] ? lines[1] : undefined;
  if (m) return { pid: Number(m[1]), startTime: m[2] === '-' ? undefined : m[2], controlUrl, current: true };
  return { pid: Number(first.trim().split(' ')[0]) || 0, startTime: undefined, controlUrl, current: false };
}

/** Takes the directory lock; a lock whose writer is gone is taken over. Returns the release function. */
export function lockOutputDir(dir: string): () => void {
  const lock = path.join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      createPrivateFile(lock, `${process.pid} ${processStartTime('self') ?? '-'}\n`);
      return () => {
        try {
          if (parseLock(rawLock(lock)).pid === process.pid) unlinkSync(lock);
        } catch {
          /* already gone */
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = rawLock(lock);
      const { pid, startTime, current } = parseLock(holder);
      if (pid && pid !== process.pid && mayStillRun(pid, startTime, current)) {
        throw new ConfigError(`another nsr (pid ${pid}) is recording into ${dir}: stop it first (nsr stop, or kill -TERM ${pid}) or choose another output.dir`);
      }
      // Stale: its writer is gone (a symlink or junk is stale too; unlinking a symlink leaves its target alone).
      // Re-read first, so that of two recorders starting at once, one cannot remove the lock the other just took.
      if (rawLock(lock) === holder) removeIfThere(lock);
    }
  }
  throw new ConfigError(`cannot lock output directory ${dir}`);
}

/**
 * Whether the lock's writer may still run, to decide whether to take the lock
 * over. Cautious: a process of another user whose executable cannot be seen
 * counts when its start time matches; a lock of an older nsr (pid only) counts
 * while that pid runs something mentioning nsr.
 */
function mayStillRun(pid: number, startTime: string | undefined, current: boolean): boolean {
  if (!isAlive(pid)) return false;
  if (!current) return mayBeOlderRecorder(pid);
  const now = processStartTime(pid);
  return now === undefined || startTime === undefined || now === startTime;
}

/**
 * The lock's text, whoever wrote it (taking a lock over asks only whether its
 * writer runs), read without following a symlink: a symlink reads as its
 * target's name, a lock that is gone as ''. A lock this user may not read is
 * another user's recorder's, maybe running: not taken over.
 */
function rawLock(lock: string): string {
  try {
    return readFileNoFollow(lock);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return '';
    if (code === 'ELOOP') return `symlink:${readlinkSync(lock)}`;
    if (code === 'EACCES' || code === 'EPERM') {
      throw new ConfigError(`${lock} cannot be read (${code}): another user's nsr may be recording into ${path.dirname(lock)}; run nsr as that user, or choose another output.dir`);
    }
    throw err;
  }
}

function removeIfThere(file: string): void {
  try {
    unlinkSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** Adds the control URL as the lock's second line. Appended, never rewritten: the first line stays readable throughout. */
export function announceControlUrl(dir: string, url: string): void {
  appendPrivateFile(path.join(dir, LOCK_FILE), `${url}\n`);
}

export type RecorderLock =
  | { state: 'none' }
  /** The lock cannot be trusted: nothing may be signalled or contacted on its word. */
  | { state: 'untrusted'; problem: string }
  /** The lock's pid no longer names the process that wrote it. */
  | { state: 'stale'; pid: number; why: string }
  | { state: 'running'; pid: number; startTime: string | undefined; controlUrl: string | undefined };

/** What the lock of `dir` says, checked as described at the top of this file. */
export function readRecorderLock(dir: string): RecorderLock {
  const read = readPrivateFile(path.join(dir, LOCK_FILE));
  if (!read) return { state: 'none' };
  if ('problem' in read) return { state: 'untrusted', problem: read.problem };
  const lock = parseLock(read.text);
  if (!lock.current) return { state: 'untrusted', problem: 'its first line is not "<pid> <start time>" (written by an older nsr, or not by nsr)' };
  if (lock.controlUrl !== undefined && !isLocalControlUrl(lock.controlUrl)) {
    return { state: 'untrusted', problem: `its control URL ${JSON.stringify(lock.controlUrl.slice(0, 100))} is not http://<address of this machine>:<port>` };
  }
  const identity = processIdentity(lock.pid, lock.startTime);
  if (identity === 'gone') return { state: 'stale', pid: lock.pid, why: `no process has pid ${lock.pid}` };
  if (identity === 'other') return { state: 'stale', pid: lock.pid, why: `pid ${lock.pid} is not the nsr that wrote the lock (its start time or executable differ)` };
  return { state: 'running', pid: lock.pid, startTime: lock.startTime, controlUrl: lock.controlUrl };
}

/** `http://<IP of this machine>:<port>` and nothing more: the token sent there never leaves the machine. */
function isLocalControlUrl(text: string): boolean {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return false;
  }
  return u.protocol === 'http:' && u.port !== '' && !u.username && !u.password && u.pathname === '/' && !u.search && !u.hash && text === `${u.protocol}//${u.host}` && isLocalIp(u.hostname);
}
