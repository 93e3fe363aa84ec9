/**
 * What every source kind hands the recorder: a named stream with its timing,
 * the shape its records take, and a fetch that returns the body as raw bytes.
 */

/** How a response body becomes a record line (DESIGN 2.1). */
export type RecordShape =
  | { mode: 'wrap'; key: string } // {"timestamp":ms,"<key>":<body>}
  | { mode: 'merge' }; // {"timestamp":ms,<body members>}

/** What the body must be for the stream to accept it. */
export type BodyKind = 'array' | 'object' | 'any';

export interface StreamTiming {
  intervalMs: number;
  timeoutMs: number;
  windowMs: number;
  /** Extra attempts inside one tick, made only while the tick has time left. */
  retries: number;
}

export interface Source {
  readonly name: string;
  readonly kind: string;
  readonly timing: StreamTiming;
  readonly shape: RecordShape;
  /** Where it fetches from, for logs and `nsr check` (never carries credentials). */
  readonly target: string;
  /**
   * Fetch one body. Resolves with validated, single-line JSON bytes; rejects
   * with a FetchError whose `reason` is what the events stream records.
   * `deadline` is the epoch ms by which the attempt (and its retries) must end.
   */
  fetch(signal: AbortSignal, deadline: number): Promise<Buffer>;
  close(): void;
}

/** Reasons are short, stable identifiers: analysts group missed ticks by them. */
export class FetchError extends Error {
  constructor(
    readonly reason: string,
    message: string,
    readonly attempts = 1,
  ) {
    super(message);
    this.name = 'FetchError';
  }
}
