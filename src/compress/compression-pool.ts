/**
 * A pool of compressing child processes. Jobs queue here; at most `workers`
 * run at once. A job whose child dies is retried; a job that fails
 * `maxAttempts` times is reported and its `.json` left in place for recovery
 * at the next start, so nothing is lost.
 *
 * With `gzip` (a program path), while less than GZIP_MAX_BYTES waits, each
 * window is one gzip process deflating it while this process writes the zip
 * around its output (gzip-deflater.ts): ~2 MB and a millisecond to start.
 * More bytes at once, and every window without gzip or once it cannot be
 * run, go to forked Node zip workers. These start when a job arrives and
 * leave once idle for `idleExitMs`: a window closes once a minute at nominal
 * load, and a Node process kept alive between windows holds ~40 MB for
 * nothing (BENCHMARKS.md §17).
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
 * When the windows waiting add up to this, a Node worker takes them even when
 * gzip is there: GNU gzip deflates at about half the speed of Node's zlib (7
 * against 3.6 ms of CPU per MB at level 4), which passes a Node worker's
 * start (~0.1 s) at ~30 MB. A Node worker still alive takes the small ones
 * too: its start is paid. At 1-s fetches of NDTwin's flow and graph data
 * (~10 MB a minute) every window goes to gzip.
 */
export const GZIP_MAX_BYTES = 24 * 1024 * 1024;
const BATCH_MS = 50;

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

  constructor(private readonly opts: CompressionPoolOptions) {
    this.gzip = opts.gzip;
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
      let worker = [...this.workers].find((w) => !w.busy);
      if (!worker && this.gzip && this.waitingBytes() < GZIP_MAX_BYTES) {
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

  private waitingBytes(): number {
    let bytes = 0;
    for (const p of this.waiting) bytes += p.job.bytes ?? 0;
    return bytes;
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
