/**
 * The `postgres:` section: where the database is and how records go to it.
 * The password comes from the environment (`${PGPASSWORD}`) or a file, never
 * from the file itself, and never reaches a log.
 */
import { z } from 'zod';
import type { PoolConfig } from 'pg';
import { duration, secret } from '../config/schema-types.js';
import { resolveSecret } from '../config/secrets.js';
import { ConfigError } from '../config/errors.js';

export const postgresSchema = z
  .strictObject({
    url: z
      .string()
      .regex(/^postgres(ql)?:\/\//, { error: 'expected a URL such as postgres://nsr@127.0.0.1:5432/nsr (the password goes in password:, from the environment)' })
      .meta({ description: 'postgres://user@host:port/database' }),
    password: secret('the password; write it as ${PGPASSWORD}, never in the file'),
    password_file: z.string().min(1).optional().meta({ description: 'a file holding the password (instead of password)' }),
    pool: z.int().min(1).max(100).default(4).meta({ description: 'connections at most' }),
    batch: z.int().min(1).max(50_000).default(1000).meta({ description: 'records per INSERT at most' }),
    flush_interval: duration('how long records wait to fill a batch').default(1000),
    buffer: z.int().min(100).max(10_000_000).default(100_000).meta({ description: 'records held in memory per stream while the database is away; past that, they are read back from the window files when it returns' }),
  })
  .optional();

export type PostgresSection = NonNullable<z.output<typeof postgresSchema>>;

export interface PostgresSettings extends PostgresSection {
  /** For pg.Pool and pg.Client: no password in the URL, so it cannot leak with it. */
  connection: PoolConfig;
}

export function resolvePostgres(section: PostgresSection | undefined, where: string): PostgresSettings | undefined {
  if (!section) return undefined;
  const password = resolveSecret(`${where}: postgres`, 'password', section.password, section.password_file);
  const url = new URL(section.url);
  if (url.password) throw new ConfigError(`${where}: postgres.url: the URL carries a password; move it to password: \${PGPASSWORD} (or password_file)`);
  return { ...section, connection: { connectionString: section.url, password, max: section.pool, connectionTimeoutMillis: 5000, query_timeout: 60_000, application_name: 'nsr' } };
}


/** The URL without user or password, for logs and events. */
export function describeDatabase(s: Pick<PostgresSettings, 'url'>): string {
  const u = new URL(s.url);
  return `${u.protocol}//${u.host}${u.pathname}`;
}
