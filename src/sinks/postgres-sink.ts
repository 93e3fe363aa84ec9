/**
 * PostgreSQL sink: records of streams with `postgres: true` also go to the
 * database, after their line is in the window file. Probe records go to
 * probe_results (one column a field), every other stream's to nsr_records
 * (the raw line, and jsonb made from it by the database).
 *
 * Nothing is lost when the database is away: records wait in a bounded buffer
 * per stream and are retried with back-off; when the buffer is full, it is
 * dropped and the stream is marked to be read back from its window files from
 * the oldest record the database may miss. That mark (`inserted_below`: every
 * record older than it is in the database) is kept in
 * `<output.dir>/.nsr.postgres.json`, written after each successful insert and at
 * stop, so a restart, even after SIGKILL, reads back what may be missing.
 * Every statement is parameterised (arrays through unnest); a record read back
 * twice is stored once (unique keys, ON CONFLICT DO NOTHING).
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { readCatalog } from '../archive/catalog.js';
import { readRecords } from '../archive/records.js';
import { recordTimestamp } from '../pipeline/record.js';
import type { NoteEvent } from '../sources/source.js';
import { schemaVersion, SCHEMA_VERSION } from './postgres-schema.js';
import { describeDatabase, type PostgresSettings } from './postgres-settings.js';

export const POSTGRES_STATE_FILE = '.nsr.postgres.json';

interface Pending {
  ts: number;
  line: Buffer;
}

interface StreamState {
  name: string;
  /** Probe records have a table of their own. */
  probe: boolean;
  buffer: Pending[];
  /** Records at or after this time may be missing from the database: read them back from the window files. */
  readBackFrom?: number;
  /** Every record older than this is in the database (persisted). */
  insertedBelow?: number;
  inserted: number;
  spilled: number;
}

export interface PostgresSinkStats {
  stream: string;
  buffered: number;
  inserted: number;
  read_back_from?: number;
}

const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 30_000;

export class PostgresSink {
  private readonly pool: pg.Pool;
  private readonly streams = new Map<string, StreamState>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private down: { since: number; error: string } | undefined;
  private retryAt = 0;
  private backoff = RETRY_MIN_MS;
  private stateWritten = '';
  private closed = false;

  constructor(
    private readonly settings: PostgresSettings,
    private readonly dir: string,
    private readonly note: NoteEvent,
  ) {
    this.pool = new pg.Pool(settings.connection);
    // An idle connection that dies (the server restarts) must not crash the process.
    this.pool.on('error', () => {});
  }

  /** Checks the schema when the database answers; when it does not, starts anyway (records wait) and says so. */
  async start(): Promise<void> {
    let version: number | undefined;
    try {
      version = await schemaVersion(this.pool);
    } catch (err) {
      this.failed(err as Error);
    }
    if (version !== undefined && version !== SCHEMA_VERSION) {
      await this.pool.end();
      throw new Error(`${describeDatabase(this.settings)} has nsr schema version ${version || 'none'}, this nsr needs ${SCHEMA_VERSION}: run \`nsr db init -c <config>\``);
    }
    this.timer = setInterval(() => void this.flush(), this.settings.flush_interval);
  }

  /** A stream whose records go to the database; read back from where the last run left it. */
  addStream(name: string, probe: boolean): void {
    if (this.streams.has(name)) return;
    const saved = this.readState()[name];
    const s: StreamState = { name, probe, buffer: [], inserted: 0, spilled: 0, insertedBelow: saved, readBackFrom: saved };
    this.streams.set(name, s);
  }

  /** A record whose line is in its window file. */
  offer(name: string, ts: number, line: Buffer): void {
    const s = this.streams.get(name);
    if (!s) return;
    if (s.buffer.length >= this.settings.buffer) {
      // Memory stays bounded: these records are in the window files and are read back from there.
      const first = s.readBackFrom === undefined;
      s.readBackFrom = Math.min(s.readBackFrom ?? Infinity, s.buffer[0].ts);
      s.spilled += s.buffer.length;
      // Reported once until the read-back, not at every refill of the buffer.
      if (first) this.note('sink_spilled', { sink: 'postgres', stream: name, records: s.buffer.length, read_back_from: s.readBackFrom }, 'warn', `${name}: the database is away and ${s.buffer.length} records are waiting; they will be read back from the window files`);
      s.buffer = [];
    }
    s.buffer.push({ ts, line });
    if (s.buffer.length >= this.settings.batch && !this.down) void this.flush();
  }

  stats(): PostgresSinkStats[] {
    return [...this.streams.values()].map((s) => ({ stream: s.name, buffered: s.buffer.length, inserted: s.inserted, read_back_from: s.readBackFrom }));
  }

