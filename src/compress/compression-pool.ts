/**
 * A pool of forked zip workers. Jobs queue here; each worker handles one at a
 * time. A worker that dies is replaced and its job retried; a job that fails
 * `maxAttempts` times is reported and its `.json` left in place for recovery
 * at the next start, so nothing is lost.
 *
 * Workers start when a job arrives and leave once idle for `idleExitMs`: a
 * window closes once a minute at nominal load, and a Node process kept alive
 * between windows holds ~40 MB for nothing (BENCHMARKS.md §17). Starting one
 * costs ~50 ms of CPU per window boundary, far less than it saves.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
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

const DEFAULT_IDLE_EXIT_MS = 500;

export class CompressionPool {
  private readonly waiting: Pending[] = [];
  private readonly workers = new Set<Worker>();
  private nextId = 1;
  private retryTimer: NodeJS.Timeout | undefined;
  private closing = false;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly opts: CompressionPoolOptions) {}

  /** Jobs waiting or running: the compression backlog. */
  get backlog(): number {
    let running = 0;
    for (const w of this.workers) if (w.busy) running++;
    return this.waiting.length + running;
  }

  /** Process ids of the live workers (for status and for tests that kill one). */
  pids(): number[] {
    return [...this.workers].map((w) => w.child.pid).filter((p): p is number => p !== undefined);
  }

  submit(job: Omit<ZipJob, 'id'>): Promise<CompressionOutcome> {
    return new Promise((resolve) => {
      this.waiting.push({ job: { ...job, id: this.nextId++ }, attempts: 0, resolve });
      this.dispatch();
    });
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
    const exits = [...this.workers].map((w) => new Promise<void>((resolve) => {
      clearTimeout(w.idleTimer);
      if (w.child.exitCode !== null || w.child.signalCode !== null) return resolve();
      w.child.once('exit', () => resolve());
      if (w.busy) w.child.kill('SIGKILL');
      else w.child.disconnect();
    }));
    await Promise.all(exits);
    this.workers.clear();
  }

  private dispatch(): void {
    if (this.closing) return;
    while (this.waiting.length > 0) {
      let worker = [...this.workers].find((w) => !w.busy);
      if (!worker && this.workers.size < this.opts.workers) worker = this.spawn();
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
