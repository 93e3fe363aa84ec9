/**
 * A pool of compressing child processes. Jobs queue here; at most `workers`
 * run at once. A job whose child dies is retried; a job that fails
 * `maxAttempts` times is reported and its `.json` left in place for recovery
 * at the next start, so nothing is lost.
 *
 * With `gzip` (a program path), each window is one gzip process deflating it
 * while this process writes the zip around its output (gzip-deflater.ts):
 * ~2 MB and a millisecond to start. Only when the gzip children cannot keep
 * up with the windows coming in (gzipKeepsUp below), and for every window
 * without gzip or once it cannot be run, forked Node zip workers take them.
 * These start when a job arrives and leave once idle for `idleExitMs`: a
 * window closes once a minute at nominal load, and a Node process kept alive
 * between windows holds ~40 MB for nothing (BENCHMARKS.md §17).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { GzipFailedError, GzipUnavailableError, gzipDeflater } from './gzip-deflater.js';
import { writeZip } from './write-zip.js';
import type { ZipJob, ZipResult } from './zip-job.js';

export interface CompressionOutcome {
  job: ZipJob;
  ok: boolean;
  bytesIn?: number;
  bytesOut?: number;
  ms?: number;
  error?: string;
  attempts: number;
}

export interface CompressionPoolOptions {
  workers: number;
  maxAttempts?: number;
  onDone?: (outcome: CompressionOutcome) => void;
  /** Called when a worker process dies unexpectedly. */
  onWorkerExit?: (info: { pid?: number; code: number | null; signal: NodeJS.Signals | null; error?: string }) => void;
  /** An idle worker leaves after this long (default 500 ms: the windows of one boundary close within it). */
  idleExitMs?: number;
  /** A gzip program (path, or a name on PATH): each job runs one, and this process writes the zip. */
  gzip?: string;
  /** The gzip program could not be run: the pool went over to Node workers for good. */
  onGzipUnavailable?: (error: string) => void;
  /** A clock in milliseconds (default performance.now), for tests of the pace of boundaries. */
  now?: () => number;
}

/** Pause before trying to start a worker again after fork failed. */
const SPAWN_RETRY_MS = 5000;

interface Pending {
  job: ZipJob;
  attempts: number;
  resolve: (o: CompressionOutcome) => void;
}

interface Worker {
  child: ChildProcess;
  busy?: Pending;
  idleTimer?: NodeJS.Timeout;
}

/** A job running in this process around a gzip child. */
interface GzipRun {
  pending: Pending;
  child?: ChildProcess;
  done: Promise<void>;
}

const DEFAULT_IDLE_EXIT_MS = 500;

/**
 * Below this many bytes a boundary brings, gzip children take the windows
 * whatever the pace. GNU gzip deflates at about half the speed of Node's zlib
 * (7 against 3.6 ms of CPU per MB at level 4), so its extra CPU passes a Node
 * worker's start (~0.1 s, and ~45 MB more in the process tree) only at
 * ~30 MB. At 1-s fetches of NDTwin's flow and graph data (~10 MB a minute)
 * every window is far below it.
 */
export const GZIP_MAX_BYTES = 24 * 1024 * 1024;
/**
 * What one gzip child is counted on to deflate per millisecond (64 MB/s):
 * GNU gzip 1.12 at level 4 does ~145 MB/s alone on the bench machine and
 * 75–85 MB/s in the throughput run, with the recorder busy beside it.
 */
export const GZIP_BYTES_PER_MS = 64_000;
/** The share of the time between boundaries the gzip children may fill: the rest is for the recorder and whatever else runs. */
const GZIP_SHARE = 0.5;

/**
 * Whether gzip children can take `bytes` (what a boundary brings: see
 * CompressionPool.demand) at the pace of the windows: at `workers` children,
 * all deflated within half the time since the previous boundary (`periodMs`,
 * which the next one is expected to take too). A gzip child costs ~2 MB and
 * nothing to start, a Node worker ~45 MB of tree PSS and ~0.1 s of CPU at
 * every boundary, so a Node worker is worth it only for a backlog gzip would
 * not clear in time. At `fast` (20 fetches/s, 15-s windows: ~52 MB a
 * boundary) gzip needs ~0.8 of 7.5 s and takes them; in the throughput bench
 * (16 streams, 5-s windows: ~320 MB a boundary) it would need 5 of 2.5 s,
 * and a Node worker takes them. Under GZIP_MAX_BYTES gzip always does:
 * recovered windows at the start arrive with no pace yet.
 */
export function gzipKeepsUp(bytes: number, periodMs: number, workers: number): boolean {
  return bytes < Math.max(GZIP_MAX_BYTES, GZIP_BYTES_PER_MS * Math.max(1, workers) * periodMs * GZIP_SHARE);
}

const BATCH_MS = 50;
/**
 * A window more than this after the one before begins a boundary, for the
 * period gzipKeepsUp weighs by. Windows of all streams close on the same grid
 * instant, within milliseconds; one delayed past BATCH_MS must not make the
 * period look like a few milliseconds.
 */
