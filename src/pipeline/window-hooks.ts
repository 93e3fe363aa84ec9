/**
 * Runs the `on_window` command (config/on-window.ts) for each finished,
 * zipped window, until it succeeds: to copy archives off the machine for
 * months without anyone watching. Windows run in the order they were
 * submitted, at most `concurrency` at once per distinct settings; a failed
 * one is tried again after initial, 2×initial, … up to max, for as long as
 * nsr runs (what is pending at a stop is submitted again at the next start).
 *
 * While a command keeps failing (the storage is down), its settings' lane
 * waits as long as the latest failure's back-off before it starts anything:
 * one try per wait, not one per pending window (hundreds, after a day),
 * each with its event. Windows not tried yet go before ones waiting for a
 * retry, so one window the command always refuses holds up no other.
 *
 * Events name the stream, the file and how the command ended; never its
 * command line or environment, which may hold a token.
 */
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../logging/logger.js';
import type { NoteEvent } from '../logging/note-event.js';
import { hookArgv, type WindowHookSettings } from '../config/on-window.js';
import { startHookProcess, type HookProcess, type HookResult } from './hook-process.js';

export interface HookWindow {
  stream: string;
  /** The zip's base name. */
  file: string;
  /** The zip's absolute path. */
  path: string;
  records: number;
  /** Epoch ms of the first and the last record. */
  first: number;
  last: number;
  /** Uncompressed bytes. */
  bytes: number;
  zipBytes: number;
  /** Epoch ms. */
  windowStart: number;
}

export interface WindowHooksOptions {
  /** The settings a stream's windows run with; undefined: none for that stream. Asked again at each try, so a reload applies. */
  settingsFor(stream: string): WindowHookSettings | undefined;
  /** The events stream. */
  note: NoteEvent;
  log: Logger;
  /** A window's command succeeded (called once per window). */
  onSuccess(w: HookWindow): void;
  /** A window is no longer waited for: its zip is gone, or its stream has no command any more (a reload). */
  onDropped?(w: HookWindow, reason: 'zip_gone' | 'hook_removed'): void;
  /** @default Date.now */
  now?: () => number;
}

/** Failures in a row from which a failure is an error, not a warning. */
const ERROR_AFTER = 5;

interface Job {
  w: HookWindow;
  /** Failed tries so far (all of them: a success ends the job). */
  failures: number;
  /** Not tried again before this time. */
  notBefore: number;
  state: 'waiting' | 'starting' | 'running';
  process?: HookProcess;
}

interface Lane {
  running: number;
  /** Failures in a row of this lane's commands; a success resets it. */
  failures: number;
  notBefore: number;
}

export class WindowHooks {
  private readonly now: () => number;
  /** Pending windows by file name; a Map keeps submission order. */
  private readonly jobs = new Map<string, Job>();
  private readonly lanes = new Map<string, Lane>();
  private readonly laneKeys = new WeakMap<WindowHookSettings, string>();
  private wake?: NodeJS.Timeout;
  private pumpQueued = false;
  private stopped = false;
  private stopping?: Promise<void>;

  constructor(private readonly opts: WindowHooksOptions) {
    this.now = opts.now ?? Date.now;
  }

  wants(stream: string): boolean {
    return this.opts.settingsFor(stream) !== undefined;
  }

  /** Queues a zipped window (once: a window already pending is not queued again). Runs nothing at once. */
  submit(w: HookWindow): void {
    if (this.jobs.has(w.file)) return;
    if (!this.wants(w.stream)) {
      this.opts.log.debug({ stream: w.stream, file: w.file }, 'no on_window command for this stream');
      return;
    }
    this.jobs.set(w.file, { w, failures: 0, notBefore: 0, state: 'waiting' });
    this.pumpSoon();
  }

  /** The settings may have changed (a reload): windows whose stream has no command any more are dropped now, not at their next try. */
  settingsChanged(): void {
    this.pumpSoon();
  }

  /** Queued, running or waiting for a retry. */
  isPending(file: string): boolean {
    return this.jobs.has(file);
  }

