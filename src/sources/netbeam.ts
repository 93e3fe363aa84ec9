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
 * With track_changes, the interface list is compared with the last one:
 * `added`, `removed` and `changed` records go to `<name>_changes`, and to a
 * table with active_from / active_until in PostgreSQL or MariaDB if asked.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import PQueue from 'p-queue';
import { z } from 'zod';
import { ConfigError } from '../config/errors.js';
import { commonStreamFields, duration, httpUrl } from '../config/schema-types.js';
import { mysqlInventoryTable, postgresInventoryTable, type InventoryTable } from '../sinks/inventory-table.js';
import { HttpFetcher } from './http-fetcher.js';
import { changeRecord, diffInventory, itemDigest, type TrackedItem } from './inventory-changes.js';
import { elementSpans } from './json-spans.js';
import type { SourceKind } from './kind.js';
import { redactUrl } from './redact.js';
import { FetchError, type CycleFailure, type Source } from './source.js';

const SERIES = ['traffic', 'errors', 'discards'] as const;

const schema = z.strictObject({
  kind: z.literal('netbeam'),
  url: httpUrl.meta({ description: 'the API base, e.g. https://esnet-netbeam.appspot.com/api/network/esnet/prod' }),
  headers: z.record(z.string(), z.string()).optional(),
  series: z.array(z.enum(SERIES)).min(1).default([...SERIES]).meta({ description: 'the series read per interface' }),
  concurrency: z.int().min(1).max(200).default(10).meta({ description: 'series requests at once' }),
  backfill: duration('how far back the first window of a series reaches').default(3_600_000),
  track_changes: z
    .strictObject({ table: z.enum(['postgres', 'mysql']).optional().meta({ description: 'also keep the history in this database (the postgres: or mysql: section)' }) })
    .optional()
    .meta({ description: 'write added/removed/changed interfaces to <name>_changes' }),
  ...commonStreamFields,
});

type NetbeamConfig = z.output<typeof schema>;

interface State {
  /** resource → series → the end of the last window written. */
  checkpoints: Record<string, Record<string, number>>;
  /** resource → digest of the interface as last seen. */
  inventory: Record<string, string>;
}

const stateFile = (dir: string, name: string) => path.join(dir, `.nsr.netbeam.${name}.json`);

