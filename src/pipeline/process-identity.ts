/**
 * Which process a pid names. A pid alone names whatever holds it now: after
 * the recorder exits, or after a reboot, it may belong to any program. A pid
 * with its start time (field 22 of /proc/<pid>/stat, clock ticks since boot)
 * names one process; its executable says whether it runs node. The lock
 * records both at start, so `nsr stop` signals only the recorder that wrote it.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';

/** The start time of `pid` as /proc gives it, or undefined where there is no /proc (or no such process). */
export function processStartTime(pid: number | 'self'): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // Field 2 is the command name in parentheses and may itself hold spaces or ')': count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const start = fields[22 - 3];
    return /^\d+$/.test(start ?? '') ? start : undefined;
  } catch {
    return undefined;
  }
}

/** Whether this machine has /proc to tell processes apart. */
function hasProc(): boolean {
  return processStartTime('self') !== undefined;
}

export type Identity = 'same' | 'gone' | 'other';

/**
 * Whether `pid` is still the process that recorded `startTime`: `gone` when
 * no process has the pid, `other` when another process holds it now (or one
 * that does not run node). Without /proc (not Linux) a live pid is taken as
 * the same; a lock without a start time (an older nsr) proves nothing, so it is `other`.
 */
export function processIdentity(pid: number, startTime: string | undefined): Identity {
  if (!isAlive(pid)) return 'gone';
  if (!hasProc()) return 'same';
  const now = processStartTime(pid);
  if (now === undefined) return isAlive(pid) ? 'other' : 'gone';
  if (startTime === undefined || now !== startTime) return 'other';
  return runsNode(pid) ? 'same' : 'other';
}

/** Whether `pid` exists (EPERM: it does, under another user). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** nsr runs on node (installed as node, nodejs, node20…); a reader that may not see the executable cannot vouch for it. */
function runsNode(pid: number): boolean {
  try {
    const exe = readlinkSync(`/proc/${pid}/exe`).replace(/ \(deleted\)$/, ''); // node upgraded while it runs
    return /^node/.test(path.basename(exe));
  } catch {
    return false;
  }
}

/**
 * The older heuristic, for a lock without a start time (written by an older
 * nsr): a live process whose command line mentions nsr. Used only to decide
 * not to take such a lock over, never to signal or to send a token.
 */
export function mayBeOlderRecorder(pid: number): boolean {
  if (!isAlive(pid)) return false;
  try {
    return /nsr/.test(readFileSync(`/proc/${pid}/cmdline`, 'latin1'));
  } catch {
    return true; // no /proc to ask: keep away from it
  }
}
