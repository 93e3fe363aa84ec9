/**
 * A stream's tick interval, offline: from the newest `start` event that names
 * the stream (nsr's own archives), else the typical spacing of its records
 * (archives of the original recorder, which have no events stream). Those
 * archives carry no counts either, so the spacing is read from the records
 * themselves: the median of the first differences, which a gap or a restart
 * does not move.
 */
import type { StreamCatalog } from './catalog.js';
import { mayHoldRunMark, START_MARK } from '../logging/run-marks.js';
import { readRecords } from './records.js';
import { rowsOf, summarize } from './summary.js';

export async function streamInterval(catalog: StreamCatalog, events: StreamCatalog | undefined): Promise<number | undefined> {
  let fromEvents: number | undefined;
  if (events) {
    // Only the events windows that may hold a start (logging/run-marks.ts).
    for await (const { line } of readRecords({ ...events, windows: events.windows.filter(mayHoldRunMark) })) {
      if (!line.includes(START_MARK)) continue;
      const start = JSON.parse(line.toString('utf8')) as { streams?: Record<string, { interval_ms?: number }> };
      fromEvents = start.streams?.[catalog.stream]?.interval_ms ?? fromEvents;
    }
  }
  return fromEvents ?? summarize(rowsOf(catalog)).intervalMs ?? (await medianSpacing(catalog));
}

/** Differences read at most: the first window or two, whatever the archive's length. */
const SAMPLE_DIFFERENCES = 100;

async function medianSpacing(catalog: StreamCatalog): Promise<number | undefined> {
  const diffs: number[] = [];
  let previous: number | undefined;
  for await (const { timestamp } of readRecords(catalog)) {
    if (previous !== undefined && timestamp > previous) diffs.push(timestamp - previous);
    previous = timestamp;
    if (diffs.length >= SAMPLE_DIFFERENCES) break;
  }
  diffs.sort((a, b) => a - b);
  return diffs.length ? diffs[Math.floor(diffs.length / 2)] : undefined;
}
