/**
 * Crash recovery at start (DESIGN 2.2). Leftover temporaries are removed;
 * a window file with a zip beside it is checked against the zip and removed
 * when they match; any other leftover window file is completed (a torn last
 * line is cut off and reported) and handed back for compression. Nothing is
 * overwritten. The same steps serve every window file nsr writes: NDJSON
 * `.json` windows and the CSV sink's `.csv` ones (there a row may span lines
 * inside quotes, so rows are found by csv-scan.ts).
 */
import { createReadStream } from 'node:fs';
import { readdir, rename, stat, truncate, unlink } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { recordTimestamp } from '../pipeline/record.js';
import { readZipInfo } from '../archive/zip-reader.js';
import { CsvScanner } from '../sinks/csv/csv-scan.js';
import { freeWindowBase, jsonName, parseOutputFile, parseWindowTime, zipName, type WindowExt } from '../sinks/window-naming.js';
import type { ClosedWindow } from '../sinks/window-writer.js';

export type RecoveryAction =
  | { action: 'removed_temporary'; file: string }
  | { action: 'removed_duplicate_json'; file: string; zip: string }
  | { action: 'renamed_conflicting_json'; file: string; to: string }
  | { action: 'cut_torn_line'; file: string; bytes: number }
  | { action: 'unreadable'; file: string; error: string };

export interface RecoveryResult {
  actions: RecoveryAction[];
  /** Windows left by an earlier run, ready for compression. */
  windows: ClosedWindow[];
}

export async function recoverDirectory(dir: string): Promise<RecoveryResult> {
  const actions: RecoveryAction[] = [];
  const windows: ClosedWindow[] = [];
  const names = new Set(await readdir(dir));
  for (const name of [...names].sort()) {
    const parsed = parseOutputFile(name);
    if (!parsed) continue;
    const { ext } = parsed;
    const file = path.join(dir, name);
    try {
      if (parsed.type === 'tmp') {
        await unlink(file);
        actions.push({ action: 'removed_temporary', file: name });
        continue;
      }
      if (parsed.type !== 'json') continue;
      let base = parsed.base;
      let jsonPath = file;
      if (names.has(zipName(base, ext))) {
        if (await sameContent(jsonPath, path.join(dir, zipName(base, ext)))) {
          // The crash came after the rename and before the unlink: the zip is complete.
          await unlink(jsonPath);
          actions.push({ action: 'removed_duplicate_json', file: name, zip: zipName(base, ext) });
          continue;
        }
        // Different content under the same name: keep both, the window file moves to a free name.
        const start = parseWindowTime(parsed.time);
        base = freeWindowBase(dir, parsed.stream, start, start + 1000, ext);
        const moved = path.join(dir, jsonName(base, ext));
        await rename(jsonPath, moved);
        actions.push({ action: 'renamed_conflicting_json', file: name, to: jsonName(base, ext) });
        jsonPath = moved;
      }
      const scan = await scanWindowFile(jsonPath, ext);
      if (scan.tornBytes > 0) {
        await truncate(jsonPath, scan.bytes);
        actions.push({ action: 'cut_torn_line', file: jsonName(base, ext), bytes: scan.tornBytes });
      }
      if (scan.records === 0) {
        await unlink(jsonPath); // nothing complete in it; the cut was reported above
        continue;
      }
      const windowStart = parseWindowTime(parsed.time);
      if (ext === 'csv') {
        // A CSV row need not carry its record's time: the window's bounds stand in (its start, the file's last write).
        scan.last = Math.floor((await stat(jsonPath)).mtimeMs);
        scan.first = Math.min(windowStart, scan.last);
      }
      windows.push({ dir, base, jsonPath, ...(ext === 'json' ? {} : { ext }), stream: parsed.stream, windowStart, records: scan.records, first: scan.first, last: scan.last, bytes: scan.bytes });
    } catch (err) {
      actions.push({ action: 'unreadable', file: name, error: (err as Error).message });
    }
  }
  return { actions, windows };
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
export async function scanWindowFile(file: string, ext: WindowExt = 'json'): Promise<WindowScan> {
  if (ext === 'csv') {
    const csv = new CsvScanner();
    for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) csv.feed(chunk);
    return { records: Math.max(0, csv.rows - 1), first: 0, last: 0, bytes: csv.rowEnd, tornBytes: csv.tornBytes };
  }
  let records = 0;
  let first = 0;
  let last = 0;
  let offset = 0;
  let completeBytes = 0;
  let lineHead = Buffer.alloc(0); // the first bytes of the line being read
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
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
  const { size } = await stat(file);
  return { records, first, last, bytes: completeBytes, tornBytes: size - completeBytes };
}

async function sameContent(jsonPath: string, zipPath: string): Promise<boolean> {
  let info;
  try {
    info = await readZipInfo(zipPath);
  } catch {
    return false; // an unreadable zip under the final name cannot be trusted: keep the .json
  }
  const entry = info.entries[0];
  if (!entry || info.entries.length !== 1) return false;
  const { size } = await stat(jsonPath);
  if (size !== entry.uncompressedSize) return false;
  let crc = 0;
  for await (const chunk of createReadStream(jsonPath) as AsyncIterable<Buffer>) crc = crc32(chunk, crc);
  return crc >>> 0 === entry.crc32 >>> 0;
}
