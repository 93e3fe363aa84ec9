/**
 * Crash recovery at start (DESIGN 2.2). Leftover temporaries are removed;
 * a window file with a zip beside it is checked against the zip and removed
 * when they match; any other leftover window file is completed (a torn last
 * line is cut off and reported) and handed back for compression. Nothing is
 * overwritten. The same steps serve every window file nsr writes: NDJSON
 * `.json` windows and the CSV sink's `.csv` ones (there a row may span lines
 * inside quotes, so rows are found by csv-scan.ts).
 *
 * Only nsr's own regular files are touched (lstat, then O_NOFOLLOW): a
 * symlink, a directory or a hard-linked file at one of those names is
 * reported as unsafe and left alone, so nothing outside the directory is ever
 * cut, removed or archived through it.
 */
import { lstat, readdir, rename, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { recordTimestamp } from '../pipeline/record.js';
import { lstatIfAny, openOwnFile, STATE_TEMPORARY, UnsafeFileError, unsafeEntry } from '../fs/safe-files.js';
import { CsvScanner } from '../sinks/csv/csv-scan.js';
import { freeWindowBase, jsonName, parseOutputFile, parseWindowTime, zipName, type ParsedWindowName, type WindowExt } from '../sinks/window-naming.js';
import type { ClosedWindow } from '../sinks/window-writer.js';

export type RecoveryAction =
  | { action: 'removed_temporary'; file: string }
  | { action: 'removed_duplicate_json'; file: string; zip: string }
  | { action: 'renamed_conflicting_json'; file: string; to: string }
  | { action: 'cut_torn_line'; file: string; bytes: number }
  | { action: 'unreadable'; file: string; error: string };

/** An entry at one of nsr's names that is not its regular file (a symlink…): left alone. */
export interface UnsafeFile {
  file: string;
  found: string;
}

export interface RecoveryResult {
  actions: RecoveryAction[];
  /** Windows left by an earlier run, ready for compression. */
  windows: ClosedWindow[];
  /** What was left alone, for the events stream. */
  unsafe: UnsafeFile[];
}

export async function recoverDirectory(dir: string): Promise<RecoveryResult> {
  const result: RecoveryResult = { actions: [], windows: [], unsafe: [] };
  const names = new Set(await readdir(dir));
  for (const name of [...names].sort()) {
    const parsed = parseOutputFile(name);
    const temporary = parsed?.type === 'tmp' || STATE_TEMPORARY.test(name);
    if (!temporary && parsed?.type !== 'json') continue;
    try {
      // What is at the name itself, not what a link there points to.
      const found = unsafeEntry(await lstat(path.join(dir, name)), true);
      if (found) {
        result.unsafe.push({ file: name, found });
        continue;
      }
      if (temporary) {
        await unlink(path.join(dir, name));
        result.actions.push({ action: 'removed_temporary', file: name });
        continue;
      }
      await recoverWindowFile(dir, name, parsed!, names, result);
    } catch (err) {
      if (err instanceof UnsafeFileError) result.unsafe.push({ file: name, found: err.found });
      else result.actions.push({ action: 'unreadable', file: name, error: (err as Error).message });
    }
  }
  return result;
}

/** One leftover window file: removed if its zip is complete, else cut back to its last record and handed back for compression. */
async function recoverWindowFile(dir: string, name: string, parsed: ParsedWindowName & { ext: WindowExt }, names: Set<string>, result: RecoveryResult): Promise<void> {
  const { ext } = parsed;
  let base = parsed.base;
  let jsonPath = path.join(dir, name);
  const handle = await openOwnFile(jsonPath, 'update');
  try {
    if (names.has(zipName(base, ext))) {
      if (await sameContent(handle, path.join(dir, zipName(base, ext)), result)) {
        // The crash came after the rename and before the unlink: the zip is complete.
        await unlink(jsonPath);
        result.actions.push({ action: 'removed_duplicate_json', file: name, zip: zipName(base, ext) });
        return;
      }
      // Different content under the same name: keep both, the window file moves to a free name.
      const start = parseWindowTime(parsed.time);
      base = freeWindowBase(dir, parsed.stream, start, start + 1000, ext);
      const moved = path.join(dir, jsonName(base, ext));
      await rename(jsonPath, moved);
      result.actions.push({ action: 'renamed_conflicting_json', file: name, to: jsonName(base, ext) });
      jsonPath = moved;
    }
    const scan = await scanWindowFile(handle, ext);
    if (scan.tornBytes > 0) {
      await handle.truncate(scan.bytes);
      result.actions.push({ action: 'cut_torn_line', file: jsonName(base, ext), bytes: scan.tornBytes });
    }
    if (scan.records === 0) {
      await unlink(jsonPath); // nothing complete in it; the cut was reported above
      return;
    }
    const windowStart = parseWindowTime(parsed.time);
    if (ext === 'csv') {
      // A CSV row need not carry its record's time: the window's bounds stand in (its start, the file's last write).
      scan.last = Math.floor((await handle.stat()).mtimeMs);
      scan.first = Math.min(windowStart, scan.last);
    }
    result.windows.push({ dir, base, jsonPath, ...(ext === 'json' ? {} : { ext }), stream: parsed.stream, windowStart, records: scan.records, first: scan.first, last: scan.last, bytes: scan.bytes });
  } finally {
    await handle.close();
  }
}

export interface WindowScan {
  records: number;
  first: number;
  last: number;
  /** Bytes up to and including the last `\n`. */
  bytes: number;
  tornBytes: number;
}

/**
 * Counts complete records and reads the first and last timestamps, in
 * constant memory: NDJSON lines, or CSV rows after the header (their times
 * are not in the file: 0).
 */
export async function scanWindowFile(file: FileHandle, ext: WindowExt = 'json'): Promise<WindowScan> {
  if (ext === 'csv') {
    const csv = new CsvScanner();
    for await (const chunk of readAll(file)) csv.feed(chunk);
    return { records: Math.max(0, csv.rows - 1), first: 0, last: 0, bytes: csv.rowEnd, tornBytes: csv.tornBytes };
  }
  let records = 0;
  let first = 0;
  let last = 0;
  let offset = 0;
  let completeBytes = 0;
  let lineHead = Buffer.alloc(0); // the first bytes of the line being read
  for await (const chunk of readAll(file)) {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      const piece = chunk.subarray(start, nl === -1 ? chunk.length : nl);
      if (lineHead.length < 40) lineHead = Buffer.concat([lineHead, piece.subarray(0, 40 - lineHead.length)]);
      if (nl === -1) break;
      const ts = recordTimestamp(lineHead) ?? last;
      if (records === 0) first = ts;
      last = ts;
      records++;
      lineHead = Buffer.alloc(0);
      start = nl + 1;
      completeBytes = offset + start;
    }
    offset += chunk.length;
  }
  const { size } = await file.stat();
  return { records, first, last, bytes: completeBytes, tornBytes: size - completeBytes };
}

