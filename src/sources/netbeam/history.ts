/**
 * A netbeam stream's historical range (`history:`), and what the windows say
 * the series checkpoints are: the state file is saved a moment after a record
 * is written, so after a crash the records written in between are found in
 * the windows and their `end` is where their series goes on (no window asked
 * for twice, none skipped).
 */
import { z } from 'zod';
import { readCatalog } from '../../archive/catalog.js';
import { readRecords } from '../../archive/records.js';
import { memberSpan } from '../../json/json-spans.js';
import { duration } from '../../config/schema-types.js';

const instant = (what: string) =>
  z
    .union([
      z.int().min(946_684_800_000, { error: `expected ${what} as epoch milliseconds (after 2000) or a date such as 2024-01-01T00:00:00Z` }),
      z.string().refine((s) => /^\d{4}-\d\d-\d\d/.test(s) && !Number.isNaN(Date.parse(s)), { error: `expected ${what} as a date such as 2024-01-01T00:00:00Z (or epoch milliseconds)` }),
    ])
    .transform((v) => (typeof v === 'number' ? v : Date.parse(v)));

export const historySchema = z
  .strictObject({
    from: instant('the start of the range').meta({ description: 'where a series without a checkpoint starts: a date (2024-01-01T00:00:00Z) or epoch ms' }),
    to: instant('the end of the range').optional().meta({ description: 'where the series stop (none: they go on live)' }),
    chunk: duration('the longest window asked for at once').default(48 * 3_600_000),
    chunks_per_tick: z.int().min(1).max(1000).default(4).meta({ description: 'windows asked per series and tick while catching up' }),
  })
  .optional()
  .refine((h) => !h || h.to === undefined || h.to > h.from, { error: 'history.to must be after history.from' })
  .meta({ description: 'read a past range in chunks (the ESnet collector\'s backfill), resumable across restarts' });

/** How often recordedEnds lists the windows when one it listed vanished before it was read. */
const RELIST_ATTEMPTS = 3;

/**
 * The `end` of the newest record per resource and series in `streams` from `since` on.
 * A window listed as `.json` may be zipped (and the `.json` removed) before it is read:
 * the recovery at a restart does that to the leftovers of a crash. The listing is then
 * read again, a few times; a window that keeps vanishing fails the call (the caller's
 * next tick tries again).
 */
export async function recordedEnds(dir: string, streams: string[], since: number): Promise<{ resource: string; series: string; end: number }[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await newestEnds(dir, streams, since);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= RELIST_ATTEMPTS) throw err;
    }
  }
}

async function newestEnds(dir: string, streams: string[], since: number): Promise<{ resource: string; series: string; end: number }[]> {
  const found = new Map<string, { resource: string; series: string; end: number }>();
  for (const catalog of await readCatalog(dir, { streams, range: { from: since } })) {
    for await (const r of readRecords(catalog, { from: since })) {
      const read = (key: string) => {
        const s = memberSpan(r.line, key);
        return s ? (JSON.parse(r.line.toString('utf8', s.start, s.end)) as unknown) : undefined;
      };
      const resource = read('resource');
      const series = read('series');
      const end = read('end');
      if (typeof resource !== 'string' || typeof series !== 'string' || typeof end !== 'number') continue;
      const k = `${resource} ${series}`;
      if ((found.get(k)?.end ?? -Infinity) < end) found.set(k, { resource, series, end });
    }
  }
  return [...found.values()];
}