const BOUNDARY_GAP_MS = 1000;

export class CompressionPool {
  private readonly waiting: Pending[] = [];
  private readonly workers = new Set<Worker>();
  private readonly gzipRuns = new Set<GzipRun>();
  private gzip: string | undefined;
  private nextId = 1;
  private retryTimer: NodeJS.Timeout | undefined;
  private batchTimer: NodeJS.Timeout | undefined;
  private closing = false;
  private idleWaiters: (() => void)[] = [];
  private readonly now: () => number;
  /** When the latest boundary's first window came, and the time from the boundary before (gzipKeepsUp). */
  private boundaryAt: number;
  private periodMs = 0;
  private lastSubmitAt = -Infinity;
  /** Bytes submitted since the latest boundary began, and in the boundary before it. */
  private boundaryBytes = 0;
  private previousBoundaryBytes = 0;

  constructor(private readonly opts: CompressionPoolOptions) {
    this.gzip = opts.gzip;
    this.now = opts.now ?? (() => performance.now());
    // The first boundary's period counts from here: at most a window, as the first one may be cut short by the start.
    this.boundaryAt = this.now();
  }

  /** Jobs waiting or running: the compression backlog. */
  get backlog(): number {
    let running = this.gzipRuns.size;
    for (const w of this.workers) if (w.busy) running++;
    return this.waiting.length + running;
  }

  /** Process ids of the live children (for status and for tests that kill one). */
  pids(): number[] {
    const pids: number[] = [];
    for (const { child } of [...this.workers, ...this.gzipRuns]) if (child?.pid !== undefined) pids.push(child.pid);
    return pids;
  }

  submit(job: Omit<ZipJob, 'id'>): Promise<CompressionOutcome> {
    const now = this.now();
    if (now - this.lastSubmitAt > BOUNDARY_GAP_MS) {
      this.periodMs = now - this.boundaryAt;
      this.boundaryAt = now;
      this.previousBoundaryBytes = this.boundaryBytes;
      this.boundaryBytes = 0;
    }
    this.lastSubmitAt = now;
    this.boundaryBytes += job.bytes ?? 0;
    return new Promise((resolve) => {
      this.waiting.push({ job: { ...job, id: this.nextId++ }, attempts: 0, resolve });
      this.dispatchBatched();
    });
  }

  /**
   * With gzip and nothing running, the first window of a boundary waits
   * BATCH_MS for the others (windows of all streams close on the same grid
   * instant), so that gzip or a Node worker is chosen by what the boundary
   * holds in all, not by whichever window closed first.
   */
  private dispatchBatched(): void {
    if (!this.gzip || this.workers.size + this.gzipRuns.size > 0) return this.dispatch();
    this.batchTimer ??= setTimeout(() => {
      this.batchTimer = undefined;
      this.dispatch();
    }, BATCH_MS);
  }

  /** Resolves when every submitted job has finished. */
  drain(): Promise<void> {
    if (this.backlog === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops the workers once idle. Jobs still queued are abandoned (their `.json` stays for recovery). */
  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.batchTimer);
    const exits = [...this.workers].map((w) => new Promise<void>((resolve) => {
      clearTimeout(w.idleTimer);
      if (w.child.exitCode !== null || w.child.signalCode !== null) return resolve();
      w.child.once('exit', () => resolve());
      if (w.busy) w.child.kill('SIGKILL');
      else w.child.disconnect();
    }));
    for (const run of this.gzipRuns) run.child?.kill('SIGKILL');
    await Promise.all([...exits, ...[...this.gzipRuns].map((r) => r.done)]);
    this.workers.clear();
  }

  private dispatch(): void {
    if (this.closing) return;
    while (this.waiting.length > 0) {
      const children = this.workers.size + this.gzipRuns.size;
      // A Node worker still alive takes any window: its start is paid.
      let worker = [...this.workers].find((w) => !w.busy);
      if (!worker && this.gzip && gzipKeepsUp(this.demand(), this.periodMs, this.opts.workers)) {
        if (children >= this.opts.workers) return;
        this.runGzip(this.gzip, this.waiting.shift()!);
        continue;
      }
      if (!worker && children < this.opts.workers) worker = this.spawn();
      if (!worker) return;
      const pending = this.waiting.shift()!;
      pending.attempts++;
      clearTimeout(worker.idleTimer);
      worker.idleTimer = undefined;
      worker.busy = pending;
      try {
        worker.child.send(pending.job);
      } catch {
        // The worker's channel closed under us: its 'exit' requeues the job.
      }
    }
  }

  /**
   * The work a boundary brings, for gzipKeepsUp: the windows waiting (any
   * left over included), or the boundary so far, or the one before it in all,
   * whichever is most. The windows of a boundary close within tens of
   * milliseconds, but past BATCH_MS on a loaded machine (16 streams in the
   * throughput bench): what waits at the batch is then only part of it, and
   * the previous boundary tells what is coming.
   */
  private demand(): number {
    let waiting = 0;
    for (const p of this.waiting) waiting += p.job.bytes ?? 0;
    return Math.max(waiting, this.boundaryBytes, this.previousBoundaryBytes);
  }