/** The whole file from its start, in large chunks; the handle stays open. */
function readAll(file: FileHandle): AsyncIterable<Buffer> {
  return file.createReadStream({ start: 0, highWaterMark: 1 << 20, autoClose: false });
}

/** Whether the zip beside a window file holds exactly its bytes; a zip that is not a regular file is not read (and is reported). */
async function sameContent(json: FileHandle, zipPath: string, result: RecoveryResult): Promise<boolean> {
  const zip = await lstatIfAny(zipPath);
  const found = zip && unsafeEntry(zip);
  if (!zip || found) {
    if (found) result.unsafe.push({ file: path.basename(zipPath), found });
    return false;
  }
  let info;
  try {
    // Loaded only when there is a leftover to check: most starts have none.
    const { readZipInfo } = await import('../archive/zip-reader.js');
    info = await readZipInfo(zipPath);
  } catch {
    return false; // an unreadable zip under the final name cannot be trusted: keep the .json
  }
  const entry = info.entries[0];
  if (!entry || info.entries.length !== 1) return false;
  const { size } = await json.stat();
  if (size !== entry.uncompressedSize) return false;
  let crc = 0;
  for await (const chunk of readAll(json)) crc = crc32(chunk, crc);
  return crc >>> 0 === entry.crc32 >>> 0;
}
