/**
 * What every source kind hands the recorder: a named stream with its timing,
 * the shape its records take, and a fetch that returns the body as raw bytes.
 */
import type { Inventory } from './common/inventory.js';

/** How a response body becomes a record line (DESIGN 2.1). */
export type RecordShape =
  | { mode: 'wrap'; key: string } // {"timestamp":ms,"<key>":<body>}
  | { mode: 'merge' } // {"timestamp":ms,<body members>}
  | { mode: 'line' }; // the body is a whole record line already (an archiver writing what collectors published)

/** What the body must be for the stream to accept it. */
export type BodyKind = 'array' | 'object' | 'any';

export interface StreamTiming {
  intervalMs: number;
  timeoutMs: number;
  windowMs: number;
  /** Extra attempts inside one tick, made only while the tick has time left. */
  retries: number;
}

/** One record of a source that writes many per tick (a device's answer). */
export interface SourceRecord {
  /** Validated JSON bytes on one line, encoded with the shape of the stream it goes to. */
  body: Buffer;
  /** One of the source's `outputs`; the source's own stream when absent. */
  output?: string;
  /** When the record was due (a probe's turn); the tick's time when absent. */
  scheduledAt?: number;
  /** Called once the record is in its window file: a checkpoint advances only then. */
  onWritten?: () => void;
  /** The record's own time (a line recorded elsewhere): it decides the window; now when absent. */
  timestamp?: number;
}

/** What a continuously running source (probes) is told by the recorder. */
export interface RunControl {
  /** Start nothing new; resolve once what runs has finished. */
  stop: AbortSignal;
  /** Cancel what still runs (the shutdown's grace period is over). */
  abort: AbortSignal;
  /** False while the stream's queue is full: records would only pile up. */
  room: () => boolean;
}

/** An event for the events stream; a source's events carry the stream's name. */
export type { NoteEvent } from '../logging/note-event.js';
import type { NoteEvent } from '../logging/note-event.js';

/** An item of a cycle (a device) that produced no record, or only part of one. */
export interface CycleFailure {
  item: string;
  reason: string;
  message: string;
  /** Set when the item's record was still written with what did answer. */
  partial?: boolean;
  [detail: string]: unknown;
}

export interface CycleReport {
  /** Items the cycle tried (devices). */
  items: number;
  /** Records emitted. */
  records: number;
  failures: CycleFailure[];
  /** Counters of the source's own the cycle event carries (NETCONF sessions opened and reused). */
  counters?: Record<string, number>;
}

/** Emits a record as soon as it is ready, so one slow item never holds back the others. */
export type EmitRecord = (record: SourceRecord) => void;

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
  fetch?(signal: AbortSignal, deadline: number): Promise<Buffer>;
  /**
   * Instead of `fetch`: a cycle over many items (devices) that emits any number
   * of records and reports the items that failed. Rejects (FetchError) only when
   * the cycle as a whole could not run.
   */
  cycle?(signal: AbortSignal, deadline: number, emit: EmitRecord): Promise<CycleReport>;
  /**
   * Instead of ticks: a source that schedules itself (thousands of probe
   * targets on their own intervals) runs from start to stop, emitting records.
   */
  run?(control: RunControl, emit: EmitRecord, note: NoteEvent): Promise<void>;
  /** For `nsr check`, a source that runs on its own: one pass over its items (each target probed once). */
  sample?(signal: AbortSignal, deadline: number): Promise<CycleReport>;
  /** Streams this source writes besides its own (a joined view), each with its record shape. */
  readonly outputs?: readonly { name: string; shape: RecordShape }[];
  /** Fetch as soon as the stream starts as well, not first at the next grid point (long intervals). */
  readonly eager?: boolean;
  /** The device inventory this source keeps (netbox), for sources that poll its devices. */
  readonly inventory?: InventoryProvider;
  /**
   * Starts what the source serves to others (a junos stream's `publish`
   * listener), before its first fetch. Rejects with a message naming the
   * setting and the fix: at the recorder's start that stops the start.
   */
  open?(): Promise<void>;
  /** What /status shows of the source beyond the stream's counters (a hub's peripherals and routes). */
  detail?(): Record<string, unknown>;
  /** A command of the source's own over the control server (`nsr hub …`): answers as an HTTP status and body. */
  control?(action: string, args: Record<string, unknown>): Promise<{ status: number; body: unknown }>;
  close(): void;
}

/** What a source found at its last successful fetch; see inventory.ts. */
export interface InventoryProvider {
  current(): Inventory | undefined;
  /** Resolves with the next snapshot (or the current one, if there is one). */
  whenAvailable(signal: AbortSignal): Promise<Inventory>;
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