  private runGzip(program: string, pending: Pending): void {
    pending.attempts++;
    const started = performance.now();
    const run = { pending } as GzipRun;
    this.gzipRuns.add(run);
    const deflater = gzipDeflater(program, (child) => (run.child = child));
    run.done = writeZip(pending.job, deflater).then(
      ({ bytesIn, bytesOut }) => {
        this.gzipRuns.delete(run);
        this.settle(pending, { job: pending.job, ok: true, bytesIn, bytesOut, ms: performance.now() - started, attempts: pending.attempts });
      },
      (err: NodeJS.ErrnoException) => {
        this.gzipRuns.delete(run);
        if (err instanceof GzipUnavailableError) {
          // Not the job's fault: it goes to a Node worker, uncounted.
          this.gzip = undefined;
          pending.attempts--;
          this.waiting.unshift(pending);
          this.opts.onGzipUnavailable?.(err.message);
        } else {
          if (err instanceof GzipFailedError && !this.closing) this.opts.onWorkerExit?.({ pid: err.pid, code: err.exitCode, signal: err.signal, error: err.message });
          this.retryOrFail(pending, `${err.code ? `${err.code}: ` : ''}${err.message}`);
        }
      },
    ).finally(() => this.dispatch());
  }

  private spawn(): Worker | undefined {
    let child: ChildProcess;
    try {
      child = fork(workerPath(), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json' });
    } catch (err) {
      this.spawnFailed(err as Error);
      return undefined;
    }
    const worker: Worker = { child };
    this.workers.add(worker);
    // fork reports EMFILE, EAGAIN, ENOENT… as an 'error' event: without a
    // listener that would crash the recorder. The process may never have run.
    child.on('error', (err) => {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) child.kill('SIGKILL');
      else if (this.workers.delete(worker)) {
        const lost = worker.busy;
        worker.busy = undefined;
        if (lost) this.retryOrFail(lost, `cannot start a compression worker: ${err.message}`);
        this.spawnFailed(err);
      }
    });
    child.on('message', (result: ZipResult) => this.finished(worker, result));
    child.on('exit', (code, signal) => {
      if (!this.workers.delete(worker)) return; // already handled as an 'error'
      if (this.closing) return;
      this.opts.onWorkerExit?.({ pid: child.pid, code, signal });
      const lost = worker.busy;
      worker.busy = undefined;
      if (lost) this.retryOrFail(lost, `the compression worker died (${signal ?? `exit code ${code}`})`);
      this.dispatch();
    });
    return worker;
  }

  /** No worker could be started: retry later rather than spin, so the jobs wait (their .json files are safe). */
  private spawnFailed(err: Error): void {
    this.opts.onWorkerExit?.({ code: null, signal: null, error: err.message });
    if (this.retryTimer || this.closing) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.dispatch();
    }, SPAWN_RETRY_MS);
    this.retryTimer.unref();
  }

  private finished(worker: Worker, result: ZipResult): void {
    const pending = worker.busy;
    if (!pending || pending.job.id !== result.id) return;
    worker.busy = undefined;
    if (result.ok) this.settle(pending, { job: pending.job, ok: true, bytesIn: result.bytesIn, bytesOut: result.bytesOut, ms: result.ms, attempts: pending.attempts });
    else this.retryOrFail(pending, `${result.code ? `${result.code}: ` : ''}${result.error}`);
    this.dispatch();
    if (!worker.busy) this.idleLater(worker);
  }

  /** An idle worker leaves unless a job comes within `idleExitMs`; its exit is then no death. */
  private idleLater(worker: Worker): void {
    clearTimeout(worker.idleTimer);
    worker.idleTimer = setTimeout(() => {
      worker.idleTimer = undefined;
      if (worker.busy || !this.workers.delete(worker)) return;
      try {
        worker.child.disconnect(); // the worker exits when its channel closes
      } catch {
        worker.child.kill();
      }
    }, this.opts.idleExitMs ?? DEFAULT_IDLE_EXIT_MS);
    // A leaving worker must not keep the recorder alive, nor its timer.
    worker.idleTimer.unref();
  }

  private retryOrFail(pending: Pending, error: string): void {
    if (pending.attempts < (this.opts.maxAttempts ?? 3) && !this.closing) {
      this.waiting.unshift(pending);
    } else {
      this.settle(pending, { job: pending.job, ok: false, error, attempts: pending.attempts });
    }
  }

  private settle(pending: Pending, outcome: CompressionOutcome): void {
    this.opts.onDone?.(outcome);
    pending.resolve(outcome);
    if (this.backlog === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }
}

/** The built worker; under a TypeScript test runner only the `.ts` source exists, and fork inherits the loader. */
function workerPath(): string {
  const js = fileURLToPath(new URL('./zip-worker.js', import.meta.url));
  return existsSync(js) ? js : fileURLToPath(new URL('./zip-worker.ts', import.meta.url));
}