  /** Writes what waits, one flush at a time. */
  flush(): Promise<void> {
    this.flushing ??= this.flushNow().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async flushNow(): Promise<void> {
    if (this.down && Date.now() < this.retryAt) return;
    try {
      for (const s of this.streams.values()) {
        if (s.readBackFrom !== undefined) await this.readBack(s);
        while (s.buffer.length) {
          const batch = s.buffer.slice(0, this.settings.batch);
          await this.insert(s, batch);
          s.buffer.splice(0, batch.length);
          s.insertedBelow = s.readBackFrom ?? (s.buffer[0]?.ts ?? batch[batch.length - 1].ts + 1);
        }
      }
      this.recovered();
    } catch (err) {
      this.failed(err as Error);
    }
    this.saveState();
  }

  /** Reads the stream's window files from `readBackFrom` on and inserts every record (those already there are skipped by the database). */
  private async readBack(s: StreamState): Promise<void> {
    const from = s.readBackFrom!;
    const [catalog] = await readCatalog(this.dir, { streams: [s.name], range: { from } });
    let batch: Pending[] = [];
    let count = 0;
    if (catalog) {
      for await (const r of readRecords(catalog, { from })) {
        batch.push({ ts: r.timestamp, line: r.line });
        if (batch.length >= this.settings.batch) {
          await this.insert(s, batch);
          count += batch.length;
          s.readBackFrom = s.insertedBelow = batch[batch.length - 1].ts;
          this.saveState();
          batch = [];
        }
      }
    }
    if (batch.length) await this.insert(s, batch);
    count += batch.length;
    s.readBackFrom = undefined;
    s.insertedBelow = s.buffer[0]?.ts ?? (batch.length ? batch[batch.length - 1].ts + 1 : from);
    this.note('sink_read_back', { sink: 'postgres', stream: s.name, from, records: count }, 'info', `${s.name}: ${count} records read back from the window files into the database`);
  }

  private async insert(s: StreamState, batch: Pending[]): Promise<void> {
    if (s.probe) await this.insertProbes(s.name, batch);
    else {
      const ts = batch.map((p) => p.ts);
      const raw = batch.map((p) => lineText(p.line));
      await this.pool.query(
        'INSERT INTO nsr_records (stream, ts, ts_ms, raw) SELECT $1, to_timestamp(u.t / 1000.0), u.t, u.r FROM unnest($2::bigint[], $3::text[]) AS u(t, r) ON CONFLICT (stream, ts_ms, md5(raw)) DO NOTHING',
        [s.name, ts, raw],
      );
    }
    s.inserted += batch.length;
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

  private failed(err: Error): void {
    this.retryAt = Date.now() + this.backoff;
    this.backoff = Math.min(RETRY_MAX_MS, this.backoff * 2);
    if (this.down) return;
    this.down = { since: Date.now(), error: err.message };
    const buffered = [...this.streams.values()].reduce((n, s) => n + s.buffer.length, 0);
    this.note('sink_error', { sink: 'postgres', database: describeDatabase(this.settings), message: err.message, buffered }, 'error', `cannot write to ${describeDatabase(this.settings)} (${err.message}); records wait and are retried`);
  }

  private recovered(): void {
    this.backoff = RETRY_MIN_MS;
    if (!this.down) return;
    this.note('sink_recovered', { sink: 'postgres', down_ms: Date.now() - this.down.since }, 'info', `writing to ${describeDatabase(this.settings)} again`);
    this.down = undefined;
  }

  private readState(): Record<string, number> {
    const file = path.join(this.dir, POSTGRES_STATE_FILE);
    if (!existsSync(file)) return {};
    try {
      return JSON.parse(readFileSync(file, 'utf8')).inserted_below ?? {};
    } catch {
      return {};
    }
  }

  /** The marks, written whole under a temporary name and renamed (never half a file). */
  private saveState(): void {
    const marks = Object.fromEntries([...this.streams.values()].map((s) => [s.name, s.readBackFrom ?? s.buffer[0]?.ts ?? s.insertedBelow]).filter(([, v]) => v !== undefined));
    const text = JSON.stringify({ database: describeDatabase(this.settings), inserted_below: { ...this.readState(), ...marks } });
    if (text === this.stateWritten) return;
    const file = path.join(this.dir, POSTGRES_STATE_FILE);
    try {
      writeFileSync(`${file}.tmp`, text);
      renameSync(`${file}.tmp`, file);
      this.stateWritten = text;
    } catch (err) {
      this.note('sink_state_error', { sink: 'postgres', message: (err as Error).message }, 'error');
    }
  }

  /**
   * At stop, after the last records are in their window files: writes what
   * waits, until `deadline` or until the database fails; what is still waiting
   * then is read back from the window files at the next start.
   */
  async close(deadline: number): Promise<{ unwritten: number }> {
    if (this.closed) return { unwritten: 0 };
    this.closed = true;
    clearInterval(this.timer);
    this.retryAt = 0; // one more try now, whatever the back-off
    while (Date.now() < deadline) {
      await this.flush();
      const waiting = [...this.streams.values()].some((s) => s.buffer.length || s.readBackFrom !== undefined);
      // A database that is away does not hold up the stop: the mark brings the rest in at the next start.
      if (!waiting || this.down) break;
      await new Promise((r) => setTimeout(r, Math.min(500, Math.max(0, deadline - Date.now()))));
    }
    this.saveState();
    const unwritten = [...this.streams.values()].reduce((n, s) => n + s.buffer.length, 0);
    await this.pool.end().catch(() => {});
    return { unwritten };
  }
}

/** The record line without its newline. */
function lineText(line: Buffer): string {
  const end = line[line.length - 1] === 0x0a ? line.length - 1 : line.length;
  return line.toString('utf8', 0, end);
}
