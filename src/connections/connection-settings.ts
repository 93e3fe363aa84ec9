/**
 * What every connection section (postgres:, amqp:, mysql:) shares: a URL
 * without a password, the password from the environment or a file, and for
 * the sinks, how records are batched and buffered.
 */
import { z } from 'zod';
import { ConfigError } from '../config/errors.js';
import { duration, secret } from '../config/schema-types.js';
import { resolveSecret } from '../config/secrets.js';

export function connectionFields(scheme: RegExp, example: string, env: string) {
  return {
    url: z.string().regex(scheme, { error: `expected a URL such as ${example} (the password goes in password:)` }).meta({ description: example }),
    password: secret(`the password; write it as \${${env}}, never in the file`),
    password_file: z.string().min(1).optional().meta({ description: 'a file holding the password (instead of password)' }),
  };
}

/** batch, flush_interval, buffer: see buffered-sink.ts. */
export function bufferFields(away: string, d: { batch: number; batchMax: number; flushMs: number }) {
  return {
    batch: z.int().min(1).max(d.batchMax).default(d.batch).meta({ description: 'records written (or published before waiting for the confirms) at once' }),
    flush_interval: duration('how long records wait to fill a batch').default(d.flushMs),
    buffer: z.int().min(100).max(10_000_000).default(100_000).meta({ description: `records held in memory per stream while ${away} is away; past that, they are read back from the window files` }),
  };
}

/** The section's password; a password in the URL is refused (it would leak with the URL). */
export function connectionPassword(section: { url: string; password?: string; password_file?: string }, key: string, env: string, where: string): string | undefined {
  if (new URL(section.url).password) throw new ConfigError(`${where}: ${key}.url: the URL carries a password; move it to password: \${${env}} (or password_file)`);
  return resolveSecret(`${where}: ${key}`, 'password', section.password, section.password_file);
}
