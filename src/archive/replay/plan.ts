/**
 * What a replay is set up with (ReplayOptions) and what it serves (the plan:
 * which stream on which path, over which time range). Kept apart from the
 * server so the CLI and the pieces of the server share the shapes without
 * importing one another.
 */
import type { ArchiveProblem } from '../records.js';
import type { BodyShape } from '../record-body.js';

export interface ReplayOptions {
  /** Directory of the archives (nsr's or the original recorder's). */
  dir: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 8000; 0 picks a free port. */
  port?: number;
  /** Replay seconds per real second (default 1). */
  speed?: number;
  /** Start of the replay, epoch ms (default: the first record of the served streams). */
  from?: number;
  /** End of the replay, inclusive, epoch ms (default: their last record). */
  to?: number;
  /** Start again at `from` once `to` is passed (default: keep serving the last records). */
  loop?: boolean;
  /** Stream → endpoint path, over what the events stream or the defaults say. */
  map?: Record<string, string>;
  /** Clock, epoch ms (tests). Default Date.now. */
  now?: () => number;
  /** How often the readers are moved up to the replay time between requests, ms (default 200; 0: only on requests). */
  pumpMs?: number;
  /** A window that cannot be read, a record that cannot be served. */
  onProblem?: (p: ArchiveProblem) => void;
}

/** Where each stream's endpoint came from. */
export type EndpointSource = 'events' | 'default' | 'map';

export interface ReplayStreamInfo {
  stream: string;
  path: string;
  endpointFrom: EndpointSource;
  /** Undefined until the stream's first record is read, when the shape is told from the records. */
  shape: BodyShape | undefined;
  records: number;
  first: number;
  last: number;
}

export interface ReplayPlan {
  dir: string;
  from: number;
  to: number;
  streams: ReplayStreamInfo[];
  /** Streams in the archives that are not served, and why. */
  skipped: { stream: string; reason: string }[];
  /** The kernel's Top-K route (`?k=N`) and the stream it ranks, when a flow stream is served. */
  topK: { path: string; from: string } | undefined;
}

export interface ReplayStarted extends ReplayPlan {
  url: string;
  host: string;
  port: number;
}
