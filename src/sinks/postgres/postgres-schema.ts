/**
 * The database schema nsr writes into, as numbered migrations applied by
 * `nsr db init` (each once, in a transaction, under an advisory lock so two
 * inits cannot race), with the version kept in nsr_schema_version. The sink
 * refuses to start on a database whose version it does not know.
 */
import pg from 'pg';

export const MIGRATIONS: { version: number; what: string; sql: string }[] = [
  {
    version: 1,
    what: 'records of any stream; probe targets and results',
    sql: `
CREATE TABLE nsr_records (
  stream text NOT NULL,
  ts timestamptz NOT NULL,
  ts_ms bigint NOT NULL,
  -- the record line exactly as in the window file: every digit of uint64 values
  -- (clients that read doc as JSON numbers round those above 2^53)
  raw text NOT NULL,
  doc jsonb GENERATED ALWAYS AS (raw::jsonb) STORED
);
-- A record sent twice (a retried batch, a read-back after an outage) is stored once.
CREATE UNIQUE INDEX nsr_records_once ON nsr_records (stream, ts_ms, md5(raw));
CREATE INDEX nsr_records_stream_ts ON nsr_records (stream, ts);

CREATE TABLE probe_targets (
  id text PRIMARY KEY,
  url text NOT NULL,
  interval_ms integer NOT NULL DEFAULT 10000 CHECK (interval_ms >= 1000),
  timeout_ms integer CHECK (timeout_ms > 0),
  expect_status integer[],
  match text,
  headers jsonb,
  enabled boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE probe_results (
  stream text NOT NULL,
  target_id text NOT NULL,
  scheduled_at timestamptz NOT NULL,
  ts timestamptz NOT NULL,
  url text NOT NULL,
  status integer,
  connect_ms real,
  first_byte_ms real,
  total_ms real,
  bytes bigint,
  match boolean,
  matched text,
  error text,
  message text,
  lateness_ms integer,
  PRIMARY KEY (stream, target_id, scheduled_at)
);
CREATE INDEX probe_results_ts ON probe_results (ts);
`,
  },
  {
    version: 2,
    what: 'inventory history (active_from / active_until per version of an item)',
    sql: `
CREATE TABLE nsr_inventory (
  id bigserial PRIMARY KEY,
  stream text NOT NULL,
  item_key text NOT NULL,
  active_from timestamptz NOT NULL,
  active_until timestamptz,
  digest text,
  doc jsonb
);
CREATE INDEX nsr_inventory_open ON nsr_inventory (stream, item_key) WHERE active_until IS NULL;
`,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;
const LOCK_ID = 0x6e7372; // "nsr"

/** Applies what is missing; returns the versions applied now. */
export async function migrate(client: pg.ClientBase): Promise<number[]> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [LOCK_ID]);
    await client.query('CREATE TABLE IF NOT EXISTS nsr_schema_version (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now(), what text)');
    const current = await schemaVersion(client);
    const applied: number[] = [];
    for (const m of MIGRATIONS.filter((x) => x.version > current)) {
      await client.query(m.sql);
      await client.query('INSERT INTO nsr_schema_version (version, what) VALUES ($1, $2)', [m.version, m.what]);
      applied.push(m.version);
    }
    await client.query('COMMIT');
    return applied;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

/** 0 for a database nsr has not initialised. */
export async function schemaVersion(client: pg.ClientBase | pg.Pool): Promise<number> {
  const exists = await client.query("SELECT to_regclass('nsr_schema_version') IS NOT NULL AS ok");
  if (!exists.rows[0].ok) return 0;
  const { rows } = await client.query('SELECT coalesce(max(version), 0) AS v FROM nsr_schema_version');
  return Number(rows[0].v);
}
