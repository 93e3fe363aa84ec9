/**
 * The disk guard (`output.min_free`): keeps a margin of free space on the
 * output directory's file system. When free space falls below it, retention
 * is first asked to free the shortfall (`freeSpace`, plugged in by the
 * recorder); if that does not bring it back, the guard is low: the data lanes
 * hold their records in their bounded queues (output-lane.ts), ticks that find
 * a queue full are skipped and reported as `queue_full` as always, and
 * `disk_low` says so once. When free space is back above the margin plus a
 * little (so the guard does not flap around the line), `disk_ok` says how long
 * it lasted and the lanes write what waited, in order.
 *
 * The guard only ever makes records wait between whole writes, so a window is
 * never torn by it; zips are written under a temporary name either way.
 */
import { statfs as nodeStatfs } from 'node:fs/promises';
import type { MinFree } from '../config/schema-types.js';
import type { Logger } from '../logging/logger.js';
import type { NoteEvent } from '../logging/note-event.js';

/** What the guard reads of `statfs(2)`: blocks free to an unprivileged user, block size, blocks in all. */
export interface DiskStats {
  bavail: number;
  bsize: number;
  blocks: number;
}

export type StatFs = (dir: string) => Promise<DiskStats>;

/** Retention's hook: try to free `needBytes` in the output directory; resolves with the bytes it freed. */
export type FreeSpace = (needBytes: number) => Promise<number>;

/** What a lane asks of the guard: whether to hold its records back, and when to go on. */
export interface DiskGate {
  readonly low: boolean;
  /** Resolves at once when not low; otherwise when the guard is no longer low, or when `signal` aborts. */
  whenOk(signal?: AbortSignal): Promise<void>;
}

/** The guard as /status shows it; the byte counts are from the last look (undefined before the first). */
export interface DiskGuardView {
  freeBytes?: number;
  minFreeBytes?: number;
  totalBytes?: number;
  low: boolean;
}

export interface DiskGuardOptions {
  /** The output directory: its file system is the one watched. */
  dir: string;
  /** The margin: bytes, or a percentage (0–99) of the file system's size; with both, the larger. */
  minFree: MinFree;
  note: NoteEvent;
  log: Logger;
  /** Retention; also settable later as `guard.freeSpace`. Default: none (nothing is removed early). */
  freeSpace?: FreeSpace;
  /** Records waiting in the data lanes' queues now, for `disk_low` and `disk_ok`. Default: always 0. */
  queued?: () => number;
  /** Default: node's `fs.promises.statfs`. Tests inject their own. */
  statfs?: StatFs;
  /** How often free space is looked at. Default: 1000 ms. */
  checkMs?: number;
}

const MIB = 1024 * 1024;
const DEFAULT_CHECK_MS = 1000;

/** The margin in bytes on a file system of `totalBytes`. */
export function minFreeBytes(minFree: MinFree, totalBytes: number): number {
  const byShare = minFree.percent ? Math.ceil((minFree.percent / 100) * totalBytes) : 0;
  return Math.max(minFree.bytes ?? 0, byShare);
}

/**
 * Once low, the guard is ok again only at the margin plus this much:
 * max(1 MiB, 1% of the margin), so a disk hovering at the line (a record
 * written, a zip replacing its .json) does not flap between low and ok. It
 * never asks for more than half of what lies above the margin, or a margin
 * near the whole disk could never be passed.
 */
export function hysteresisBytes(minBytes: number, totalBytes: number): number {
  const wanted = Math.max(MIB, Math.ceil(minBytes / 100));
  return Math.max(0, Math.min(wanted, Math.floor((totalBytes - minBytes) / 2)));
}

interface Measured {
  free: number;
  total: number;
  min: number;
}

export class DiskGuard implements DiskGate {
  /** Retention's hook (the recorder sets it); called with the shortfall at every check that finds the disk below the line. */
  freeSpace: FreeSpace | undefined;
  private readonly statfs: StatFs;
  private readonly checkMs: number;
  private readonly queued: () => number;
  private isLow = false;
  /** performance.now() when it went low: immune to clock steps. */
  private lowSince = 0;
  private last: Measured | undefined;
  private running: Promise<boolean> | undefined;
  private started = false;
  /** Stopped for good: a check still running then changes nothing. */
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly waiters = new Set<() => void>();
  /** The last error of each kind (statfs, freeSpace) until it succeeds again: a lasting one is logged once, not every second. */
  private readonly lastErrors = new Map<'statfs' | 'freeSpace', string>();

