/**
 * `netbeam` kind: the ESnet Netbeam API. Each tick reads the interface list
 * (written verbatim to this stream), then, per interface and `series`
 * (traffic, errors, discards), the points since that series' checkpoint up to
 * the tick, `concurrency` requests at once, each into `<name>_<series>`:
 *
 *   {"timestamp":…,"resource":…,"series":"traffic","begin":ms,"end":ms,"name":…,"columns":[…],"points":[…]}
 *
 * (Netbeam's body members after nsr's, verbatim; `resource` is already
 * URL-encoded by Netbeam and is used as it is). A series' checkpoint moves to
 * `end` only once its record is in the window file, and is kept in
 * `<output.dir>/.nsr.netbeam.<name>.json`: a restart asks from there, so
 * there is no gap and no point twice; a failed request keeps the checkpoint,
 * and the next tick asks for the longer window.
 *
 * With `history: {from, to, chunk}`, a series without a checkpoint starts at
 * `from` and is read in windows of at most `chunk` (48 h, as the ESnet
 * collector did), `chunks_per_tick` of them per tick, each its own record and
 * checkpoint, until it reaches `to` (then it stops) or the present (then it
 * goes on live). A crash loses nothing and repeats nothing: at start, the
 * records written after the state file was last saved are read back from the
 * windows and move the checkpoints on (history.ts).
 *
 * With track_changes, the interface list is compared with the last one:
 * `added`, `removed` and `changed` records go to `<name>_changes`, and to a
 * table with active_from / active_until in PostgreSQL or MariaDB if asked, or
 * (`layout: esnet`) to the ESnet collector's own MySQL interface table.
 */
import PQueue from 'p-queue';
import { z } from 'zod';
import { commonStreamFields, duration, httpUrl } from '../../config/schema-types.js';
import { HttpFetcher } from '../common/http-fetcher.js';
import { changesStream } from '../../config/stream-config.js';
import { ChangeTracker, itemDigest, type TrackedItem } from '../common/inventory-changes.js';
import { netbeamTrackChangesSchema } from './track-changes.js';
import { readState, sourceStateFile, writeState } from '../common/state-file.js';
import { historySchema, recordedEnds } from './history.js';
import { elementSpans } from '../../json/json-spans.js';
import type { SourceKind } from '../kind.js';
import { redactUrl } from '../common/redact.js';
import { FetchError, type CycleFailure, type EmitRecord, type Source } from '../source.js';

const SERIES = ['traffic', 'errors', 'discards'] as const;

const schema = z.strictObject({
  kind: z.literal('netbeam'),
  url: httpUrl.meta({ description: 'the API base, e.g. https://esnet-netbeam.appspot.com/api/network/esnet/prod' }),
  headers: z.record(z.string(), z.string()).optional(),
  series: z.array(z.enum(SERIES)).min(1).default([...SERIES]).meta({ description: 'the series read per interface' }),
  concurrency: z.int().min(1).max(200).default(10).meta({ description: 'series requests at once' }),
  backfill: duration('how far back the first window of a series reaches').default(3_600_000),
  history: historySchema,
  track_changes: netbeamTrackChangesSchema,
  ...commonStreamFields,
});

interface State {
  /** resource → series → the end of the last window written. */
  checkpoints: Record<string, Record<string, number>>;
  /** resource → digest of the interface as last seen. */
  inventory: Record<string, string>;
  /** When the file was written: records after this may be missing from it. */
  saved_at?: number;
}

