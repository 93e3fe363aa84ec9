/**
 * The index's seal: a last line `s <ns>` saying that while the output
 * directory's modification time is that one, the directory holds exactly what
 * the index says: every zip it lists, and no window file it does not know. A
 * whole read then need not list the directory to show what was removed or
 * copied in by hand; a year holds 315,000 names, and listing them took half of
 * `nsr ls`.
 *
 * Anything that adds, removes or renames an entry of the directory moves its
 * mtime, and any line appended after the seal makes it no longer the last:
 * either voids it, and the readers list the directory again. The seal is
 * written only after the names were compared, with the mtime read before the
 * comparison and found unchanged after it. It is written by a recorder that
 * stopped cleanly (after its lock file went) and by `nsr index` when the index
 * matches. A file system whose mtimes are coarser than the changes made by
 * hand within one tick of a seal would hide those changes; ext4, xfs, btrfs
 * and tmpfs keep nanoseconds.
 */
import { constants } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { jsonName, parseWindowName, zipName } from '../../sinks/window-naming.js';
import { encodeLine, INDEX_FILE, type IndexState } from './index-format.js';

const { O_WRONLY, O_APPEND, O_NOFOLLOW } = constants;

/** The mtime sealed by the index's last line, when that line is a seal. */
export function sealOf(buf: Buffer): string | undefined {
  if (buf.length < 4 || buf[buf.length - 1] !== 0x0a) return undefined;
  const start = buf.lastIndexOf(0x0a, buf.length - 2) + 1;
  if (buf[start] !== 0x73 /* s */ || buf[start + 1] !== 0x09) return undefined;
  const mtime = buf.toString('latin1', start + 2, buf.length - 1);
  return /^\d{1,20}$/.test(mtime) ? mtime : undefined;
}

/** The directory's mtime in ns, as the seal writes it. */
const dirMtime = async (dir: string) => String((await stat(dir, { bigint: true })).mtimeNs);

/** Whether the index's bytes are sealed for the directory as it is now. */
export async function sealHolds(dir: string, buf: Buffer): Promise<boolean> {
  const sealed = sealOf(buf);
  return sealed !== undefined && sealed === (await dirMtime(dir).catch(() => undefined));
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
 * compared; `size` is the length the index must have (another writer's line
 * means `state` is not all of it). Whether it sealed.
 */
export async function sealIndex(dir: string, state: IndexState, size: number): Promise<boolean> {
  const before = await dirMtime(dir);
  if (!listingMatches(await readdir(dir), state)) return false;
  if ((await dirMtime(dir)) !== before) return false;
  const handle = await open(path.join(dir, INDEX_FILE), O_WRONLY | O_APPEND | O_NOFOLLOW);
  try {
    const st = await handle.stat();
    if (!st.isFile() || st.size !== size) return false;
    await handle.write(encodeLine({ op: 's', mtime: before }));
    return true;
  } finally {
    await handle.close();
  }
}
