/**
 * The index's seal (`<output.dir>/.nsr.seal`): it says that the directory,
 * as long as it is the same directory unchanged since, holds exactly what the
 * index of a given length says: every zip it lists, and no window file it
 * does not know. A whole read then need not list the directory to show what
 * was removed or copied in by hand; a year holds 315,000 names, and listing
 * them took half of `nsr ls`.
 *
 *   nsr-seal 2 <dev> <ino> <ctime ns> <index ino> <index ctime ns> <index bytes>
 *
 * The directory is known by its device, inode and status-change time: adding,
 * removing or renaming an entry moves the ctime, and no tool can set it back
 * (`touch`, `cp -a` and `rsync -a` restore mtimes, not ctimes, and a copy is
 * another inode). The index is known the same way: a line appended, or the file
 * rewritten in place (a backup copied over it, of the same length), moves its
 * ctime. Either voids the seal, and the readers list the directory again.
 *
 * Written by a recorder that stopped cleanly (after its lock file went) and by
 * `nsr index` when the index matches and no recorder runs there: the file is
 * made first (making it changes the directory), then the directory's identity
 * is read, its names compared with the index, and its identity read again; the
 * seal is written only if nothing moved. Directory times are taken from a
 * coarse clock (a few ms on Linux): a change in the same tick as the first
 * read would leave the ctime as it was, so the identity is read only once the
 * directory's last change is older than a tick. A file system that keeps
 * whole seconds or milliseconds (ext3, FAT, ext4 with 128-byte inodes, many
 * network file systems: a ctime without a sub-millisecond part) is never
 * sealed, nor a directory whose ctime lies ahead of the clock. A separate file,
 * not an index line: nsr versions before the seal read such an index as they
 * always did.
 */
import { constants } from 'node:fs';
import { lstat, open, readdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { LOCK_FILE } from '../../pipeline/lock-file.js';
import { jsonName, parseWindowName, zipName } from '../../sinks/window-naming.js';
import { INDEX_FILE, type IndexState } from './index-format.js';

export const SEAL_FILE = '.nsr.seal';

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK } = constants;
/** Longer than the coarse clock's tick that directory times come from (1–10 ms). */
const TICK_MS = 20;
/** A seal is one short line; anything longer is not one. */
const MAX_SEAL_BYTES = 200;

/**
 * The directory's and the index's identity as the seal writes it (device, inodes, status-change times in ns, the
 * index's length); `fine`: the directory's time has a sub-millisecond part (its file system keeps fine times).
 */
async function identity(dir: string): Promise<{ id: string; ctimeMs: number; fine: boolean }> {
  const st = await stat(dir, { bigint: true });
  const index = await lstat(path.join(dir, INDEX_FILE), { bigint: true });
  if (!index.isFile()) throw new Error(`${INDEX_FILE} is not a regular file`);
  return { id: `${st.dev} ${st.ino} ${st.ctimeNs} ${index.ino} ${index.ctimeNs} ${index.size}`, ctimeMs: Number(st.ctimeNs / 1_000_000n), fine: st.ctimeNs % 1_000_000n !== 0n };
}

/** What the seal file of `dir` says, when it is one (a regular file at the name itself, of the seal's form). */
async function readSeal(dir: string): Promise<string | undefined> {
  let handle;
  try {
    handle = await open(path.join(dir, SEAL_FILE), O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch {
    return undefined; // none, or a link: no seal
  }
  try {
    const st = await handle.stat();
    if (!st.isFile() || st.size > MAX_SEAL_BYTES) return undefined;
    return /^nsr-seal 2 (\d+(?: \d+){5})\n$/.exec((await handle.readFile()).toString('latin1'))?.[1];
  } finally {
    await handle.close();
  }
}

/**
 * Whether the seal holds for the directory and its index as they are now; `index` is the index's bytes as read
 * (read before this check: a change since would show in the index's ctime).
 */
export async function sealHolds(dir: string, index: Buffer): Promise<boolean> {
  try {
    const seal = await readSeal(dir);
    return seal !== undefined && seal.endsWith(` ${index.length}`) && seal === (await identity(dir)).id;
  } catch {
    return false;
  }
}

/**
 * Whether the directory's names are what a listing would find anyway: every zip
 * the index lists is there, and every NDJSON window file there is a zip it lists,
 * a file it announced (or that file's zip), or an open file beside its listed zip.
 */
export function listingMatches(names: readonly string[], state: IndexState): boolean {
  let listed = 0;
  for (const name of names) {
    if (state.zips.has(name)) {
      listed++;
      continue;
    }
    const parsed = parseWindowName(name);
    if (!parsed || parsed.type === 'tmp' || state.opened.has(name)) continue;
    if (parsed.type === 'json' && state.zips.has(zipName(parsed.base))) continue;
    if (parsed.type === 'zip' && state.opened.has(jsonName(parsed.base))) continue; // zipped a moment ago: read as the announced window
    return false;
  }
  return listed === state.zips.size;
}

/**
 * Seals the index of `dir` when the directory matches `state`, unchanged while
 * compared, and no recorder holds it (a lock file: a line appended under a
 * starting recorder would make it rebuild its index); `indexBytes` is the length
 * the index must have (another writer's line means `state` is not all of it).
 * Whether it sealed.
 */
export async function sealIndex(dir: string, state: IndexState, indexBytes: number): Promise<boolean> {
  // A new file, never one already there: whatever holds the name (a hard link to the index, say) is not written to.
  await unseal(dir);
  let handle;
  try {
    handle = await open(path.join(dir, SEAL_FILE), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK, 0o644);
  } catch {
    return false; // the name is held by something that is not a file (a directory)
  }
  let sealed = false;
  try {
    // Read once the directory's last change is a tick old; a directory changing all the while, one whose ctime is
    // ahead of the clock (a step back, a network server's clock) or whose times are coarse is not sealed.
    let before = await identity(dir);
    for (let tries = 0; before.ctimeMs + TICK_MS > Date.now(); tries++) {
      if (tries === 5 || !before.fine || before.ctimeMs > Date.now() + TICK_MS) return false;
      await new Promise((r) => setTimeout(r, Math.min(TICK_MS, before.ctimeMs + TICK_MS - Date.now())));
      before = await identity(dir);
    }
    if (!before.fine) return false;
    const names = await readdir(dir);
    if (names.includes(LOCK_FILE) || !listingMatches(names, state)) return false;
    if ((await identity(dir)).id !== before.id || !before.id.endsWith(` ${indexBytes}`)) return false;
    await handle.write(`nsr-seal 2 ${before.id}\n`, 0, 'latin1');
    sealed = true;
    return true;
  } finally {
    await handle.close();
    if (!sealed) await unseal(dir); // not left empty
  }
}

/** Removes the seal: a recorder starts writing, or `nsr index` found the index differs from the directory. */
export async function unseal(dir: string): Promise<void> {
  await unlink(path.join(dir, SEAL_FILE)).catch(() => undefined);
}
