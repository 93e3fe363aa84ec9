/**
 * Appends one stream's record lines to its current window file: one write per
 * record, the bytes as given (no re-parsing). Rotates when a record's timestamp
 * passes the window end or the size cap would be passed, and on `closeIfDue`
 * so a window closes on time even when its stream has gone quiet.
 */
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { freeWindowBase, jsonName, windowStart } from './window-naming.js';

export interface WindowMeta {
  stream: string;
  records: number;
  first: number;
  last: number;
  bytes: number;
}

export interface ClosedWindow extends WindowMeta {
  dir: string;
  /** File base name, e.g. `2026_02_10_14-00-00_flowinfo`. */
  base: string;
  jsonPath: string;
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
}

export type FsyncPolicy = 'record' | 'interval' | 'close';

export class WindowWriter {
  private current: OpenWindow | undefined;

  constructor(private readonly opts: WindowWriterOptions) {}

  get openWindow(): Readonly<ClosedWindow> | undefined {
    return this.current;
  }

  /**
   * Appends a record. Returns the window it closed to make room, if any; the
   * caller hands that to compression. On a write error nothing is counted and
   * the caller may retry the same line.
   */
  async append(line: Buffer, timestamp: number): Promise<ClosedWindow | undefined> {
    let closed: ClosedWindow | undefined;
    const w = this.current;
    if (w && (timestamp >= w.windowEnd || (w.bytes > 0 && w.bytes + line.length > this.opts.maxBytes))) {
      closed = await this.close();
    }
    const target = this.current ?? (await this.openFor(timestamp));
    // Positional write at the end of what was counted: if a write fails half
    // way (ENOSPC), retrying the same line overwrites the torn bytes.
    await writeFully(target.handle, line, target.bytes);
    if (target.records === 0) target.first = timestamp;
    target.records++;
    target.last = timestamp;
    target.bytes += line.length;
    target.unsynced = true;
    if (this.opts.fsync === 'record') await this.sync();
    else if (this.opts.fsync === 'interval') await this.syncIfDue();
    return closed;
  }

  /** Under the `interval` policy, forces written records to disk once the interval has passed. */
  async syncIfDue(): Promise<void> {
    const w = this.current;
    const now = (this.opts.now ?? Date.now)();
    if (w?.unsynced && now - w.lastSync >= (this.opts.syncIntervalMs ?? 1000)) await this.sync();
  }

  private async sync(): Promise<void> {
    const w = this.current!;
    await w.handle.datasync();
    w.unsynced = false;
    w.lastSync = (this.opts.now ?? Date.now)();
  }

  /** Closes the window if its end has passed by `slackMs` (records still queued for it get a new file otherwise). */
  async closeIfDue(now: number, slackMs: number): Promise<ClosedWindow | undefined> {
    if (this.current && now >= this.current.windowEnd + slackMs) return this.close();
    return undefined;
  }

  /** Flushes to disk and closes the open window; an empty window is removed instead. */
  async close(): Promise<ClosedWindow | undefined> {
    const w = this.current;
    if (!w) return undefined;
    this.current = undefined;
    // A write that failed half way (disk full) may have left bytes past the last
    // complete record; the counted bytes are the truth.
    await w.handle.truncate(w.bytes);
    await w.handle.sync();
    await w.handle.close();
    const { handle: _handle, windowEnd: _end, unsynced: _unsynced, lastSync: _lastSync, ...closed } = w;
    return closed;
  }

  private async openFor(timestamp: number): Promise<OpenWindow> {
    const { dir, stream, windowMs } = this.opts;
    const start = windowStart(timestamp, windowMs);
    const base = freeWindowBase(dir, stream, start, timestamp);
    const jsonPath = path.join(dir, jsonName(base));
    // 'wx': never truncate or append to a file that is already there.
    const handle = await open(jsonPath, 'wx');
    this.current = { dir, base, jsonPath, stream, windowStart: start, windowEnd: start + windowMs, handle, records: 0, first: 0, last: 0, bytes: 0, unsynced: false, lastSync: (this.opts.now ?? Date.now)() };
    return this.current;
  }
}

async function writeFully(handle: FileHandle, buf: Buffer, position: number): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const { bytesWritten } = await handle.write(buf, off, buf.length - off, position + off);
    off += bytesWritten;
  }
}
