/**
 * The contract of a sink kind, shaped like a source kind (Vector's component
 * model): the stream option it answers to with its schema, which of a
 * stream's outputs it takes, and one build function. Adding a sink is one
 * folder here plus one registry line; the recorder never names one.
 *
 * A sink is fed after a record's line is in its window file, so what a sink
 * could not take is always still in the windows (and can be read back).
 */
import type { z } from 'zod';
import type { StreamConfig } from '../config/stream-config.js';
import type { Connections } from '../connections/connections.js';
import type { NoteEvent } from '../logging/note-event.js';
import type { ClosedWindow } from './window-writer.js';

/** One stream (or extra output of a stream) that feeds a sink, with that stream's settings for it. */
export interface SinkFeed {
  /** The stream whose records come in. */
  stream: string;
  /** The source kind that writes it (probe records have a table of their own). */
  kind: string;
  /** The stream's window length: a sink that writes files of its own windows them the same way. */
  windowMs: number;
  /** What the stream's option for this sink said (`true`, `{routing_key}`, `{columns}`), checked by the schema. */
  settings: unknown;
}

export interface Sink {
  /** A stream whose records come in from now on (at start, or added by a reload). */
  addStream(feed: SinkFeed): void;
  /** A stream taken out by a reload: what it sent is finished (files closed); nothing more comes. */
  removeStream?(stream: string): Promise<void>;
  /** A record whose line is in its window file (`ts` is its timestamp). Must not throw or block. */
  offer(stream: string, ts: number, line: Buffer, tick?: number): void;
  /** The oldest record of `stream` the sink may still read back from the window files (undefined: none): retention keeps those windows. */
  readBackFrom?(stream: string): number | undefined;
  /** At stop, after every window file is closed: writes what waits until `deadline`; says what it could not. */
  close(deadline: number): Promise<{ unwritten: number }>;
}

/** What a sink is given to run: nothing of the topology, only what it uses. */
export interface SinkContext {
  /** The output directory: state files (marks) and any files of the sink's own go here. */
  dir: string;
  connections: Connections;
  note: NoteEvent;
  /** Hands a closed file of the sink's own to the compression pool (zipped like a window). */
  compress(window: ClosedWindow): void;
  now(): number;
  /** The output settings window files are written with (fsync policy, size cap). */
  output: { maxWindowBytes: number; fsync: 'record' | 'interval' | 'close'; fsyncIntervalMs: number };
}

export interface SinkKind<S extends z.ZodType = z.ZodType> {
  kind: string;
  /** The key on a stream that sends its records here, and that key's schema (added to every stream kind's schema). */
  option?: { key: string; schema: S };
  /**
   * The streams of `stream` that feed this sink (its own name, or some of the
   * extra `outputs` it writes), each with its settings; none when it does not.
   */
  feeds(stream: StreamConfig, outputs: readonly string[]): SinkFeed[];
  /** Problems only the whole configuration shows (a connection section missing), each `path: what and the fix`. */
  check?(streams: readonly StreamConfig[], connections: Connections): string[];
  /** Starts the sink; pg, amqplib and the like are imported here, so they load only when used. Throws when it cannot run at all. */
  build(ctx: SinkContext): Promise<Sink>;
}

/** The usual `feeds`: a stream whose option is set sends its own records and, if `outputs` is set, those of its extra outputs too. */
export function feedsWhenSet(key: string, withOutputs: boolean): SinkKind['feeds'] {
  return (stream, outputs) => {
    const settings = stream.options[key];
    if (settings === undefined || settings === false) return [];
    const names = withOutputs ? [stream.name, ...outputs] : [stream.name];
    return names.map((name) => ({ stream: name, kind: stream.kind, windowMs: stream.timing.windowMs, settings }));
  };
}
