/**
 * A stream as the loader resolved it: its name, kind, timing and validated
 * options. Source kinds build from it and sink kinds read their options in it;
 * it imports nothing of either, so both can depend on it.
 */
import type { StreamTiming } from '../sources/source.js';

export interface StreamConfig {
  name: string;
  kind: string;
  timing: StreamTiming;
  /** The validated options: the kind's own and every sink kind's (`postgres: true`, `csv: {…}`). */
  options: Record<string, unknown> & { kind: string; enabled: boolean };
}

/** The stream a source that tracks its inventory writes its changes to (`added`/`changed`/`removed`). */
export const changesStream = (name: string) => `${name}_changes`;