export const netbeamKind: SourceKind<typeof schema> = {
  kind: 'netbeam',
  schema,
  outputs: (name, cfg) => [...cfg.series.map((s) => `${name}_${s}`), ...(cfg.track_changes ? [changesStream(name)] : [])],
  build(name, cfg, { timing, outputDir, dryRun }): Source {
    const base = cfg.url.replace(/\/+$/, '');
    const fetcher = new HttpFetcher({ headers: cfg.headers, expect: 'any', timeoutMs: timing.timeoutMs, retries: timing.retries, maxBodyBytes: cfg.max_body_size, maxSockets: cfg.concurrency });
    const file = sourceStateFile(outputDir ?? process.cwd(), 'netbeam', name);
    const state = readState<State>(file, { checkpoints: {}, inventory: {} });
    // `nsr check` reads the state but writes nothing: no checkpoint, no history.
    /** The last inventory compared with (state.inventory is the last one whose changes are all written). */
    let seenInventory = { ...state.inventory };
    const tracker = cfg.track_changes && !dryRun ? new ChangeTracker(name) : undefined;
    let saveTimer: NodeJS.Timeout | undefined;
    const save = () => {
      clearTimeout(saveTimer);
      if (!dryRun) saveTimer = setTimeout(() => writeState(file, { ...state, saved_at: Date.now() }), 200);
    };
    /** Where each series' next window begins in this run: ahead of the checkpoint while a record is on its way to its window. */
    const asked: Record<string, Record<string, number>> = {};
    const history = cfg.history;
    // Once per run, before the first request: the windows written after the last save move the checkpoints on.
    let reconciled: Promise<void> | undefined;
    const reconcile = async () => {
      if (dryRun || state.saved_at === undefined || outputDir === undefined) return;
      const ends = await recordedEnds(outputDir, cfg.series.map((s) => `${name}_${s}`), state.saved_at - 60_000);
      for (const { resource, series, end } of ends) {
        const per = (state.checkpoints[resource] ??= {});
        if (!(per[series] >= end)) per[series] = end;
      }
    };

    return {
      name,
      kind: 'netbeam',
      timing,
      shape: { mode: 'wrap', key: 'interfaces' },
      outputs: [...cfg.series.map((s) => ({ name: `${name}_${s}`, shape: { mode: 'merge' as const } })), ...(tracker ? [{ name: changesStream(name), shape: { mode: 'merge' as const } }] : [])],
      target: redactUrl(base),
      async cycle(signal, deadline, emit) {
        // A failed reconcile is tried again at the next tick, never kept: after a crash the
        // restart's recovery zips the leftover windows while this reads them, and a rejection
        // kept here failed every tick of the run (the series stood still until the next restart).
        await (reconciled ??= reconcile().catch((err: unknown) => {
          reconciled = undefined;
          throw err;
        }));
        const now = Math.min(Date.now(), deadline);
        // A history with an end is read up to there and no further.
        const end = history?.to !== undefined ? Math.min(now, history.to) : now;
        const list = await fetcher.get(`${base}/interfaces`, signal, deadline, 'array');
        emit({ body: list });
        const parsed = JSON.parse(list.toString('utf8')) as { resource?: unknown }[];
        const spans = elementSpans(list, { start: 0, end: list.length });
        const items: TrackedItem[] = [];
        parsed.forEach((it, i) => {
          if (typeof it?.resource !== 'string') return;
          const raw = list.subarray(spans[i].start, spans[i].end);
          items.push({ key: it.resource, raw, digest: itemDigest(raw) });
        });
        const failures: CycleFailure[] = [];
        let records = 1;
        const next = Object.fromEntries(items.map((i) => [i.key, i.digest]));
        // The inventory on disk moves on only once every change record is written: a crash before
        // that compares with the old one again at the restart (changes written twice, never lost).
        let unwritten = 0;
        const settled = () => {
          state.inventory = next;
          save();
        };
        if (tracker) {
          const counted: EmitRecord = (r) => {
            unwritten++;
            emit({ ...r, onWritten: () => --unwritten === 0 && settled() });
          };
          records += tracker.track(seenInventory, items, counted).changes;
        }
        seenInventory = next;
        if (unwritten === 0) settled();
        // Interfaces that left take their checkpoints with them.
        for (const r of Object.keys(state.checkpoints)) if (!next[r]) delete state.checkpoints[r], delete asked[r];

        const queue = new PQueue({ concurrency: cfg.concurrency });
        await Promise.all(
          items.flatMap(({ key: resource }) =>
            cfg.series.map((series) =>
              queue.add(async () => {
                let begin = Math.max(state.checkpoints[resource]?.[series] ?? (history ? history.from : end - cfg.backfill), asked[resource]?.[series] ?? -Infinity);
                // Without history, one window up to the tick; with it, chunks of at most `chunk`.
                for (let chunk = 0; begin < end && (!history || chunk < history.chunks_per_tick); chunk++) {
                  const upTo = history ? Math.min(end, begin + history.chunk) : end;
                  try {
                    // `resource` is URL-encoded by Netbeam already: appended as it is.
                    const body = await fetcher.get(`${base}/${resource}/${series}?begin=${begin}&end=${upTo}`, signal, deadline, 'object');
                    emit({
                      output: `${name}_${series}`,
                      body: seriesRecord(resource, series, begin, upTo, body),
                      onWritten: () => {
                        const per = (state.checkpoints[resource] ??= {});
                        if (!(per[series] >= upTo)) per[series] = upTo;
                        save();
                      },
                    });
                    (asked[resource] ??= {})[series] = upTo;
                    records++;
                    begin = upTo;
                  } catch (err) {
                    const e = err instanceof FetchError ? err : new FetchError('fetch_error', String(err));
                    failures.push({ item: `${resource} ${series}`, reason: e.reason, message: `${e.message}; the next tick asks again from ${begin}` });
                    return;
                  }
                }
              }),
            ),
          ),
        );
        return { items: items.length * cfg.series.length + 1, records, failures };
      },
      close() {
        clearTimeout(saveTimer);
        if (!dryRun) writeState(file, { ...state, saved_at: Date.now() });
        fetcher.close();
      },
    };
  },
};

/** nsr's members, then the body's own (name, columns, points) verbatim. */
function seriesRecord(resource: string, series: string, begin: number, end: number, body: Buffer): Buffer {
  const head = JSON.stringify({ resource, series, begin, end }).slice(0, -1);
  let i = 1;
  while (i < body.length && (body[i] === 0x20 || body[i] === 0x0a || body[i] === 0x0d || body[i] === 0x09)) i++;
  return body[i] === 0x7d ? Buffer.from(`${head}}`) : Buffer.concat([Buffer.from(`${head},`), body.subarray(1)]);
}

