/**
 * A stream's tick interval, offline: from the newest `start` event that names
 * the stream (nsr's own archives), else the typical spacing of its records
 * (archives of the original recorder, which have no events stream).
 */
import type { StreamCatalog } from './catalog.js';
import { readRecords } from './records.js';
import { summarize } from './summary.js';

export async function streamInterval(catalog: StreamCatalog, events: StreamCatalog | undefined): Promise<number | undefined> {
  let fromEvents: number | undefined;
  if (events) {
    for await (const { line } of readRecords(events)) {
      if (!line.includes('"event":"start"')) continue;
      const start = JSON.parse(line.toString('utf8')) as { streams?: Record<string, { interval_ms?: number }> };
      fromEvents = start.streams?.[catalog.stream]?.interval_ms ?? fromEvents;
    }
  }
  return fromEvents ?? summarize(catalog).intervalMs;
}
