/**
 * The events that mark nsr's runs and what retention removed: `start`,
 * `stop` and `retention_deleted`. `nsr stats` reads every events window that
 * holds one, wherever it lies in time (a window of the range is removed, and
 * its event written, months later; the interval in effect is in the newest
 * start before the range), and only those: each events window counts them
 * (`marked` in its zip's comment, RUN_MARKS_NONE on its index line), so one
 * known to hold none is never opened. A year of archives holds 105,000 events
 * windows and a handful of starts.
 */
export const START_MARK = Buffer.from('"event":"start"');
export const STOP_MARK = Buffer.from('"event":"stop"');
export const RETENTION_MARK = Buffer.from('"event":"retention_deleted"');

/** Whether a window may hold a mark: all but those whose count says none (older zips carry no count). */
export const mayHoldRunMark = (w: { marked?: number }) => w.marked !== 0;

/** Whether an events record (its line) is one of the marks. */
export const isRunMark = (line: Buffer) => line.includes(START_MARK) || line.includes(STOP_MARK) || line.includes(RETENTION_MARK);
