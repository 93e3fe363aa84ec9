/**
 * The `postgres:` section: where the database is and how records go to it.
 * The password comes from the environment (`${PGPASSWORD}`) or a file, never
 * from the file itself, and never reaches a log.
 */
import { z } from 'zod';
import type { PoolConfig } from 'pg';
import { bufferFields, connectionFields, connectionPassword } from './connection-settings.js';

export const postgresSchema = z
  .strictObject({
    ...connectionFields(/^postgres(ql)?:\/\//, 'postgres://nsr@127.0.0.1:5432/nsr', 'PGPASSWORD'),
    pool: z.int().min(1).max(100).default(4).meta({ description: 'connections at most' }),
    ...bufferFields('the database', { batch: 1000, batchMax: 50_000, flushMs: 1000 }),
  })
  .optional();

export type PostgresSection = NonNullable<z.output<typeof postgresSchema>>;

export interface PostgresSettings extends PostgresSection {
  /** For pg.Pool and pg.Client: no password in the URL, so it cannot leak with it. */
  connection: PoolConfig;
}

export function resolvePostgres(section: PostgresSection | undefined, where: string): PostgresSettings | undefined {
  if (!section) return undefined;
  const password = connectionPassword(section, 'postgres', 'PGPASSWORD', where);
  return { ...section, connection: { connectionString: section.url, password, max: section.pool, connectionTimeoutMillis: 5000, query_timeout: 60_000, application_name: 'nsr' } };
}


/** The URL without user or password, for logs and events. */
export function describeDatabase(s: Pick<PostgresSettings, 'url'>): string {
  const u = new URL(s.url);
  return `${u.protocol}//${u.host}${u.pathname}`;
}
