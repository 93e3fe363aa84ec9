/**
 * Crash recovery at start (DESIGN 2.2). Leftover temporaries are removed;
 * a `.json` with a zip beside it is checked against the zip and removed when
 * they match; any other leftover `.json` is completed (a torn last line is cut
 * off and reported) and handed back for compression. Nothing is overwritten.
 */
import { createReadStream } from 'node:fs';
import { readdir, rename, stat, truncate, unlink } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { recordTimestamp } from '../pipeline/record.js';
import { readZipInfo } from '../archive/zip-reader.js';
import { freeWindowBase, jsonName, parseWindowName, parseWindowTime, zipName } from '../sinks/window-naming.js';
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
    const parsed = parseWindowName(name);
    if (!parsed) continue;
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
      if (names.has(zipName(base))) {
        if (await sameContent(jsonPath, path.join(dir, zipName(base)))) {
          // The crash came after the rename and before the unlink: the zip is complete.
          await unlink(jsonPath);
          actions.push({ action: 'removed_duplicate_json', file: name, zip: zipName(base) });
          continue;
        }
        // Different content under the same name: keep both, the .json moves to a free name.
        const start = parseWindowTime(parsed.time);
        base = freeWindowBase(dir, parsed.stream, start, start + 1000);
        const moved = path.join(dir, jsonName(base));
        await rename(jsonPath, moved);
        actions.push({ action: 'renamed_conflicting_json', file: name, to: jsonName(base) });
        jsonPath = moved;
      }
      const scan = await scanWindowFile(jsonPath);
      if (scan.tornBytes > 0) {
        await truncate(jsonPath, scan.bytes);
        actions.push({ action: 'cut_torn_line', file: jsonName(base), bytes: scan.tornBytes });
      }
      if (scan.records === 0) {
        await unlink(jsonPath); // nothing complete in it; the cut was reported above
        continue;
      }
      windows.push({ dir, base, jsonPath, stream: parsed.stream, windowStart: parseWindowTime(parsed.time), records: scan.records, first: scan.first, last: scan.last, bytes: scan.bytes });
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

/** Counts complete lines and reads the first and last timestamps, in constant memory. */
export async function scanWindowFile(file: string): Promise<WindowScan> {
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
