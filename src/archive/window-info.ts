/**
 * One window of an output directory as the archive tools see it: its stream,
 * file, counts and span, from nsr's zip metadata, the archive index, or a scan.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { recordTimestamp } from '../pipeline/record.js';
import { splitLines } from './lines.js';
import { readZipInfo, zipEntryChunks } from './zip-reader.js';

export interface WindowInfo {
  stream: string;
  file: string;
  path: string;
  type: 'zip' | 'json';
  /** Window start from the file name (local time), epoch ms. */
  start: number;
  records: number;
  /** First and last record timestamps (0 when the window has no record). */
  first: number;
  last: number;
  /** Uncompressed NDJSON bytes. */
  bytes: number;
  /** Size on disk (the zip, or the `.json`). */
  diskBytes: number;
  /**
   * Where the counts come from: nsr's zip metadata, a scan of the records, or
   * only the file name (records, `first` and `last` unknown, 0).
   */
  source: 'metadata' | 'scan' | 'name';
  /** An events window's run marks, when its zip's metadata counts them (logging/run-marks.ts): 0 means `nsr stats` need not open it. */
  marked?: number;
  /** Set when the window could not be read. */
  error?: string;
}

export interface StreamCatalog {
  stream: string;
  windows: WindowInfo[];
}

export async function windowInfo(file: string, stream: string, type: 'zip' | 'json', start: number, scanUnindexed = true): Promise<WindowInfo> {
  const base: WindowInfo = { stream, file: path.basename(file), path: file, type, start, records: 0, first: 0, last: 0, bytes: 0, diskBytes: 0, source: 'scan' };
  try {
    const st = await stat(file);
    // A named pipe, a device (or a link to one) named like a window would never end a read.
    if (!st.isFile()) throw new Error('not a regular file');
    base.diskBytes = st.size;
    if (type === 'zip') {
      const info = await readZipInfo(file);
      if (info.meta) {
        const { records, first, last, bytes, marked } = info.meta;
        return { ...base, records, first, last, bytes, source: 'metadata', ...(typeof marked === 'number' ? { marked } : {}) };
      }
      if (!scanUnindexed) return { ...base, bytes: info.entries[0]?.uncompressedSize ?? 0, source: 'name' };
      return { ...base, ...(await scanRecords(zipEntryChunks(file))) };
    }
    if (!scanUnindexed) return { ...base, bytes: base.diskBytes, source: 'name' };
    return { ...base, ...(await scanRecords(createReadStream(file) as AsyncIterable<Buffer>)) };
  } catch (err) {
    return { ...base, error: (err as Error).message };
  }
}

async function scanRecords(chunks: AsyncIterable<Buffer>): Promise<Pick<WindowInfo, 'records' | 'first' | 'last' | 'bytes'>> {
  let records = 0;
  let first = 0;
  let last = 0;
  let bytes = 0;
  for await (const { bytes: line, complete } of splitLines(chunks)) {
    if (!complete) break; // a torn last line is not a record
    const ts = recordTimestamp(line);
    if (ts === undefined) continue;
    if (records === 0) first = ts;
    last = ts;
    records++;
    bytes += line.length + 1;
  }
  return { records, first, last, bytes };
}
