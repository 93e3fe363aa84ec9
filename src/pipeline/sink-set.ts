/**
 * The sinks the streams feed, built from the sink registry: a sink kind runs
 * when some stream feeds it, and each lane is told which sinks take its
 * records. Nothing here names a kind.
 */
import type { Connections } from '../connections/connections.js';
import { ConfigError } from '../config/errors.js';
import type { StreamConfig } from '../config/stream-config.js';
import type { NoteEvent } from '../logging/note-event.js';
import type { Sink, SinkContext, SinkFeed, SinkKind } from '../sinks/kind.js';
import { sinkKinds } from '../sinks/registry.js';
import type { StreamUnit } from './stream-unit.js';

export class SinkSet {
  private readonly running = new Map<SinkKind, Sink>();

  constructor(
    private readonly ctx: Omit<SinkContext, 'connections'>,
    private readonly connections: Connections,
  ) {}

  /** What each sink kind takes from this stream (its own records, its outputs). */
  static feedsOf(stream: StreamConfig, outputs: readonly string[]): { kind: SinkKind; feed: SinkFeed }[] {
    return sinkKinds().flatMap((kind) => kind.feeds(stream, outputs).map((feed) => ({ kind, feed })));
  }

  /**
   * Starts every sink some unit feeds, then wires the units' lanes to them.
   * A sink that cannot run at all (a database of the wrong schema version) is
   * a configuration error: nothing has been recorded yet.
   */
  async start(units: readonly StreamUnit[]): Promise<void> {
    const wanted = units.flatMap((u) => SinkSet.feedsOf(u.config, [...u.outputs.keys()]));
    for (const { kind } of wanted) {
      if (this.running.has(kind)) continue;
      try {
        this.running.set(kind, await kind.build({ ...this.ctx, connections: this.connections }));
      } catch (err) {
        throw new ConfigError((err as Error).message);
      }
    }
    for (const u of units) this.attach(u);
  }

  /**
   * Wires a unit's lanes to the sinks it feeds (at start, or when a reload
   * adds it). A sink no stream used at start is built now; if it cannot be,
   * the records stay in the windows and the event says so.
   */
  async attachNew(unit: StreamUnit): Promise<void> {
    for (const { kind } of SinkSet.feedsOf(unit.config, [...unit.outputs.keys()])) {
      if (this.running.has(kind)) continue;
      try {
        this.running.set(kind, await kind.build({ ...this.ctx, connections: this.connections }));
      } catch (err) {
        this.ctx.note('sink_failed', { stream: unit.name, sink: kind.kind, message: (err as Error).message }, 'error', `${unit.name}: cannot start the ${kind.kind} sink (${(err as Error).message}); the records stay in the window files`);
      }
    }
    this.attach(unit);
  }

  private attach(unit: StreamUnit): void {
    for (const { kind, feed } of SinkSet.feedsOf(unit.config, [...unit.outputs.keys()])) {
      const sink = this.running.get(kind);
      const lane = unit.lanes.find((l) => l.name === feed.stream);
      if (!sink || !lane) continue;
      sink.addStream(feed);
      lane.sinks.push(sink);
    }
  }

  /** A unit taken out by a reload: sinks that keep files of their own close them. */
  async detach(unit: StreamUnit): Promise<void> {
    for (const lane of unit.lanes) for (const sink of lane.sinks) await sink.removeStream?.(lane.name);
  }

  /** The oldest record of `stream` some sink may still read back from the windows. */
  readBackFrom(stream: string): number | undefined {
    let from: number | undefined;
    for (const sink of this.running.values()) {
      const t = sink.readBackFrom?.(stream);
      if (t !== undefined && (from === undefined || t < from)) from = t;
    }
    return from;
  }

  /** At stop, after the windows are closed: each sink writes what waits until `deadline`; the records they could not take. */
  async close(deadline: number): Promise<number> {
    let waiting = 0;
    for (const sink of this.running.values()) waiting += (await sink.close(deadline)).unwritten;
    return waiting;
  }
}
