/**
 * The ESnet collector's MySQL interface table (`track_changes: {table: mysql,
 * layout: esnet}` on a netbeam stream), kept as sand-ci/esnet-collector kept
 * it, so that whatever reads that table reads it on:
 *
 *   id, name (the interface's `resource`), status ('1' there, '0' removed),
 *   active_from, active_until, traffic_until, errors_until, discards_until
 *   (epoch ms as strings)
 *
 * The original inserted a row (status 1, active_from = the time of the
 * `/interfaces` read) for a listed interface without an active row, and set a
 * series' `*_until` to the `end` of the window it asked Netbeam for (before
 * asking, points or none). nsr does the same from its records: `added` (and
 * `changed`, which on this table only means "listed") inserts, a series record
 * moves `*_until` to its `end`. The original never recorded a removal; nsr
 * sets status '0' and active_until; a re-listed interface gets a new row. An
 * interface with no row at all when its window comes (known before the table
 * was asked for, so its `added` went by) is opened then. Every statement is guarded so a record
 * applied twice (a read-back after a crash) leaves the row as it was, and the
 * changes and the series, which come from different streams, give the same
 * row in whichever order they are applied.
 */
import { memberSpan } from '../../json/json-spans.js';
import type { HistoryChange } from './inventory-table.js';
import { inMysqlTransaction } from './mysql-transaction.js';

/** The DDL the original's README documents, created only when the table is missing: an existing one is used as it is. */
export const esnetTableDdl = (table: string) => `CREATE TABLE IF NOT EXISTS \`${table}\` (
  id INT NOT NULL AUTO_INCREMENT,
  name VARCHAR(128) NOT NULL,
  status VARCHAR(2) NOT NULL,
  active_from VARCHAR(13) NOT NULL,
  active_until VARCHAR(13) NULL,
  errors_until VARCHAR(13) NULL,
  discards_until VARCHAR(13) NULL,
  traffic_until VARCHAR(13) NULL,
  PRIMARY KEY (id, name)
)`;

/** The original's `name` column is VARCHAR(128): a longer resource would fail every batch it is in. */
export const ESNET_NAME_MAX = 128;

const UNTIL_COLUMN = { traffic: 'traffic_until', errors: 'errors_until', discards: 'discards_until' } as const;
export type EsnetSeries = keyof typeof UNTIL_COLUMN;

/** How far a series of an interface was asked for: a `<name>_<series>` record's `end`. */
export interface SeriesReach {
  name: string;
  series: EsnetSeries;
  end: number;
  /** When the window was read (the record's timestamp). */
  at: number;
}

/** A `<name>_<series>` record into how far it reached; a string says why it is not one. */
export function parseSeriesReach(line: Buffer, at: number): SeriesReach | string {
  const read = (key: string): unknown => {
    const s = memberSpan(line, key);
    if (!s) return undefined;
    try {
      return JSON.parse(line.toString('utf8', s.start, s.end));
    } catch {
      return undefined;
    }
  };
  const name = read('resource');
  const series = read('series');
  const end = read('end');
  if (typeof name !== 'string' || typeof series !== 'string' || !(series in UNTIL_COLUMN) || typeof end !== 'number') return 'not a netbeam series record (resource, series, end)';
  if (name.length > ESNET_NAME_MAX) return `resource ${name.slice(0, 40)}… is longer than the table's name column (${ESNET_NAME_MAX})`;
  return { name, series: series as EsnetSeries, end, at };
}

export interface EsnetTable {
  apply(changes: HistoryChange[], reached: SeriesReach[]): Promise<void>;
  close(): Promise<void>;
}

export async function mysqlEsnetTable(url: string, password: string | undefined, table: string): Promise<EsnetTable> {
  // The default export is the CommonJS module as it is, here and in the bundle (whose split chunks give a CommonJS module no named exports).
  const { default: mysql } = await import('mysql2/promise');
  const pool = mysql.createPool({ uri: url, password, connectionLimit: 1 });
  await pool.query(esnetTableDdl(table));
  const t = `\`${table}\``;
  return {
    async apply(changes, reached) {
      if (!changes.length && !reached.length) return;
      // Only the furthest window per interface and series matters: `*_until` only moves forward.
      const furthest = new Map<string, SeriesReach>();
      for (const r of reached) {
        const k = `${r.series} ${r.name}`;
        const f = furthest.get(k);
        furthest.set(k, f ? { ...f, end: Math.max(f.end, r.end), at: Math.min(f.at, r.at) } : r);
      }
      await inMysqlTransaction(pool, async (conn) => {
        for (const c of changes) {
          if (c.change === 'removed') {
            // Not a row opened after it: a removal read back again must not close a later re-addition.
            await conn.execute(`UPDATE ${t} SET status = '0', active_until = ? WHERE name = ? AND status = '1' AND CAST(active_from AS UNSIGNED) <= ?`, [String(c.at), c.key, c.at]);
          } else {
            // The original's own statement: a row only for an interface without an active one.
            await conn.execute(`INSERT INTO ${t} (name, status, active_from) SELECT ?, '1', ? FROM DUAL WHERE NOT EXISTS (SELECT 1 FROM ${t} WHERE name = ? AND status = '1')`, [c.key, String(c.at), c.key]);
          }
        }
        for (const r of furthest.values()) {
          const column = UNTIL_COLUMN[r.series];
          // The interface's newest row (a removed one too: its last windows may come after the removal).
          const [rows] = (await conn.execute(`SELECT MAX(id) AS id FROM ${t} WHERE name = ?`, [r.name])) as unknown as [{ id: number | null }[]];
          const id = rows[0]?.id;
          if (id === null || id === undefined) {
            // No row at all: the interface was known before the table was asked for (its `added` was
            // written then), so it is opened here, as the original opened a row for any listed interface.
            await conn.execute(`INSERT INTO ${t} (name, status, active_from, ${column}) SELECT ?, '1', ?, ? FROM DUAL WHERE NOT EXISTS (SELECT 1 FROM ${t} WHERE name = ?)`, [r.name, String(r.at), String(r.end), r.name]);
            continue;
          }
          await conn.execute(`UPDATE ${t} SET ${column} = ? WHERE id = ? AND name = ? AND (${column} IS NULL OR CAST(${column} AS UNSIGNED) < ?)`, [String(r.end), id, r.name, r.end]);
        }
      });
    },
    close: () => pool.end(),
  };
}
