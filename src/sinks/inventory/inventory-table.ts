/**
 * The inventory's history as a table, in PostgreSQL or MariaDB/MySQL: one row
 * per version of an item, `active_from` when it appeared (or changed) and
 * `active_until` when it went (or changed again), NULL while it is there.
 * Applying the same change twice (a restart after a crash) leaves one open row.
 */
import { inMysqlTransaction } from './mysql-transaction.js';

/** A stream's settings for the history sink (inventory-kind.ts). */
export interface HistorySettings {
  table: 'postgres' | 'mysql';
  /** The tracking stream: its name goes in the table's `stream` column. */
  owner: string;
  /**
   * `layout: esnet` (netbeam): the ESnet collector's interface table instead of nsr_inventory,
   * fed by the series streams too; `role` says which record this feed brings.
   */
  esnet?: { table: string; role: 'changes' | 'series' };
}

/** One change as its `<stream>_changes` record says it, at the record's time. */
export interface HistoryChange {
  change: 'added' | 'removed' | 'changed';
  key: string;
  /** md5 of the item as the upstream sent it (none for a removal). */
  digest?: string;
  raw?: Buffer;
  at: number;
}

export interface InventoryTable {
  apply(stream: string, changes: HistoryChange[]): Promise<void>;
  close(): Promise<void>;
}

/** What both databases need: a parameterised statement runner inside a transaction. */
interface Sql {
  transaction(run: (query: (sql: string, params: unknown[]) => Promise<unknown>) => Promise<void>): Promise<void>;
  close(): Promise<void>;
  /** Placeholder n (1-based): `$n` (with its type, PostgreSQL cannot infer it in a SELECT list) or `?` for MySQL. */
  p(n: number, type?: string): string;
  now(ms: number): unknown;
}

function tableOn(sql: Sql): InventoryTable {
  return {
    async apply(stream, changes) {
      if (!changes.length) return;
      await sql.transaction(async (query) => {
        for (const c of changes) {
          const at = c.at;
          if (c.change === 'removed') {
            await query(`UPDATE nsr_inventory SET active_until = ${sql.p(1)} WHERE stream = ${sql.p(2)} AND item_key = ${sql.p(3)} AND active_until IS NULL`, [sql.now(at), stream, c.key]);
          } else if (c.change === 'changed') {
            // Only a version with another digest is closed: the same change applied twice (a record sent again) changes nothing.
            await query(`UPDATE nsr_inventory SET active_until = ${sql.p(1)} WHERE stream = ${sql.p(2)} AND item_key = ${sql.p(3)} AND active_until IS NULL AND (digest IS NULL OR digest <> ${sql.p(4)})`, [sql.now(at), stream, c.key, c.digest]);
          }
          if (c.change !== 'removed') {
            // Only when no version is open: the same change applied twice opens one row.
            await query(
              `INSERT INTO nsr_inventory (stream, item_key, active_from, digest, doc) SELECT ${sql.p(1, 'text')}, ${sql.p(2, 'text')}, ${sql.p(3, 'timestamptz')}, ${sql.p(4, 'text')}, ${sql.p(5, 'jsonb')} FROM (SELECT 1 AS one) AS x WHERE NOT EXISTS (SELECT 1 FROM nsr_inventory WHERE stream = ${sql.p(6)} AND item_key = ${sql.p(7)} AND active_until IS NULL)`,
              [stream, c.key, sql.now(at), c.digest, c.raw?.toString('utf8'), stream, c.key],
            );
          }
        }
      });
    },
    close: () => sql.close(),
  };
}

export async function postgresInventoryTable(connection: import('pg').PoolConfig): Promise<InventoryTable> {
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({ ...connection, max: 1 });
  pool.on('error', () => {});
  return tableOn({
    p: (n, type) => (type ? `$${n}::${type}` : `$${n}`),
    now: (ms) => new Date(ms),
    async transaction(run) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await run((text, params) => client.query(text, params));
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  });
}

export const MYSQL_INVENTORY_TABLE = `CREATE TABLE IF NOT EXISTS nsr_inventory (
  id BIGINT AUTO_INCREMENT PRIMARY KEY,
  stream VARCHAR(64) NOT NULL,
  item_key VARCHAR(512) NOT NULL,
  active_from DATETIME(3) NOT NULL,
  active_until DATETIME(3) NULL,
  digest CHAR(32),
  doc LONGTEXT,
  KEY open_items (stream, item_key, active_until)
) CHARACTER SET utf8mb4`;

export async function mysqlInventoryTable(url: string, password: string | undefined): Promise<InventoryTable> {
  // The default export is the CommonJS module as it is, here and in the bundle (whose split chunks give a CommonJS module no named exports).
  const { default: mysql } = await import('mysql2/promise');
  const pool = mysql.createPool({ uri: url, password, connectionLimit: 1, timezone: 'Z' });
  // MySQL has no migrations of nsr's: the one table is created when missing.
  await pool.query(MYSQL_INVENTORY_TABLE);
  return tableOn({
    p: () => '?',
    now: (ms) => new Date(ms),
    transaction: (run) => inMysqlTransaction(pool, (conn) => run((text, params) => conn.execute(text, params as (string | number | Date | null)[]))),
    close: () => pool.end(),
  });
}
