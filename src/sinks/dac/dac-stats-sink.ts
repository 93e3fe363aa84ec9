/**
 * DAC's stats rows from probe records, with DAC's meaning:
 *   url_id       the target's id (DAC's url_id)
 *   status       the HTTP status, whatever it is; -1 when no complete answer came
 *   request_ts   when the probe was due (its turn on the schedule)
 *   responce_ts  when the body had been read (the record's timestamp)
 *   regex_mach   every match joined by single spaces; '' when the pattern found
 *                nothing or no body was read; NULL when the target has no pattern
 *                (DAC wrote the string 'None' there, an artefact of its formatting)
 * Both times are the local time of this machine, as DAC (Python's naive
 * datetime.now()) wrote them into its timestamp(0) columns.
 *
 * Parameterised (arrays through unnest); a row sent again (a retried batch,
 * a read-back after an outage) meets the unique (url_id, request_ts) and is
 * skipped, not an error. Buffering and read-back: buffered-sink.ts.
 */
import pg from 'pg';
import { recordTimestamp } from '../../pipeline/record.js';
import type { NoteEvent } from '../../logging/note-event.js';
import { BufferedSink, lineText, type Pending, type Rejected, type SinkStream, type SinkWriter } from '../buffered-sink.js';
import { describeDatabase, type PostgresSettings } from '../../connections/postgres-settings.js';
import { quoteIdent } from '../../sources/probe/probe-targets-table.js';

interface StatsRow {
  urlId: number;
  status: number;
  requestTs: string;
  responceTs: string;
  regexMach: string | null;
  /** Matches left out of regex_mach (the column is too narrow, or the record kept fewer). */
  cut: number;
  /** The record's timestamp, to name it when the database refuses the row. */
  ts: number;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** Local wall-clock time, as DAC's naive datetimes; the database rounds it to timestamp(0) as it did DAC's. */
export function localTimestamp(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** Status as DAC had it: any HTTP status it got a whole answer with; -1 for a timeout, a refusal, a reset. */
function dacStatus(r: { status?: number | null; error?: string | null }): number {
  return typeof r.status === 'number' && (r.error === null || r.error === 'unexpected_status') ? r.status : -1;
}

/** The matches joined as DAC did; as many whole matches as `limit` characters hold, the others counted. */
function joinMatches(matches: string[], count: number, limit: number | null): { text: string; cut: number } {
  let text = matches.join(' ');
  let kept = matches.length;
  if (limit !== null && text.length > limit) {
    text = '';
    kept = 0;
    for (const m of matches) {
      const next = kept === 0 ? m : `${text} ${m}`;
      if (next.length > limit) break;
      text = next;
      kept++;
    }
  }
  return { text, cut: Math.max(count, matches.length) - kept };
}

export function statsRow(p: Pending, limit: number | null): StatsRow | string {
  const r = JSON.parse(lineText(p.line));
  const id = String(r.target ?? '');
  if (!/^-?\d+$/.test(id) || Math.abs(Number(id)) > 2_147_483_647) return `target ${JSON.stringify(id)}: DAC's stats.url_id is an int4, and this id is not a whole number; give the target a numeric id (url_id)`;
  const matches = Array.isArray(r.matches) ? (r.matches as string[]) : undefined;
  const joined = matches ? joinMatches(matches, Number(r.match_count ?? matches.length), limit) : undefined;
  return {
    urlId: Number(id),
    status: dacStatus(r),
    requestTs: localTimestamp(Number(r.scheduled_at)),
    responceTs: localTimestamp(Number(r.timestamp ?? recordTimestamp(p.line))),
    regexMach: joined ? joined.text : null,
    cut: joined?.cut ?? 0,
    ts: p.ts,
  };
}

class DacStatsWriter implements SinkWriter {
  readonly describe: string;
  /** regex_mach's width per table (varchar(515) in DAC's schema); null for none; read at the first batch. */
  private readonly widths = new Map<string, number | null>();

  constructor(readonly pool: pg.Pool, settings: PostgresSettings, private readonly note: NoteEvent) {
    this.describe = describeDatabase(settings);
  }

  async write(s: SinkStream, batch: Pending[]): Promise<void | Rejected[]> {
    const table = String(s.settings);
    const limit = await this.width(table);
    const rows: StatsRow[] = [];
    const rejected: Rejected[] = [];
    for (const p of batch) {
      const row = statsRow(p, limit);
      if (typeof row === 'string') rejected.push({ ts: p.ts, error: row });
      else rows.push(row);
    }
    try {
      await this.insert(table, rows);
    } catch (err) {
      // A data exception (class 22) would fail every time: row by row, only the refused ones are left out.
      if (!/^22/.test((err as { code?: string }).code ?? '')) throw err;
      for (const row of rows) {
        try {
          await this.insert(table, [row]);
        } catch (e) {
          if (!/^22/.test((e as { code?: string }).code ?? '')) throw e;
          rejected.push({ ts: row.ts, error: (e as Error).message });
        }
      }
    }
    const cut = rows.filter((r) => r.cut > 0);
    if (cut.length) {
      this.note('dac_matches_cut', { stream: s.name, table, rows: cut.length, matches: cut.reduce((n, r) => n + r.cut, 0), width: limit }, 'warn', `${cut.length} stats rows hold fewer matches than were found: ${table}.regex_mach is ${limit === null ? 'unbounded, but the record kept fewer' : `${limit} characters wide`}; every match's count is in the probe records (match_count)`);
    }
    return rejected.length ? rejected : undefined;
  }

  private async insert(table: string, rows: StatsRow[]): Promise<void> {
    if (!rows.length) return;
    await this.pool.query(
      `INSERT INTO ${quoteIdent(table)} (url_id, status, request_ts, responce_ts, regex_mach)
       SELECT u.id, u.status, u.req::timestamp, u.resp::timestamp, u.mach FROM unnest($1::int[], $2::int[], $3::text[], $4::text[], $5::text[]) AS u(id, status, req, resp, mach)
       ON CONFLICT DO NOTHING`,
      [rows.map((r) => r.urlId), rows.map((r) => r.status), rows.map((r) => r.requestTs), rows.map((r) => r.responceTs), rows.map((r) => r.regexMach)],
    );
  }

  private async width(table: string): Promise<number | null> {
    if (this.widths.has(table)) return this.widths.get(table)!;
    const [schema, name] = table.includes('.') ? table.split('.') : [null, table];
    const { rows } = await this.pool.query(
      "SELECT character_maximum_length AS n FROM information_schema.columns WHERE table_schema = coalesce($1, current_schema()) AND table_name = $2 AND column_name = 'regex_mach'",
      [schema, name],
    );
    if (!rows.length) throw new Error(`${this.describe}: no table ${table} with a regex_mach column: create DAC's tables with \`nsr dac-schema -c <collector.ini> --apply\``);
    const width = rows[0].n === null ? null : Number(rows[0].n);
    this.widths.set(table, width);
    return width;
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

/** Starts at once; while the database is away, rows wait (and are read back from the windows later). */
export async function startDacStatsSink(settings: PostgresSettings, dir: string, note: NoteEvent): Promise<BufferedSink> {
  const pool = new pg.Pool(settings.connection);
  // An idle connection that dies (the server restarts) must not crash the process.
  pool.on('error', () => {});
  const writer = new DacStatsWriter(pool, settings, note);
  const sink = new BufferedSink(writer, { sink: 'dac_stats', dir, batch: settings.batch, flushIntervalMs: settings.flush_interval, buffer: settings.buffer }, note);
  sink.start();
  return sink;
}
