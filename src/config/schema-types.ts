/**
 * Reusable zod pieces for the configuration schema. Every field accepts the
 * human spelling (`1s`, `256MB`) and hands the program plain numbers.
 */
import { z } from 'zod';
import { parseDuration, parseSize } from './duration.js';

export const duration = (what = 'a duration') =>
  z
    .string({ error: `expected ${what} such as 500ms, 1s or 5m` })
    .regex(/^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)\s*$/, { error: `expected ${what} such as 500ms, 1s or 5m` })
    .transform((text) => parseDuration(text)!)
    .meta({ description: `${what}, e.g. 500ms, 1s, 5m, 2h` });

/** The start of every size setting's error (config/issue-messages.ts adds a fix such as `max_body_size: 64MB` to it). */
export const SIZE_EXPECTED = 'expected a size such as 64MB, 512KB or 1GB (or a whole number of bytes)';

export const size = (what: string) =>
  z
    .union([z.int().nonnegative({ error: `${SIZE_EXPECTED} for ${what}` }), z.string().regex(/^\s*\d+(\.\d+)?\s*(b|kb|mb|gb)\s*$/i, { error: `${SIZE_EXPECTED} for ${what}` })], {
      error: `${SIZE_EXPECTED} for ${what}`,
    })
    .transform((v) => parseSize(v)!)
    .meta({ description: `${what}: bytes, or 64KB, 256MB, 1GB` });

/** Stream names become file names: keep them to a safe alphabet so none escapes the output directory. */
export const streamName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, {
    error: 'a stream name must be 1-64 characters of letters, digits, "_", "-" or "." and start with a letter or digit',
  });

export const httpUrl = z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' });

/** Options every stream kind shares: when to fetch, how long to wait, how to window (each sink kind adds its own: sinks/registry.ts). */
export const commonStreamFields = {
  interval: duration('the fetch interval').optional(),
  timeout: duration('the fetch timeout (shorter than the interval)').optional(),
  window: duration('the window length').optional(),
  retries: z.int().min(0).max(10).optional().meta({ description: 'extra attempts inside one tick, while the tick has time left' }),
  max_body_size: size('the largest response body accepted').optional(),
  enabled: z.boolean().default(true),
};

/** A token or password, normally `${NAME}` from the environment; empty (`${NAME:-}` unset) means none. */
export const secret = (description: string) =>
  z
    .string()
    .optional()
    .transform((v) => (v === '' ? undefined : v))
    .meta({ description });
