/**
 * Appends one stream's record lines to its current window file: one write per
 * record, the bytes as given (no re-parsing). Rotates when a record's timestamp
 * passes the window end or the size cap would be passed, and on `closeIfDue`
 * so a window closes on time even when its stream has gone quiet.
 */
import { open, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { CREATE_EXCLUSIVE } from '../fs/safe-files.js';
import { freeWindowBase, jsonName, windowStart } from './window-naming.js';

export interface WindowMeta {
  stream: string;
  records: number;
  first: number;
  last: number;
  bytes: number;
  /** Events windows only: how many of their records are run marks (logging/run-marks.ts); `nsr stats` skips one with none. */
  marked?: number;
}

export interface ClosedWindow extends WindowMeta {
  dir: string;
  /** File base name, e.g. `2026_02_10_14-00-00_flowinfo`. */
  base: string;
  jsonPath: string;
  /** The file's extension: `json` for NDJSON windows, `csv` for the CSV sink's. */
  ext?: string;
  windowStart: number;
}

interface OpenWindow extends ClosedWindow {
  handle: FileHandle;
  windowEnd: number;
  /** Bytes written but not yet forced to disk. */
  unsynced: boolean;
  lastSync: number;
}

export interface WindowWriterOptions {
  dir: string;
  stream: string;
  windowMs: number;
  maxBytes: number;
  /**
   * When written records are forced to disk: `record` (fdatasync after each
   * one), `interval` (at most `syncIntervalMs` after a write), or `close` (when
   * the window closes). A process crash loses nothing under any policy (the
   * page cache survives it); the policy bounds what a power loss can take.
   */
  fsync?: FsyncPolicy;
  syncIntervalMs?: number;
  now?: () => number;
  /** `json` (default) for NDJSON windows; another for a sink's own files (`csv`). */
  ext?: string;
  /** Written first into every new window file (a CSV header row); not counted as a record. */
  header?: Buffer;
  /**
   * Something that is not a regular file (a symlink, even a dangling one) took
   * a window's name: it is left alone and the window is written as `window`.
   */
  onUnsafeFile?: (info: { file: string; found: string; window: string }) => void;
  /** Which records to count as `marked` (the events stream's run marks); without it windows carry no count. */
  countMarked?: (line: Buffer) => boolean;
  /** Told a window file's name just before it is created (the archive index announces open windows to the readers). */
  onOpen?: (file: string, start: number, windowMs: number) => void;
}

export type FsyncPolicy = 'record' | 'interval' | 'close';

export class WindowWriter {
  private current: OpenWindow | undefined;
  /** Windows closed and not yet collected by `takeClosed` (kept even when a later step fails). */
  private closed: ClosedWindow[] = [];
  private syncError: Error | undefined;

  constructor(private readonly opts: WindowWriterOptions) {}

  get openWindow(): Readonly<ClosedWindow> | undefined {
    return this.current;
  }

  /**
   * Appends a record, rotating first when its timestamp passes the window end
   * or the size cap would be passed. Throws only when the record was not
   * written (nothing is counted; retry the same line). A failed fsync after a
   * successful write does not throw: the record is written, and the error is
   * kept for `takeSyncError`, so a retry can never write the record twice.
   * `records`: how many records `line` holds (a CSV sink writes a record's rows in one go).
   */
  async append(line: Buffer, timestamp: number, records = 1): Promise<void> {
    const w = this.current;
    if (w && (timestamp >= w.windowEnd || (w.records > 0 && w.bytes + line.length > this.opts.maxBytes))) await this.close();
    const target = this.current ?? (await this.openFor(timestamp));
    // Positional write at the end of what was counted: if a write fails half
    // way (ENOSPC), retrying the same line overwrites the torn bytes.
    await writeFully(target.handle, line, target.bytes);
    if (target.records === 0) target.first = timestamp;
    target.records += records;
    target.last = timestamp;
    target.bytes += line.length;
    if (target.marked !== undefined && this.opts.countMarked!(line)) target.marked++;
    target.unsynced = true;
    if (this.opts.fsync === 'record') await this.sync();
    else if (this.opts.fsync === 'interval') await this.syncIfDue();
  }

  /** Windows closed since the last call, for compression. */
  takeClosed(): ClosedWindow[] {
    const closed = this.closed;
    this.closed = [];
    return closed;
  }

  /** An fsync that failed since the last call: written records not yet known to be on disk. */
  takeSyncError(): Error | undefined {
    const err = this.syncError;
    this.syncError = undefined;
    return err;
  }

  /** Under the `interval` policy, forces written records to disk once the interval has passed. */
  async syncIfDue(): Promise<void> {
    const w = this.current;
    const now = (this.opts.now ?? Date.now)();
    if (w?.unsynced && now - w.lastSync >= (this.opts.syncIntervalMs ?? 1000)) await this.sync();
  }

  private async sync(): Promise<void> {
    const w = this.current!;
    try {
      await w.handle.datasync();
      w.unsynced = false;
    } catch (err) {
      this.syncError = err as Error; // tried again at the next interval and at close
    }
    w.lastSync = (this.opts.now ?? Date.now)();
  }

  /** Closes the window if its end has passed by `slackMs` (records still queued for it get a new file otherwise). */
  async closeIfDue(now: number, slackMs: number): Promise<void> {
    if (this.current && now >= this.current.windowEnd + slackMs) await this.close();
  }

  /** Flushes to disk and closes the open window; it is then collected with `takeClosed`. */
  async close(): Promise<void> {
    const w = this.current;
    if (!w) return;
    this.current = undefined;
    let cut = false;
    try {
      // A write that failed half way (disk full) may have left bytes past the
      // last complete record; the counted bytes are the truth.
      await w.handle.truncate(w.bytes);
      cut = true;
      await w.handle.sync();
    } catch (err) {
      this.syncError = err as Error;
    } finally {
      await w.handle.close().catch(() => undefined);
    }
    // A window that could not be cut back may end in torn bytes: it stays a
    // .json, and the next start's recovery cuts and compresses it.
    if (cut) {
      const { handle: _handle, windowEnd: _end, unsynced: _unsynced, lastSync: _lastSync, ...closed } = w;
      this.closed.push(closed);
    }
  }

  private async openFor(timestamp: number): Promise<OpenWindow> {
    const { dir, stream, windowMs } = this.opts;
    const start = windowStart(timestamp, windowMs);
    const ext = this.opts.ext ?? 'json';
    const unsafe: { file: string; found: string }[] = [];
    const base = freeWindowBase(dir, stream, start, timestamp, ext, (file, found) => unsafe.push({ file, found }));
    const jsonPath = path.join(dir, jsonName(base, ext));
    this.opts.onOpen?.(jsonName(base, ext), start, windowMs);
    // Exclusive and O_NOFOLLOW: never truncate or append to a file that is already there, nor write through a link.
    const handle = await open(jsonPath, CREATE_EXCLUSIVE, 0o666);
    for (const u of unsafe) this.opts.onUnsafeFile?.({ ...u, window: jsonName(base, ext) });
    // The new name must survive a power loss too, or the window goes with it.
    await fsyncDirectory(dir).catch((err) => (this.syncError = err as Error));
    const header = this.opts.header;
    if (header) {
      try {
        await writeFully(handle, header, 0);
      } catch (err) {
        // Not opened then: the empty file nsr just created goes, so a retry does not leave one per attempt.
        await handle.close().catch(() => undefined);
        await unlink(jsonPath).catch(() => undefined);
        throw err;
      }
    }
    this.current = { dir, base, jsonPath, ...(this.opts.ext ? { ext } : {}), stream, windowStart: start, windowEnd: start + windowMs, handle, records: 0, first: 0, last: 0, bytes: header?.length ?? 0, ...(this.opts.countMarked ? { marked: 0 } : {}), unsynced: false, lastSync: (this.opts.now ?? Date.now)() };
    return this.current;
  }
}

async function fsyncDirectory(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function writeFully(handle: FileHandle, buf: Buffer, position: number): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const { bytesWritten } = await handle.write(buf, off, buf.length - off, position + off);
    off += bytesWritten;
  }
}
