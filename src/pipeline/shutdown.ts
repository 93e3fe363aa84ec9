/**
 * The stop of DESIGN 2.6 as one sequence over every unit. `hurry` (a second
 * signal, or the deadline) is one switch each step honours: compression is
 * skipped and the window files wait for the next start's recovery.
 */
import type { Logger } from '../logging/logger.js';
import type { NoteEvent } from '../logging/note-event.js';
import type { OutputLane } from './output-lane.js';
import type { SinkSet } from './sink-set.js';
import type { StreamUnit } from './stream-unit.js';
import type { WindowCompressor } from './window-compressor.js';

export interface StopResult {
  /** Every fetched record reached a window file. */
  complete: boolean;
  /** Every closed window was compressed. */
  compressed: boolean;
  deadlineReached: boolean;
}

/** A second signal or the deadline: once set, waits for compression end at once. */
export class Hurry {
  on = false;
  readonly signal: Promise<void>;
  private resolve!: () => void;

  constructor() {
    this.signal = new Promise((r) => (this.resolve = r));
  }

  set(): boolean {
    if (this.on) return false;
    this.on = true;
    this.resolve();
    return true;
  }
}

export interface RunningParts {
  units: readonly StreamUnit[];
  eventsLane: OutputLane;
  sinks: SinkSet;
  compressor: WindowCompressor;
  note: NoteEvent;
  log: Logger;
  hurry: Hurry;
  now(): number;
  startedAt: number;
  graceMs: number;
  /** Cancels every fetch still running (the grace period is over). */
  abortFetches(): void;
  /** After the events window is closed, late events can only be logged. */
  closeEvents(): void;
  /** Last, once everything is written: the control server, then the lock. */
  release(): Promise<void>;
}

export async function shutdown(p: RunningParts, reason: string, deadlineMs: number): Promise<StopResult> {
  const began = p.now();
  let deadlineReached = false;
  const deadline = setTimeout(() => {
    deadlineReached = true;
    p.log.error(`shutdown deadline of ${deadlineMs} ms reached: skipping what is left of compression`);
    if (p.hurry.set()) p.log.warn('second signal: skipping compression; window files are compressed at the next start');
  }, deadlineMs);
  deadline.unref();
  const compressing = () => !p.hurry.on;

  // 1. no new ticks
  for (const u of p.units) u.stopTicking();
  // 2. in-flight fetches finish within the grace period, then are aborted
  const busy = p.units.filter((u) => u.busy);
  if (busy.length > 0) {
    const all = Promise.allSettled(busy.map((u) => u.settled()));
    const settled = await Promise.race([all.then(() => true), sleep(p.graceMs).then(() => false)]);
    if (!settled) p.abortFetches();
    await all;
  }
  p.abortFetches();
  // 3. drain every queue into its windows, 4. close and fsync the windows
  const unwritten = (await Promise.all(p.units.map((u) => u.closeLanes({ compress: compressing, atStop: true })))).reduce((a, b) => a + b, 0);
  // The sinks get up to half the deadline; what they do not take is read back from the window files at the next start.
  // Hurried, they close at once: files of their own are closed, marks saved, nothing more is sent.
  const sinkWaiting = await p.sinks.close(p.hurry.on ? p.now() : began + deadlineMs / 2);
  // 5. compress (windows waiting for a retry get one last try)
  p.compressor.beginStop(p.hurry.on);
  if (compressing()) await p.compressor.drain(p.hurry.signal);
  // 6. the stop event, then the events window itself
  const compressed = compressing() && p.compressor.allDone;
  p.note('stop', {
    reason,
    uptime_ms: p.now() - p.startedAt,
    shutdown_ms: p.now() - began,
    unwritten_records: unwritten,
    sink_waiting: sinkWaiting || undefined,
    compressed,
    deadline_reached: deadlineReached || undefined,
    streams: Object.fromEntries(p.units.flatMap((u) => u.lanes).map((l) => [l.name, l.stats.summary()])),
  }, unwritten > 0 ? 'error' : 'info');
  const eventsUnwritten = await p.eventsLane.close({ compress: compressing, atStop: true, onDrained: p.closeEvents });
  if (compressing()) await p.compressor.drain(p.hurry.signal);
  await p.compressor.close();
  for (const u of p.units) u.source.close();
  clearTimeout(deadline);
  // 7. /status and /metrics answer throughout the stop: the control server goes last.
  await p.release();
  return { complete: unwritten === 0 && eventsUnwritten === 0, compressed: compressed && !p.hurry.on, deadlineReached };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
