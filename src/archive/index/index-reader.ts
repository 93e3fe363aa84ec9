/**
 * Reading the archive index for the offline tools. A whole read folds every
 * line; a range read searches the bytes for the lines of the days the range
 * can touch (memchr speed) and parses only those, so one minute out of a year
 * costs a few hundred lines, not 315,000. Either way an index that is missing
 * or does not parse gives `undefined`: the caller reads the directory instead.
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { applyLine, dayKey, decodeLine, emptyState, hasIndexHeader, INDEX_FILE, INDEX_HEADER, MAX_INDEX_BYTES, parseIndex, type IndexState } from './index-format.js';

const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK } = constants;

/**
 * The index's bytes, or why they are not read: only a regular file at the
 * name itself (a symlink could stand for any index, a named pipe would never
 * end a read) and not larger than MAX_INDEX_BYTES; undefined when there is none.
 */
export async function readIndexBytes(dir: string): Promise<Buffer | { problem: string } | undefined> {
  let handle;
  try {
    handle = await open(path.join(dir, INDEX_FILE), O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    return { problem: code === 'ELOOP' ? 'a symbolic link' : (err as Error).message };
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) return { problem: st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a named pipe' : 'not a regular file' };
    if (st.size > MAX_INDEX_BYTES) return { problem: `${st.size} bytes, more than an index ever takes` };
    return await handle.readFile();
  } catch (err) {
    return { problem: (err as Error).message };
  } finally {
    await handle.close();
  }
}

/** What the paths of a catalog of `dir` start with. */
const catalogPathPrefix = (dir: string) => (dir.endsWith(path.sep) ? dir : dir + path.sep);

const DAY_MS = 86_400_000;
/** A range touching more days than this is read whole (one pass beats many searches). */
const MAX_SEARCHED_DAYS = 31;

export interface IndexRead {
  state: IndexState;
  /** Every line was read (no range, or one too long to search by day). */
  whole: boolean;
  /** Of the streams asked about, those the index names anywhere (a range read sees only some days). */
  known: Set<string>;
}

/**
 * The index of `dir`, whole or (with a finite range) the days the range can touch; undefined when there is none or
 * it does not parse. `bytes`: the index's, read already.
 */
export async function readArchiveIndex(dir: string, range?: { from?: number; to?: number }, streams: readonly string[] = [], bytes?: Buffer): Promise<IndexRead | undefined> {
  const buf = bytes ?? (await readIndexBytes(dir));
  if (buf === undefined || 'problem' in buf) return undefined;
  if (!hasIndexHeader(buf)) return undefined;
  const from = range?.from;
  // "From then on": records later than two days from now would need a clock gone wrong.
  const to = range?.to ?? (from !== undefined && Number.isFinite(from) ? Math.max(Date.now(), from) + 2 * DAY_MS : undefined);
  // The zips come as windows of this directory (CatalogZip): the catalog lists them as they are.
  const prefix = catalogPathPrefix(dir);
  const whole = () => {
    const state = parseIndex(buf.toString('latin1'), prefix)?.state;
    // The streams are those the windows name (the catalog sees them): one asked for that is not there is not known.
    return state && { state, whole: true, known: new Set<string>() };
  };
  if (from === undefined || to === undefined || !Number.isFinite(from) || !Number.isFinite(to)) return whole();
  const span = longestSpan(buf);
  if (span === undefined) return undefined;
  const days: string[] = [];
  for (let t = Math.floor((from - span) / DAY_MS) * DAY_MS; t < to && days.length <= MAX_SEARCHED_DAYS; t += DAY_MS) days.push(dayKey(t));
  if (days.length > MAX_SEARCHED_DAYS) return whole();
  const state = searchDays(buf, days, prefix);
  if (!state) return undefined;
  // A stream with nothing in those days still exists if any line names it.
  const known = new Set(streams.filter((s) => buf.indexOf(`_${s}_json.zip\t`, 0, 'latin1') >= 0 || buf.indexOf(`_${s}.json\t`, 0, 'latin1') >= 0));
  return { state, whole: false, known };
}

/**
 * The longest span of the `w` lines. They are appended only when a span grows,
 * but read them all (a few lines, found at memchr speed): a torn last one, or
 * one written out of order, must not hide a longer span before it.
 */
function longestSpan(buf: Buffer): number | undefined {
  let span = 0;
  for (let at = buf.indexOf('\nw\t', 0, 'latin1'); at >= 0; at = buf.indexOf('\nw\t', at + 1, 'latin1')) {
    const end = buf.indexOf(0x0a, at + 1);
    if (end < 0) break; // torn: an append in progress
    const line = decodeLine(buf.toString('latin1', at + 1, end));
    if (line?.op !== 'w') return undefined;
    span = Math.max(span, line.span);
  }
  return span;
}

/**
 * The lines of `days`, folded in file order (so a `d` after a `z` still
 * removes it). A matched line that does not parse makes the index suspect.
 */
function searchDays(buf: Buffer, days: string[], pathPrefix: string): IndexState | undefined {
  const found: number[] = [];
  for (const day of days) {
    const needle = Buffer.from(`\t${day}\t`, 'latin1');
    for (let at = buf.indexOf(needle, INDEX_HEADER.length - 1); at >= 0; at = buf.indexOf(needle, at + 1)) {
      // The day is the second field: one op letter after a line start.
      if (at >= 2 && buf[at - 2] === 0x0a) found.push(at - 1);
    }
  }
  found.sort((a, b) => a - b);
  const state = emptyState();
  for (const start of found) {
    const end = buf.indexOf(0x0a, start);
    if (end < 0) continue; // the torn last line of an append in progress
    const line = decodeLine(buf.toString('latin1', start, end), pathPrefix);
    if (!line) return undefined;
    applyLine(state, line);
  }
  return state;
}
