/**
 * What the control plane reads from a running recorder: live references to
 * the counters the recorder keeps anyway, so serving /metrics and /status
 * costs nothing on the recording path.
 */
import type { StreamStats } from '../pipeline/stream-stats.js';
import type { DurationHistogram } from '../pipeline/histogram.js';

export interface StreamView {
  name: string;
  kind: string;
  target: string;
  intervalMs: number;
  timeoutMs: number;
  stats: StreamStats;
  queueDepth(): number;
  queueBytes(): number;
  /** Paused by a control command: its ticks are skipped (and reported), it is never stale. */
  paused(): boolean;
  /** What the source shows beyond the counters (a hub's peripherals and routes). */
  detail?(): Record<string, unknown>;
  /** A command of the source's own (`POST /streams/<name>/source/<action>`). */
  command?(action: string, args: Record<string, unknown>): Promise<{ status: number; body: unknown }>;
}

/** What the control plane may ask the recorder to do. */
export interface RecorderCommands {
  /** Closes every open window now (they are then compressed); resolves with how many. */
  rotate(): Promise<number>;
  /** Pauses or resumes a stream; undefined when there is no such stream. */
  setPaused(stream: string, paused: boolean): boolean | undefined;
  /** Reloads the configuration file; rejects (nothing changed) when it is invalid. */
  reload(): Promise<ReloadSummary>;
  /** Adds a stream (kept across restarts); rejects with a ConfigError naming the problem. */
  addStream(name: string, config: Record<string, unknown>): Promise<ReloadSummary>;
  /** Removes a stream (kept across restarts); undefined when there is no such stream. */
  removeStream(name: string): Promise<ReloadSummary | undefined>;
}

export interface ReloadSummary {
  added: string[];
  removed: string[];
  changed: string[];
  restart_required: string[];
}

/** A stream (or the events stream) whose window file writes keep failing, until one succeeds. */
export interface WriteFailure {
  stream: string;
  /** Clock ms of the first failure of this run of failures. */
  since: number;
  code?: string;
  message?: string;
}

export interface RecorderView {
  version: string;
  pid: number;
  outputDir: string;
  now(): number;
  startedAt(): number;
  /** Since when a stream without a record yet counts as fresh (the start of ticking). */
  freshSince(): number;
  stopping(): boolean;
  streams(): readonly StreamView[];
  /** Window files open now (every stream, the events stream too). */
  windowsOpen(): number;
  /** Every output (the events stream included) whose writes are failing now. */
  writeFailures(): WriteFailure[];
  /** Windows waiting for or in compression (including those waiting for a retry). */
  compressionBacklog(): number;
  /** The disk guard (output.min_free), when set: free space at its last look, its margin, and whether records are held back. */
  disk?(): DiskView;
  compressionSeconds: DurationHistogram;
  recentEvents(): Record<string, unknown>[];
  commands: RecorderCommands;
}

export interface DiskView {
  freeBytes?: number;
  minFreeBytes?: number;
  low: boolean;
}

/** A stream is fresh while it recorded within 3 intervals plus its timeout (or started that recently). */
export function freshnessBoundMs(s: Pick<StreamView, 'intervalMs' | 'timeoutMs'>): number {
  return 3 * s.intervalMs + s.timeoutMs;
}
