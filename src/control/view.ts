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
  /** Windows waiting for or in compression (including those waiting for a retry). */
  compressionBacklog(): number;
  compressionSeconds: DurationHistogram;
  recentEvents(): Record<string, unknown>[];
}

/** A stream is fresh while it recorded within 3 intervals plus its timeout (or started that recently). */
export function freshnessBoundMs(s: Pick<StreamView, 'intervalMs' | 'timeoutMs'>): number {
  return 3 * s.intervalMs + s.timeoutMs;
}
