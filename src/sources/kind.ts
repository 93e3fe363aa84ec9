/**
 * The contract of a source kind: a typed config schema and one build function
 * (Vector's component model). Adding a kind is one file plus one registry line.
 */
import type { z } from 'zod';
import type { Source, StreamTiming } from './source.js';
import type { Shard } from './probe/probe-targets.js';
import type { Connections } from '../connections/connections.js';

export interface BuildContext extends Connections {
  /** Timing already resolved from the stream's own fields and the config defaults. */
  timing: StreamTiming;
  /**
   * The running source of another stream, looked up when called (streams come
   * and go with reloads): a poller reads the devices of an inventory stream.
   */
  source: (stream: string) => Source | undefined;
  /** This process's share of the targets (`nsr run --shard k/N`). */
  shard?: Shard;
  /** `nsr check`: fetch, but change nothing (no checkpoints or state files, no history table). */
  dryRun?: boolean;
  /** The output directory: sources keep their checkpoints there, beside the windows they describe. */
  outputDir?: string;
}

export interface SourceKind<S extends z.ZodType = z.ZodType> {
  kind: string;
  schema: S;
  /** Streams a source of this kind writes besides its own; their names are checked like configured ones. */
  outputs?(name: string, config: z.output<S>): string[];
  /** Problems only the whole configuration shows (references to other streams), each `path: what and the fix`. */
  check?(name: string, config: z.output<S>, streams: Record<string, { kind: string }>): string[];
  build(name: string, config: z.output<S>, ctx: BuildContext): Source;
}