  get pendingCount(): number {
    return this.jobs.size;
  }

  /** Starts nothing more; running commands get SIGTERM (their group), SIGKILL after graceMs. Pending windows stay pending. */
  stop(graceMs: number): Promise<void> {
    this.stopping ??= (async () => {
      this.stopped = true;
      clearTimeout(this.wake);
      const running = [...this.jobs.values()].flatMap((j) => (j.process ? [j.process] : []));
      for (const p of running) p.terminate(graceMs);
      // A process SIGKILL cannot end (stuck in the kernel) does not hold up the stop for ever.
      let cap: NodeJS.Timeout | undefined;
      const capped = new Promise<void>((resolve) => (cap = setTimeout(resolve, graceMs + 2000)));
      await Promise.race([Promise.all(running.map((p) => p.done)), capped]);
      clearTimeout(cap);
    })();
    return this.stopping;
  }

  /** Many submissions (the pending ones at a start) cost one pass. */
  private pumpSoon(): void {
    if (this.pumpQueued || this.stopped) return;
    this.pumpQueued = true;
    setImmediate(() => {
      this.pumpQueued = false;
      this.pumpSafely();
    });
  }

  /** From a timer: whatever goes wrong is logged, never thrown into the recorder. */
  private pumpSafely(): void {
    try {
      this.pump();
    } catch (err) {
      this.opts.log.error({ err }, 'on_window: scheduling failed; trying again in a second');
      clearTimeout(this.wake);
      this.wake = setTimeout(() => this.pumpSafely(), 1000);
      this.wake.unref();
    }
  }

  /** Starts what may start: per lane, the due window with the fewest failures, then the earliest submitted. */
  private pump(): void {
    if (this.stopped) return;
    clearTimeout(this.wake);
    this.wake = undefined;
    const now = this.now();
    let wakeAt = Infinity;
    for (;;) {
      const best = new Map<string, { job: Job; settings: WindowHookSettings }>();
      for (const job of this.jobs.values()) {
        if (job.state !== 'waiting') continue;
        const settings = this.opts.settingsFor(job.w.stream);
        if (!settings) {
          this.drop(job, 'hook_removed');
          continue;
        }
        const key = this.laneKey(settings);
        const lane = this.lane(key);
        if (lane.running >= settings.concurrency) continue;
        const due = Math.max(job.notBefore, lane.notBefore);
        if (due > now) {
          wakeAt = Math.min(wakeAt, due);
          continue;
        }
        const other = best.get(key);
        if (!other || job.failures < other.job.failures) best.set(key, { job, settings });
      }
      if (best.size === 0) break;
      for (const [key, { job, settings }] of best) void this.run(job, settings, key);
    }
    if (wakeAt !== Infinity) {
      this.wake = setTimeout(() => this.pumpSafely(), Math.max(0, wakeAt - now));
      this.wake.unref();
    }
  }

  private async run(job: Job, settings: WindowHookSettings, key: string): Promise<void> {
    const lane = this.lane(key);
    lane.running++;
    job.state = 'starting';
    try {
      if (await isGone(job.w.path)) {
        this.drop(job, 'zip_gone');
        return;
      }
      if (this.stopped) return;
      const attempt = job.failures + 1;
      const startedAt = this.now();
      job.state = 'running';
      job.process = startHookProcess({
        argv: hookArgv(settings, job.w),
        cwd: path.dirname(job.w.path),
        env: hookEnv(job.w, attempt),
        stdin: `${JSON.stringify(hookMetadata(job.w, attempt))}\n`,
        timeoutMs: settings.timeoutMs,
      });
      const result = await job.process.done;
      job.process = undefined;
      // Ended by the stop: neither a success nor a failure; the window stays pending for the next start.
      if (result.terminated) return;
      if (succeeded(result)) this.succeed(job, lane, attempt, this.now() - startedAt);
      else this.fail(job, lane, settings, attempt, result);
    } catch (err) {
      // Nothing above should throw; if it does, the window is tried again rather than lost or crashing nsr.
      this.opts.log.error({ err, stream: job.w.stream, file: job.w.file }, 'on_window: unexpected error');
      job.notBefore = this.now() + settings.retryInitialMs;
    } finally {
      lane.running--;
      job.process = undefined;
      job.state = 'waiting';
      this.pumpSoon();
    }
  }

