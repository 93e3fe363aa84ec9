/**
 * PostgreSQL sink: records of streams with `postgres: true` also go to the
 * database (buffering and read-back: buffered-sink.ts). Probe records go to
 * probe_results (one column a field), every other stream's to nsr_records
 * (the raw line, and jsonb made from it by the database). Every statement is
 * parameterised (arrays through unnest); a record sent twice is stored once
 * (unique keys, ON CONFLICT DO NOTHING).
 */
import { isUtf8 } from 'node:buffer';
import pg from 'pg';
import { recordTimestamp } from '../../pipeline/record.js';
import type { NoteEvent } from '../../logging/note-event.js';
import { BufferedSink, lineText, type Pending, type Rejected, type SinkStream, type SinkWriter } from '../buffered-sink.js';
import { schemaVersion, SCHEMA_VERSION } from './postgres-schema.js';
import { describeDatabase, type PostgresSettings } from '../../connections/postgres-settings.js';

const NOT_UTF8 = 'its line is not valid UTF-8, and a text column would store other bytes than the window file';

class PostgresWriter implements SinkWriter {
  readonly describe: string;

  constructor(readonly pool: pg.Pool, settings: PostgresSettings) {
    this.describe = describeDatabase(settings);
  }

  async write(s: SinkStream, all: Pending[]): Promise<void | Rejected[]> {
    // A line that is not valid UTF-8 (an upstream's bytes are recorded verbatim) cannot go into
    // a text column as it is: decoding would replace bytes, and `raw` would differ from the
    // window file. Refused (sink_rejected) rather than stored altered.
    const batch = all.filter((p) => isUtf8(p.line));
    const notUtf8: Rejected[] = all.filter((p) => !isUtf8(p.line)).map((p) => ({ ts: p.ts, error: NOT_UTF8 }));
    const refused = batch.length ? await this.writeValid(s, batch) : undefined;
    return notUtf8.length ? [...notUtf8, ...(refused ?? [])] : refused;
  }

  private async writeValid(s: SinkStream, batch: Pending[]): Promise<void | Rejected[]> {
    try {
      await this.insertBatch(s, batch);
    } catch (err) {
      // A data exception (class 22: e.g. a NUL character, which text and jsonb refuse) would fail
      // every time: the batch goes record by record and only the ones refused are left out.
      if (!/^22/.test((err as { code?: string }).code ?? '')) throw err;
      const rejected: Rejected[] = [];
      for (const p of batch) {
        try {
          await this.insertBatch(s, [p]);
        } catch (e) {
          if (!/^22/.test((e as { code?: string }).code ?? '')) throw e;
          rejected.push({ ts: p.ts, error: (e as Error).message });
        }
      }
      return rejected;
    }
  }

  private async insertBatch(s: SinkStream, batch: Pending[]): Promise<void> {
    if (s.kind === 'probe') return this.insertProbes(s.name, batch);
    await this.pool.query(
      'INSERT INTO nsr_records (stream, ts, ts_ms, raw) SELECT $1, to_timestamp(u.t / 1000.0), u.t, u.r FROM unnest($2::bigint[], $3::text[]) AS u(t, r) ON CONFLICT (stream, ts_ms, md5(raw)) DO NOTHING',
      [s.name, batch.map((p) => p.ts), batch.map((p) => lineText(p.line))],
    );
  }

  private async insertProbes(stream: string, batch: Pending[]): Promise<void> {
    const cols: unknown[][] = Array.from({ length: 14 }, () => []);
    for (const p of batch) {
      const r = JSON.parse(lineText(p.line));
      const values = [r.target, r.scheduled_at, r.timestamp ?? recordTimestamp(p.line), r.url, r.status, r.latency_ms?.connect, r.latency_ms?.first_byte, r.latency_ms?.total, r.bytes, r.match, r.matched, r.error, r.message, r.lateness_ms];
      values.forEach((v, i) => cols[i].push(v ?? null));
    }
    await this.pool.query(
      `INSERT INTO probe_results (stream, target_id, scheduled_at, ts, url, status, connect_ms, first_byte_ms, total_ms, bytes, match, matched, error, message, lateness_ms)
       SELECT $1, u.target, to_timestamp(u.sched / 1000.0), to_timestamp(u.ts / 1000.0), u.url, u.status, u.connect, u.first_byte, u.total, u.bytes, u.match, u.matched, u.error, u.message, u.lateness
       FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::int[], $7::real[], $8::real[], $9::real[], $10::bigint[], $11::bool[], $12::text[], $13::text[], $14::text[], $15::int[])
         AS u(target, sched, ts, url, status, connect, first_byte, total, bytes, match, matched, error, message, lateness)
       ON CONFLICT (stream, target_id, scheduled_at) DO NOTHING`,
      [stream, ...cols],
    );
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

/** Checks the schema when the database answers; when it does not, starts anyway (records wait) and says so. */
export async function startPostgresSink(settings: PostgresSettings, dir: string, note: NoteEvent): Promise<BufferedSink> {
  const pool = new pg.Pool(settings.connection);
  // An idle connection that dies (the server restarts) must not crash the process.
  pool.on('error', () => {});
  const writer = new PostgresWriter(pool, settings);
  const sink = new BufferedSink(writer, { sink: 'postgres', dir, batch: settings.batch, flushIntervalMs: settings.flush_interval, buffer: settings.buffer }, note);
  let version: number | undefined;
  try {
    version = await schemaVersion(pool);
  } catch (err) {
    sink.unreachable(err as Error);
  }
  if (version !== undefined && version !== SCHEMA_VERSION) {
    await pool.end();
    throw new Error(`${writer.describe} has nsr schema version ${version || 'none'}, this nsr needs ${SCHEMA_VERSION}: run \`nsr db init -c <config>\``);
  }
  sink.start();
  return sink;
}
