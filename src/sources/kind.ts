/**
 * The contract of a source kind: a typed config schema and one build function
 * (Vector's component model). Adding a kind is one file plus one registry line.
 */
import type { z } from 'zod';
import type { Source, StreamTiming } from './source.js';

export interface BuildContext {
  /** Timing already resolved from the stream's own fields and the config defaults. */
  timing: StreamTiming;
}

export interface SourceKind<S extends z.ZodType = z.ZodType> {
  kind: string;
  schema: S;
  build(name: string, config: z.output<S>, ctx: BuildContext): Source;
}