export const netbeamKind: SourceKind<typeof schema> = {
  kind: 'netbeam',
  schema,
  outputs: (name, cfg) => [...cfg.series.map((s) => `${name}_${s}`), ...(cfg.track_changes ? [`${name}_changes`] : [])],
  check(name, cfg) {
    return cfg.track_changes?.table && !['postgres', 'mysql'].includes(cfg.track_changes.table) ? [`streams.${name}.track_changes.table: expected postgres or mysql`] : [];
  },
  build(name, cfg, { timing, outputDir, postgres, mysql }): Source {
    const base = cfg.url.replace(/\/+$/, '');
    const fetcher = new HttpFetcher({ headers: cfg.headers, expect: 'any', timeoutMs: timing.timeoutMs, retries: timing.retries, maxBodyBytes: cfg.max_body_size, maxSockets: cfg.concurrency });
    const dir = outputDir ?? process.cwd();
    const table = cfg.track_changes?.table;
    if (table === 'postgres' && !postgres) throw new ConfigError(`streams.${name}.track_changes.table: postgres, but there is no postgres: section`);
    if (table === 'mysql' && !mysql) throw new ConfigError(`streams.${name}.track_changes.table: mysql, but there is no mysql: section`);
    const state = loadState(dir, name);
    let history: InventoryTable | undefined;
    /** Changes the table has not taken yet (its database was away): applied before the next ones. */
    let unapplied: { changes: ReturnType<typeof diffInventory>; at: number }[] = [];
    let saveTimer: NodeJS.Timeout | undefined;
    const save = () => {
      clearTimeout(saveTimer);
      saveTimer = setTimeout(() => saveState(dir, name, state), 200);
    };

    async function recordHistory(changes: ReturnType<typeof diffInventory>, at: number): Promise<CycleFailure | undefined> {
      if (!table) return undefined;
      unapplied.push({ changes, at });
      try {
        history ??= table === 'postgres' ? await postgresInventoryTable(postgres!.connection) : await mysqlInventoryTable(mysql!.url, mysql!.password);
        while (unapplied.length) {
          await history.apply(name, unapplied[0].changes, unapplied[0].at);
          unapplied.shift();
        }
        return undefined;
      } catch (err) {
        unapplied = unapplied.slice(-1000);
        return { item: `${table} inventory table`, reason: 'table_error', message: `${(err as Error).message}; the changes are applied when it answers again` };
      }
    }

    return {
      name,
      kind: 'netbeam',
      timing,
      shape: { mode: 'wrap', key: 'interfaces' },
      outputs: [...cfg.series.map((s) => ({ name: `${name}_${s}`, shape: { mode: 'merge' as const } })), ...(cfg.track_changes ? [{ name: `${name}_changes`, shape: { mode: 'merge' as const } }] : [])],
      target: redactUrl(base),
      async cycle(signal, deadline, emit) {
        const end = Math.min(Date.now(), deadline);
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
        if (cfg.track_changes) {
          const changes = diffInventory(new Map(Object.entries(state.inventory)), items);
          for (const c of changes) emit({ output: `${name}_changes`, body: changeRecord(c) });
          records += changes.length;
          const failed = await recordHistory(changes, end);
          if (failed) failures.push(failed);
        }
        state.inventory = Object.fromEntries(items.map((i) => [i.key, i.digest]));
        // Interfaces that left take their checkpoints with them.
        for (const r of Object.keys(state.checkpoints)) if (!state.inventory[r]) delete state.checkpoints[r];
        save();

        const queue = new PQueue({ concurrency: cfg.concurrency });
        await Promise.all(
          items.flatMap(({ key: resource }) =>
            cfg.series.map((series) =>
              queue.add(async () => {
                const begin = state.checkpoints[resource]?.[series] ?? end - cfg.backfill;
                if (begin >= end) return;
                try {
                  // `resource` is URL-encoded by Netbeam already: appended as it is.
                  const body = await fetcher.get(`${base}/${resource}/${series}?begin=${begin}&end=${end}`, signal, deadline, 'object');
                  emit({
                    output: `${name}_${series}`,
                    body: seriesRecord(resource, series, begin, end, body),
                    onWritten: () => {
                      (state.checkpoints[resource] ??= {})[series] = end;
                      save();
                    },
                  });
                  records++;
                } catch (err) {
                  const e = err instanceof FetchError ? err : new FetchError('fetch_error', String(err));
                  failures.push({ item: `${resource} ${series}`, reason: e.reason, message: `${e.message}; the next tick asks again from ${begin}` });
                }
              }),
            ),
          ),
        );
        return { items: items.length * cfg.series.length + 1, records, failures };
      },
      close() {
        clearTimeout(saveTimer);
        saveState(dir, name, state);
        fetcher.close();
        void history?.close().catch(() => {});
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

function loadState(dir: string, name: string): State {
  const file = stateFile(dir, name);
  if (!existsSync(file)) return { checkpoints: {}, inventory: {} };
  try {
    const s = JSON.parse(readFileSync(file, 'utf8'));
    return { checkpoints: s.checkpoints ?? {}, inventory: s.inventory ?? {} };
  } catch {
    return { checkpoints: {}, inventory: {} };
  }
}

/** Whole, under a temporary name, then renamed: never half a file. */
function saveState(dir: string, name: string, state: State): void {
  const file = stateFile(dir, name);
  try {
    writeFileSync(`${file}.tmp`, JSON.stringify(state));
    renameSync(`${file}.tmp`, file);
  } catch {
    // The output directory is gone or full: the next save tries again; at worst a restart asks for a window twice.
  }
}

export type { NetbeamConfig };
