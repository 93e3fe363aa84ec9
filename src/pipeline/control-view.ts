/** The recorder as the control plane sees it (src/control/view.ts): live, read-only references and the commands. */
import type { RecorderCommands, RecorderView, StreamView } from '../control/view.js';
import type { DurationHistogram } from './histogram.js';
import type { StreamUnit } from './stream-unit.js';
import type { OutputLane } from './output-lane.js';
import type { DiskGuardView } from './disk-guard.js';
import { redactUrlsIn } from '../sources/common/redact.js';

export interface ViewSource {
  version: string;
  outputDir: string;
  now(): number;
  startedAt(): number;
  tickingAt(): number;
  stopping(): boolean;
  units(): Iterable<StreamUnit>;
  eventsLane: OutputLane;
  compressionBacklog(): number;
  /** The disk guard, when output.min_free is set. */
  disk?: () => DiskGuardView;
  compressionSeconds: DurationHistogram;
  recentEvents(): Record<string, unknown>[];
  commands: RecorderCommands;
}

export function controlView(r: ViewSource): RecorderView {
  // Built on each call: streams come and go with reloads.
  const streams = (): StreamView[] =>
    [...r.units()].map((u) => {
      const { queue } = u.lane;
      return {
        name: u.name,
        kind: u.source.kind,
        target: redactUrlsIn(u.source.target), // /status shows it: no URL credentials
        intervalMs: u.source.timing.intervalMs,
        timeoutMs: u.source.timing.timeoutMs,
        stats: u.stats,
        queueDepth: () => queue.depth,
        queueBytes: () => queue.stats().bytes,
        paused: () => u.paused,
        detail: u.source.detail && (() => u.source.detail!()),
        command: u.source.control && ((action, args) => u.source.control!(action, args)),
      };
    });
  return {
    version: r.version,
    pid: process.pid,
    outputDir: r.outputDir,
    now: r.now,
    startedAt: r.startedAt,
    // Before the first tick (recovery may be long) nothing can be stale yet.
    freshSince: () => r.tickingAt() || r.now(),
    stopping: r.stopping,
    streams,
    windowsOpen: () => {
      let n = r.eventsLane.writer.openWindow ? 1 : 0;
      for (const u of r.units()) for (const l of u.lanes) if (l.writer.openWindow) n++;
      return n;
    },
    writeFailures: () =>
      [r.eventsLane, ...[...r.units()].flatMap((u) => u.lanes)].flatMap((l) => {
        const since = l.stats.writeFailingSince;
        return since === undefined ? [] : [{ stream: l.name, since, code: l.stats.writeError?.code, message: l.stats.writeError?.message }];
      }),
    compressionBacklog: r.compressionBacklog,
    disk: r.disk,
    compressionSeconds: r.compressionSeconds,
    recentEvents: r.recentEvents,
    commands: r.commands,
  };
}
