/**
 * Opening and replacing nsr's own files in the output directory without ever
 * following a symlink (DESIGN 5). Anyone who can write into that directory
 * could otherwise plant a link at a name nsr is about to use and have nsr
 * truncate, overwrite or archive a file it points to. So: every open carries
 * O_NOFOLLOW; a file nsr changes in place must be a regular file with one
 * link (a hard link would let the change reach another name); temporaries get
 * a random name and are created exclusively (O_EXCL never follows, not even a
 * dangling link); only such a temporary is ever renamed. What is found
 * instead is an UnsafeFileError: the caller reports it and leaves it alone.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readFileSync, renameSync, unlinkSync, writeSync, type BigIntStats, type Stats } from 'node:fs';
import { lstat, open, type FileHandle } from 'node:fs/promises';
import { createRequire } from 'node:module';

const { O_RDONLY, O_RDWR, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK } = constants;
/** O_NONBLOCK: opening a FIFO planted at the name must not hang the recorder (no effect on regular files). */
const OPEN_OWN = O_NOFOLLOW | O_NONBLOCK;
/** A new file, never one that is there already: no link is followed, nothing is truncated. */
export const CREATE_EXCLUSIVE = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW;

/** The error for an entry that is not one of nsr's regular files. */
export class UnsafeFileError extends Error {
  readonly code = 'EUNSAFEFILE';
  constructor(
    readonly file: string,
    /** What was found there, e.g. `a symbolic link`. */
    readonly found: string,
  ) {
    super(unsafeFileMessage(file, found));
  }
}

/** What an `unsafe_file` event and UnsafeFileError say: what was found, what nsr did, and the fix. */
export function unsafeFileMessage(file: string, found: string): string {
  return `${file} is ${found}, where nsr keeps a regular file of its own; nsr never follows or writes through it and leaves it alone: if it does not belong there, remove it (rm -- '${file}')`;
}

/**
 * Why an entry is not a file nsr may read (or, with `changes`, change in
 * place), or undefined when it may.
 */
export function unsafeEntry(st: Stats | BigIntStats, changes = false): string | undefined {
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a named pipe';
  if (st.isSocket()) return 'a socket';
  if (!st.isFile()) return 'a device';
  if (changes && Number(st.nlink) > 1) return `a file with ${st.nlink} hard links`;
  return undefined;
}

/** lstat, or undefined when nothing is there. */
export async function lstatIfAny(file: string): Promise<Stats | undefined> {
  try {
    return await lstat(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export function lstatIfAnySync(file: string): Stats | undefined {
  return lstatSync(file, { throwIfNoEntry: false });
}

/**
 * Opens one of nsr's own files, to read it or (`update`) to change it in
 * place; never through a link, never anything but a regular file.
 */
export async function openOwnFile(file: string, mode: 'read' | 'update'): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await open(file, (mode === 'read' ? O_RDONLY : O_RDWR) | OPEN_OWN);
  } catch (err) {
    throw asUnsafe(err, file);
  }
  let why: string | undefined;
  try {
    why = unsafeEntry(await handle.stat(), mode === 'update');
  } catch (err) {
    await handle.close();
    throw err;
  }
  if (why) {
    await handle.close();
    throw new UnsafeFileError(file, why);
  }
  return handle;
}

/** A small file of nsr's own, whole; undefined when there is none. */
export function readOwnFileSync(file: string): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(file, O_RDONLY | OPEN_OWN);
  } catch (err) {
    // ENOTDIR: a component of the path is a file, so there is no such file either (the caller reports the directory).
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw asUnsafe(err, file);
  }
  try {
    const why = unsafeEntry(fstatSync(fd));
    if (why) throw new UnsafeFileError(file, why);
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * A name no one can guess or plant in advance, beside `file`: `<file>.<12 hex>.tmp`.
 * node:crypto is loaded at the first name: the archive tools read through this
 * module and never write a temporary, and loading it costs ~6 ms of their start.
 */
export function temporaryName(file: string): string {
  nodeCrypto ??= createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto');
  return `${file}.${nodeCrypto.randomBytes(6).toString('hex')}.tmp`;
}
let nodeCrypto: typeof import('node:crypto') | undefined;

/** Temporaries of nsr's small state files (`.nsr.….<12 hex>.tmp`): a crash between create and rename leaves one. */
export const STATE_TEMPORARY = /^\.nsr\..+\.[0-9a-f]{12}\.tmp$/;

/** Creates `file`, which must not exist (EEXIST otherwise, a link included). */
export async function createExclusive(file: string): Promise<FileHandle> {
  return open(file, CREATE_EXCLUSIVE, 0o666);
}

export function createExclusiveSync(file: string): number {
  return openSync(file, CREATE_EXCLUSIVE, 0o666);
}

/**
 * Replaces one of nsr's small files whole: written to a fresh temporary,
 * then renamed over it, so a crash never leaves half a file. Something that
 * is not a regular file at the name is left alone (UnsafeFileError).
 */
export function replaceOwnFileSync(file: string, data: string | Buffer): void {
  const existing = lstatIfAnySync(file);
  const why = existing && unsafeEntry(existing);
  if (why) throw new UnsafeFileError(file, why);
  const tmp = temporaryName(file);
  const fd = createExclusiveSync(tmp);
  let open = true;
  try {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off, buf.length - off);
    open = false;
    closeSync(fd);
    renameSync(tmp, file);
  } catch (err) {
    if (open) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      /* not there */
    }
    throw err;
  }
}

/** ELOOP from O_NOFOLLOW means the name is a symlink: say so in the error. */
function asUnsafe(err: unknown, file: string): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ELOOP') return new UnsafeFileError(file, 'a symbolic link');
  if (code === 'EISDIR') return new UnsafeFileError(file, 'a directory');
  if (code === 'ENXIO') return new UnsafeFileError(file, 'a socket or a named pipe');
  return err;
}