  private succeed(job: Job, lane: Lane, attempt: number, ms: number): void {
    this.jobs.delete(job.w.file);
    lane.failures = 0;
    lane.notBefore = 0;
    this.opts.note('window_hook_done', { stream: job.w.stream, file: job.w.file, attempts: attempt, ms }, 'info', `on_window done for ${job.w.file}`);
    try {
      this.opts.onSuccess(job.w);
    } catch (err) {
      this.opts.log.error({ err, stream: job.w.stream, file: job.w.file }, 'on_window: recording the success failed');
    }
  }

  private fail(job: Job, lane: Lane, settings: WindowHookSettings, attempt: number, result: HookResult): void {
    job.failures = attempt;
    lane.failures++;
    const now = this.now();
    job.notBefore = now + backoff(settings, job.failures);
    lane.notBefore = now + backoff(settings, lane.failures);
    const level = job.failures >= ERROR_AFTER || lane.failures >= ERROR_AFTER ? 'error' : 'warn';
    this.opts.note(
      'window_hook_failed',
      {
        stream: job.w.stream,
        file: job.w.file,
        attempt,
        exit_code: result.exitCode,
        signal: result.signal,
        timed_out: result.timedOut,
        stderr: result.stderr,
        ...(result.error ? { error: result.error } : {}),
        retry_in_ms: Math.max(job.notBefore, lane.notBefore) - now,
      },
      level,
      `on_window failed for ${job.w.file} (try ${attempt}${result.timedOut ? ', timed out' : ''}); trying again later`,
    );
  }

  /** A window whose command will not run: not pending any more. */
  private drop(job: Job, reason: 'zip_gone' | 'hook_removed'): void {
    this.jobs.delete(job.w.file);
    this.opts.note('window_hook_skipped', { stream: job.w.stream, file: job.w.file, reason }, reason === 'zip_gone' ? 'warn' : 'info');
    try {
      this.opts.onDropped?.(job.w, reason);
    } catch (err) {
      this.opts.log.error({ err, file: job.w.file }, 'on_window: a dropped window could not be taken note of');
    }
  }

  private laneKey(settings: WindowHookSettings): string {
    let key = this.laneKeys.get(settings);
    if (key === undefined) this.laneKeys.set(settings, (key = JSON.stringify(settings)));
    return key;
  }

  private lane(key: string): Lane {
    let lane = this.lanes.get(key);
    if (!lane) this.lanes.set(key, (lane = { running: 0, failures: 0, notBefore: 0 }));
    return lane;
  }
}

const succeeded = (r: HookResult) => r.exitCode === 0 && !r.timedOut && !r.error;

/** initial, 2×initial, 4×initial, … never more than max. */
export function backoff(settings: WindowHookSettings, failures: number): number {
  return Math.min(settings.retryMaxMs, settings.retryInitialMs * 2 ** Math.min(Math.max(0, failures - 1), 40));
}

async function isGone(file: string): Promise<boolean> {
  try {
    await lstat(file);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

function hookEnv(w: HookWindow, attempt: number): Record<string, string> {
  return {
    NSR_WINDOW_PATH: w.path,
    NSR_FILE: w.file,
    NSR_STREAM: w.stream,
    NSR_RECORDS: String(w.records),
    NSR_FIRST: String(w.first),
    NSR_LAST: String(w.last),
    NSR_BYTES: String(w.bytes),
    NSR_ZIP_BYTES: String(w.zipBytes),
    NSR_WINDOW_START: String(w.windowStart),
    NSR_ATTEMPT: String(attempt),
  };
}

function hookMetadata(w: HookWindow, attempt: number) {
  return { stream: w.stream, file: w.file, path: w.path, records: w.records, first: w.first, last: w.last, bytes: w.bytes, zip_bytes: w.zipBytes, window_start: w.windowStart, attempt };
}
