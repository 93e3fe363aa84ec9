/**
 * The running recorder of an output directory, as `nsr status` and `nsr stop`
 * find it: through its lock, trusted only as lock-file.ts checks it. Anything
 * else is an OperatorError that says what was found and what to do.
 */
import path from 'node:path';
import { LOCK_FILE, readRecorderLock } from '../pipeline/lock-file.js';
import { OperatorError } from './common.js';

export interface RunningRecorder {
  pid: number;
  startTime: string | undefined;
  controlUrl: string | undefined;
}

/** `hint` ends the "no recorder" message (e.g. "; start one with nsr run"). */
export function runningRecorder(dir: string, hint = ''): RunningRecorder {
  const file = path.join(dir, LOCK_FILE);
  const lock = readRecorderLock(dir);
  switch (lock.state) {
    case 'none':
      throw new OperatorError(`no recorder is running for ${dir} (no live pid in ${file})${hint}`);
    case 'stale':
      throw new OperatorError(`no recorder is running for ${dir} (${lock.why}; ${file} is stale, the next nsr run takes it over)${hint}`);
    case 'untrusted':
      throw new OperatorError(
        `${file} cannot be trusted: ${lock.problem}. nsr signals and contacts nothing on its word. ` +
          `A recorder writes its lock as its own user with mode 0600: run this command as the recorder's user; if no recorder runs, remove the file`,
      );
    case 'running':
      return { pid: lock.pid, startTime: lock.startTime, controlUrl: lock.controlUrl };
  }
}