  constructor(private readonly opts: DiskGuardOptions) {
    this.freeSpace = opts.freeSpace;
    this.statfs = opts.statfs ?? ((dir) => nodeStatfs(dir));
    this.checkMs = opts.checkMs ?? DEFAULT_CHECK_MS;
    this.queued = opts.queued ?? (() => 0);
  }

  /** Records are held back (a stopped guard holds nothing). */
  get low(): boolean {
    return this.isLow;
  }

  /** Looks now, then every `checkMs` (an unref'd timer: the guard never holds the process open). */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    const loop = () => {
      void this.check().then(() => {
        if (!this.started) return;
        this.timer = setTimeout(loop, this.checkMs);
        this.timer.unref();
      });
    };
    loop();
  }

  /** No more checks; whatever waits goes on (the recorder is stopping: closing lanes write anyway). */
  stop(): void {
    this.started = false;
    this.stopped = true;
    clearTimeout(this.timer);
    this.isLow = false;
    this.release();
  }

  whenOk(signal?: AbortSignal): Promise<void> {
    if (!this.isLow || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      this.waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** Looks at free space now (a check already running is shared); resolves with whether the guard is low. Never rejects. */
  check(): Promise<boolean> {
    this.running ??= this.checkNow()
      .catch((err: Error) => {
        // A bug, not the disk (a hook that throws is caught below): logged, and the guard keeps its state and its polling.
        this.opts.log.error({ err }, 'disk guard: the check failed');
        return this.isLow;
      })
      .finally(() => (this.running = undefined));
    return this.running;
  }

  view(): DiskGuardView {
    return { freeBytes: this.last?.free, minFreeBytes: this.last?.min, totalBytes: this.last?.total, low: this.isLow };
  }

  private async checkNow(): Promise<boolean> {
    let m = await this.measure();
    if (!m || this.stopped) return this.isLow; // cannot tell: nothing changes
    if (m.free >= this.threshold(m)) return this.ok(m);
    if (this.freeSpace) {
      // Asked again at every check while low: retention may be able to remove more as windows age.
      // Room up to the margin plus the hysteresis: the open windows keep growing, and freeing only
      // the shortfall would fall short again at the next check, one window at a time.
      const need = m.min + hysteresisBytes(m.min, m.total) - m.free;
      let freed = 0;
      try {
        freed = await this.freeSpace(need);
        this.lastErrors.delete('freeSpace');
      } catch (err) {
        this.reportError('freeSpace', `retention could not free space: ${(err as Error).message}`, { err, need_bytes: need });
      }
      if (freed > 0) m = (await this.measure()) ?? m;
      if (m.free >= this.threshold(m)) return this.ok(m);
    }
    if (!this.isLow && !this.stopped) {
      this.isLow = true;
      this.lowSince = performance.now();
      const resumeAt = this.threshold(m);
      this.opts.note(
        'disk_low',
        { free_bytes: m.free, min_free_bytes: m.min, total_bytes: m.total, queued_records: this.queued(), resume_at_bytes: resumeAt },
        'warn',
        `the output file system has ${m.free} bytes free, below output.min_free (${m.min} bytes): records wait in their queues until ${resumeAt} bytes are free`,
      );
    }
    return true;
  }

  /** Free space is above the line: ends a low period. */
  private ok(m: Measured): false {
    if (!this.isLow) return false;
    this.isLow = false;
    const lowMs = Math.round(performance.now() - this.lowSince);
    const waited = this.queued();
    this.opts.note('disk_ok', { free_bytes: m.free, low_ms: lowMs, waited_records: waited }, 'info', `free space is back (${m.free} bytes) after ${lowMs} ms: ${waited} records that waited are written now`);
    this.release();
    return false;
  }

  /** The line to pass: the margin, or while low the margin plus the hysteresis. */
  private threshold(m: Measured): number {
    return this.isLow ? m.min + hysteresisBytes(m.min, m.total) : m.min;
  }

  private async measure(): Promise<Measured | undefined> {
    try {
      const s = await this.statfs(this.opts.dir);
      const total = s.blocks * s.bsize;
      this.last = { free: s.bavail * s.bsize, total, min: minFreeBytes(this.opts.minFree, total) };
      this.lastErrors.delete('statfs');
      return this.last;
    } catch (err) {
      this.reportError('statfs', `cannot read the free space of the output directory: ${(err as Error).message}`, { err });
      return undefined;
    }
  }

  private reportError(kind: 'statfs' | 'freeSpace', message: string, fields: Record<string, unknown>): void {
    if (this.lastErrors.get(kind) === message) return;
    this.lastErrors.set(kind, message);
    this.opts.log.warn({ ...fields, dir: this.opts.dir }, `disk guard: ${message}`);
  }

  private release(): void {
    for (const w of [...this.waiters]) w();
  }
}
