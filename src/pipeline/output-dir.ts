/**
 * The output directory: created if missing, proven writable before the first
 * tick, and locked so two recorders never write into the same windows.
 */
import { constants, existsSync, mkdirSync, openSync, closeSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { ConfigError } from '../config/errors.js';
import { createExclusiveSync } from '../fs/safe-files.js';

/**
 * The lock is also the recorder's pidfile: `nsr stop` reads the pid from its
 * first line. Once the control server listens, a second line holds its URL
 * (`nsr status` reads it), so recorders on one machine never fight over a port.
 */
export const LOCK_FILE = '.nsr.lock';

/** The pid on the lock's first line (0 when there is none). */
function lockPid(text: string): number {
  return Number(text.split('\n', 1)[0].trim());
}

/** The pid of the recorder holding `dir`, if one is alive. */
export function recorderPid(dir: string): number | undefined {
  return readLock(dir)?.pid;
}

/** The live recorder holding `dir` and, once its control server listens, the server's URL. */
export function readLock(dir: string): { pid: number; controlUrl?: string } | undefined {
  try {
    const text = readFileSync(path.join(dir, LOCK_FILE), 'utf8');
    const pid = lockPid(text);
    if (!pid || !isAlive(pid)) return undefined;
    // Only a complete line counts: the URL is appended after the pid line was written.
    const m = /^[^\n]*\n(https?:\/\/[^\n]+)\n/.exec(text);
    return { pid, controlUrl: m?.[1] };
  } catch {
    return undefined;
  }
}

/**
 * Adds the control URL as the lock's second line. Appended, never rewritten:
 * the pid line stays readable throughout, so no reader ever takes the lock for stale.
 */
export function announceControlUrl(dir: string, url: string): void {
  // O_NOFOLLOW: a link put in the lock's place is not written through.
  const fd = openSync(path.join(dir, LOCK_FILE), constants.O_WRONLY | constants.O_APPEND | constants.O_NOFOLLOW);
  try {
    writeSync(fd, `${url}\n`);
  } finally {
    closeSync(fd);
  }
}

export function prepareOutputDir(dir: string): void {
  try {
    makeDirectories(dir);
    // A name no one can plant a link at in advance, created exclusively (a link is never followed).
    const probe = path.join(dir, `.nsr-write-test-${randomBytes(6).toString('hex')}`);
    closeSync(createExclusiveSync(probe));
    unlinkSync(probe);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ConfigError(`output directory ${dir} cannot be written (${e.code ?? e.message}): choose another output.dir in the config, or fix its permissions/mount`);
  }
}

/**
 * `mkdir -p` one level at a time: Node 20's recursive mkdirSync spins forever
 * on some paths that cannot be created (e.g. under /proc) instead of failing.
 */
function makeDirectories(dir: string): void {
  const missing: string[] = [];
  for (let d = path.resolve(dir); !existsSync(d); d = path.dirname(d)) {
    missing.unshift(d);
    if (path.dirname(d) === d) break;
  }
  for (const d of missing) mkdirSync(d);
}

/** Takes the directory lock; a lock left by a dead process is taken over. Returns the release function. */
export function lockOutputDir(dir: string): () => void {
  const lock = path.join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lock, 'wx');
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => {
        try {
          if (lockPid(readFileSync(lock, 'utf8')) === process.pid) unlinkSync(lock);
        } catch {
          /* already gone */
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = readFileSync(lock, 'utf8');
      const pid = lockPid(holder);
      if (pid && pid !== process.pid && isAlive(pid)) {
        throw new ConfigError(`another nsr (pid ${pid}) is recording into ${dir}: stop it first (nsr stop, or kill -TERM ${pid}) or choose another output.dir`);
      }
      // Stale: its process is gone. Re-read first, so that of two recorders
      // starting at once, one cannot remove the lock the other just took.
      if (readFileSync(lock, 'utf8') === holder) unlinkSync(lock);
    }
  }
  throw new ConfigError(`cannot lock output directory ${dir}`);
}

/**
 * Whether `pid` is a live nsr. After a reboot the pid of a lock left by a
 * crash may belong to an unrelated process: on Linux its command line tells.
 */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    return /nsr/.test(readFileSync(`/proc/${pid}/cmdline`, 'latin1'));
  } catch {
    return true; // no /proc to ask: trust the pid
  }
}
