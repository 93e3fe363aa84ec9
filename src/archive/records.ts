/**
 * The records of one stream in time order across its windows, streamed in
 * constant memory, bytes verbatim. Windows outside the requested range are
 * never opened. A zip is CRC-checked before its records are handed out, so a
 * corrupted window is reported and skipped whole, never half-read.
 */
import { createReadStream } from 'node:fs';
import { recordTimestamp } from '../pipeline/record.js';
import type { StreamCatalog, WindowInfo } from './catalog.js';
import { LineTooLongError, splitLines } from './lines.js';
import { zipEntryChunks, zipEntryWhole } from './zip-reader.js';

export interface RecordRange {
  /** Inclusive, epoch ms. */
  from?: number;
  /** Exclusive, epoch ms. */
  to?: number;
}

export interface ArchiveProblem {
  file: string;
  problem: string;
}

export interface ArchivedRecord {
  /** The line without its `\n`, exactly as recorded. */
  line: Buffer;
  timestamp: number;
  window: WindowInfo;
}

export interface ReadOptions extends RecordRange {
  onProblem?: (p: ArchiveProblem) => void;
  /** Called when a window is opened (progress display). */
  onWindow?: (w: WindowInfo, index: number, total: number) => void;
}

export function windowsInRange(catalog: StreamCatalog, range: RecordRange): WindowInfo[] {
  const from = range.from ?? -Infinity;
  const to = range.to ?? Infinity;
  // Windows known only by name have an unknown span: they are opened and filtered record by record.
  return catalog.windows.filter((w) => !w.error && (w.source === 'name' || (w.records > 0 && w.last >= from && w.first < to)));
}

export async function* readRecords(catalog: StreamCatalog, opts: ReadOptions = {}): AsyncGenerator<ArchivedRecord> {
  const from = opts.from ?? -Infinity;
  const to = opts.to ?? Infinity;
  for (const w of catalog.windows) if (w.error) opts.onProblem?.({ file: w.file, problem: w.error });
  const windows = windowsInRange(catalog, opts);
  // The CRC check of the next window runs while this one is read (inflate runs
  // on the thread pool, so the two overlap on a second core). A window small
  // enough to hold is inflated once instead, into memory, and checked then.
  const check = (i: number) => (windows[i]?.type === 'zip' && !heldInMemory(windows[i]) ? zipProblem(windows[i].path) : Promise.resolve(undefined));
  let nextCheck = check(0);
  for (const [i, w] of windows.entries()) {
    opts.onWindow?.(w, i, windows.length);
    const thisCheck = nextCheck;
    nextCheck = check(i + 1);
    let held: Buffer[] | undefined;
    if (w.type === 'zip') {
      let problem = await thisCheck;
      if (heldInMemory(w)) [held, problem] = await inflateWhole(w.path);
      if (problem) {
        opts.onProblem?.({ file: w.file, problem: `${problem}; its records are skipped` });
        continue;
      }
    }
    const chunks = held ? fromArray(held) : w.type === 'zip' ? zipEntryChunks(w.path) : (createReadStream(w.path) as AsyncIterable<Buffer>);
    try {
      for await (const { bytes, complete } of splitLines(chunks)) {
        if (!complete) {
          opts.onProblem?.({ file: w.file, problem: `its last line is incomplete (${bytes.length} bytes, torn or still being written); skipped` });
          break;
        }
        const timestamp = recordTimestamp(bytes);
        if (timestamp === undefined) {
          if (bytes.length > 0) opts.onProblem?.({ file: w.file, problem: `a line without a leading integer timestamp: ${bytes.subarray(0, 60).toString('utf8')}…; skipped` });
          continue;
        }
        if (timestamp < from) continue;
        if (timestamp >= to) break; // records are in time order within a window
        yield { line: bytes, timestamp, window: w };
      }
    } catch (err) {
      // A line too long to hold costs the rest of its window, not the whole read.
      if (!(err instanceof LineTooLongError)) throw err;
      opts.onProblem?.({ file: w.file, problem: `${err.message}; the rest of this window is skipped` });
    }
  }
}

/**
 * Windows up to this size (by their metadata) are inflated once, into memory,
 * and their CRC checked before any record is given out; larger ones are
 * inflated twice (check, then read) so memory stays bounded. Inflating twice
 * was half of a short `nsr cat` (BENCHMARKS.md §17).
 */
const HOLD_WINDOW_BYTES = 32 * 1024 * 1024;

function heldInMemory(w: WindowInfo): boolean {
  return w.type === 'zip' && w.source === 'metadata' && w.bytes <= HOLD_WINDOW_BYTES;
}

/** The inflated bytes of a zip's entry, or what is wrong with it (nothing is given out then). */
async function inflateWhole(file: string): Promise<[Buffer[] | undefined, string | undefined]> {
  try {
    return [[await zipEntryWhole(file)], undefined];
  } catch (err) {
    return [undefined, (err as Error).message];
  }
}

async function* fromArray(chunks: Buffer[]): AsyncGenerator<Buffer> {
  yield* chunks;
}

/** Inflates a zip without keeping anything, to learn whether it is intact. */
export async function zipProblem(file: string): Promise<string | undefined> {
  try {
    for await (const _ of zipEntryChunks(file)) void _;
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** NDTwin replay clients read `flow_info`; the original recorder wrote `flowinfo`. Rewrites the key in place of the record's second member only. */
export function renameWrappedKey(line: Buffer, from: string, to: string): Buffer {
  const m = /^\{"timestamp":\d+,/.exec(line.subarray(0, 40).toString('latin1'));
  if (!m) return line;
  const key = Buffer.from(`${JSON.stringify(from)}:`);
  const at = m[0].length;
  if (line.compare(key, 0, key.length, at, at + key.length) !== 0) return line;
  return Buffer.concat([line.subarray(0, at), Buffer.from(`${JSON.stringify(to)}:`), line.subarray(at + key.length)]);
}
