/**
 * Files only the recorder's user may read or write (the lock, the control
 * token). They are created exclusively with mode 0600 and never through a
 * symlink, and a reader trusts one only when it is a regular file of its own
 * user with mode 0600: anyone else who can write into the output directory
 * can plant a file there, but cannot make one that passes these checks.
 */
import { closeSync, constants, fchmodSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';

const { O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_RDONLY, O_WRONLY, O_APPEND } = constants;
/** O_NONBLOCK: a named pipe planted at the name must not hang the recorder or nsr status (no effect on regular files). */
const NO_FOLLOW = O_NOFOLLOW | O_NONBLOCK;

/** Creates `file` holding `text`; fails with EEXIST when anything (a symlink too) is there. */
export function createPrivateFile(file: string, text: string): void {
  const fd = openSync(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
  try {
    fchmodSync(fd, 0o600); // whatever the umask
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

/** Appends to a file this process created; refuses a symlink put in its place. */
export function appendPrivateFile(file: string, text: string): void {
  const fd = openSync(file, O_WRONLY | O_APPEND | NO_FOLLOW);
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.nlink !== 1) throw new Error(`${file} is not the lock file this recorder created (not a regular file with one link); it is left alone`);
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

/** The text of `file`, whoever owns it, never through a symlink (ELOOP then); for a decision trust does not enter. */
export function readFileNoFollow(file: string, maxBytes = 4096): string {
  const fd = openSync(file, O_RDONLY | NO_FOLLOW);
  try {
    if (!fstatSync(fd).isFile()) return '';
    const buf = Buffer.alloc(maxBytes);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return buf.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

export type PrivateRead = { text: string } | { problem: string } | undefined;

/**
 * Reads `file` if it can be trusted: `{text}`; `{problem}` says why not;
 * undefined when there is no such file.
 */
export function readPrivateFile(file: string, maxBytes = 4096): PrivateRead {
  let fd: number;
  try {
    fd = openSync(file, O_RDONLY | NO_FOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') return { problem: 'it is a symlink' };
    return { problem: `it cannot be read (${code})` };
  }
  try {
    const st = fstatSync(fd);
    const uid = process.geteuid?.();
    if (!st.isFile()) return { problem: 'it is not a regular file' };
    if (uid !== undefined && st.uid !== uid) return { problem: `it belongs to uid ${st.uid}, not to this user (uid ${uid})` };
    if ((st.mode & 0o777) !== 0o600) return { problem: `its mode is ${(st.mode & 0o777).toString(8).padStart(4, '0')}, not 0600` };
    const buf = Buffer.alloc(Math.min(st.size, maxBytes));
    const n = readSync(fd, buf, 0, buf.length, 0);
    return { text: buf.subarray(0, n).toString('utf8') };
  } finally {
    closeSync(fd);
  }
}
