/**
 * Probe targets as DAC (the async URL collector) keeps them: its `urls` table
 * (url_id, url, interval, regex) and its `urls_small.csv` with the same
 * columns. The interval is whole seconds; DAC's timeout was the interval less
 * one second, and for a 1-second interval its `default_timeout_sec` (here the
 * stream's timeout, kept below the interval by checkTarget). `url_id` becomes
 * the target's id (stats.url_id is int4, so it must be a whole number) and
 * `regex` the body match; an empty or NULL regex is no match at all.
 *
 * A row nsr cannot take comes back as a problem naming DAC's column and the
 * value, like a bad row of nsr's own targets: left out, reported, never silent.
 */
import type { RawTarget } from './probe-targets.js';
import { quoteIdent } from './probe-targets-table.js';
import type { PostgresSettings } from '../../connections/postgres-settings.js';

/** A CSV file in DAC's layout: its header names url_id (nsr's own says id). */
export const isDacRows = (rows: Record<string, unknown>[]) => rows.length > 0 && 'url_id' in rows[0];

const INT4_MAX = 2_147_483_647;

/** One DAC row as nsr's target, or what is wrong with it (`<label>: <column>: got …; expected …`). */
export function dacTarget(row: Record<string, unknown>): RawTarget | string {
  const idText = String(row.url_id ?? '').trim();
  const label = idText || JSON.stringify(row.url ?? '');
  if (!/^-?\d+$/.test(idText) || Math.abs(Number(idText)) > INT4_MAX) return `${label}: url_id: got ${JSON.stringify(row.url_id ?? null)}; expected a whole number (DAC's stats.url_id is an int4), e.g. 1`;
  const intervalText = String(row.interval ?? '').trim();
  const seconds = /^\d+$/.test(intervalText) ? Number(intervalText) : NaN;
  if (!(seconds >= 1)) return `${idText}: interval: got ${JSON.stringify(row.interval ?? null)}; expected whole seconds, at least 1 (DAC's urls.interval), e.g. 30`;
  const regex = row.regex === null || row.regex === undefined ? '' : String(row.regex);
  return {
    id: idText,
    url: row.url,
    interval: `${seconds}s`,
    // DAC: timeout = interval - 1 s; below 2 s that is nothing, and the stream's timeout applies.
    timeout: seconds >= 2 ? `${seconds - 1}s` : undefined,
    match: regex === '' ? undefined : regex,
  };
}

/** Rows in DAC's layout converted; the ones that cannot be are problems, named by `where(i)`. */
export function dacTargets(rows: Record<string, unknown>[], where: (i: number) => string): { rows: RawTarget[]; problems: string[]; places: number[] } {
  const out: RawTarget[] = [];
  const places: number[] = [];
  const problems: string[] = [];
  rows.forEach((row, i) => {
    const t = dacTarget(row);
    if (typeof t === 'string') problems.push(`${where(i)}: ${t}`);
    else {
      out.push(t);
      places.push(i);
    }
  });
  return { rows: out, problems, places };
}

/** DAC's `<schema>.urls` as it is, read again at every refresh (rows added while running join then). */
export async function readDacUrlsTable(settings: PostgresSettings, table: string): Promise<Record<string, unknown>[]> {
  // pg loads only for a stream that reads DAC's table: every `nsr run` imports this file (probe is a built-in kind).
  const { default: pg } = await import('pg');
  const client = new pg.Client(settings.connection);
  await client.connect();
  try {
    // interval and url_id as text: the checks above read them the same way as a CSV cell.
    const { rows } = await client.query(`SELECT url_id::text AS url_id, url, interval::text AS interval, regex FROM ${quoteIdent(table)} ORDER BY url_id`);
    return rows;
  } finally {
    await client.end().catch(() => {});
  }
}
