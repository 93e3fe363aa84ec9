/**
 * One transaction on a connection of a mysql2 pool: commit when `run` ends,
 * roll back when it throws (the batch is retried whole by the sink), and the
 * connection goes back to the pool either way.
 */
import type { Pool, PoolConnection } from 'mysql2/promise';

export async function inMysqlTransaction(pool: Pool, run: (conn: PoolConnection) => Promise<void>): Promise<void> {
  const conn = await pool.getConnection();
  try {
    await conn.beginTransaction();
    await run(conn);
    await conn.commit();
  } catch (err) {
    await conn.rollback().catch(() => {});
    throw err;
  } finally {
    conn.release();
  }
}
