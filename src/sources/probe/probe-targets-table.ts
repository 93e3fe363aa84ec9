/**
 * Probe targets from a PostgreSQL table (`probe_targets` from `nsr db init`, or
 * any table with the same columns). The table name is checked by the schema
 * (an identifier, optionally schema-qualified) and quoted; nothing else of the
 * statement comes from outside.
 */
import type { RawTarget } from './probe-targets.js';
import type { PostgresSettings } from '../../connections/postgres-settings.js';

export const quoteIdent = (name: string) => name.split('.').map((p) => `"${p.replace(/"/g, '""')}"`).join('.');

export async function readTargetsTable(settings: PostgresSettings, table: string): Promise<RawTarget[]> {
  // pg loads only for a targets table, not with every `nsr run` (BENCHMARKS.md §17).
  const { default: pg } = await import('pg');
  const client = new pg.Client(settings.connection);
  await client.connect();
  try {
    const { rows } = await client.query(`SELECT id, url, interval_ms AS interval, timeout_ms AS timeout, expect_status, match, headers FROM ${quoteIdent(table)} WHERE enabled ORDER BY id`);
    return rows.map((r) => ({ ...r, expect_status: Array.isArray(r.expect_status) ? r.expect_status : r.expect_status ?? undefined }));
  } finally {
    await client.end().catch(() => {});
  }
}
