/**
 * Reusable zod pieces for the configuration schema. Every field accepts the
 * human spelling (`1s`, `256MB`) and hands the program plain numbers.
 */
import { z } from 'zod';
import { parseSize, SIZE_TEXT, suggestSize } from './duration.js';
import { duration } from './duration-field.js';
import { streamOnWindowSchema } from './on-window.js';

export { duration } from './duration-field.js';

/** The start of every size setting's error (config/issue-messages.ts adds a fix such as `max_body_size: 64MB` to it). */
export const SIZE_EXPECTED = 'expected a size such as 64MB, 512KB or 1GB (or a whole number of bytes)';

export const size = (what: string) =>
  z
    .union([z.int().nonnegative({ error: `${SIZE_EXPECTED} for ${what}` }), z.string().regex(SIZE_TEXT, { error: `${SIZE_EXPECTED} for ${what}` })], {
      error: `${SIZE_EXPECTED} for ${what}`,
    })
    .transform((v) => parseSize(v)!)
    .meta({ description: `${what}: bytes, or 64KB, 256MB, 1GB, 2TB` });

/** Space kept free: bytes, or a share of the file system's size (pipeline/disk-guard.ts). */
export interface MinFree {
  bytes?: number;
  percent?: number;
}

const PERCENT_TEXT = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/;
const SIZE_OR_PERCENT_TEXT = /^\s*\d+(\.\d+)?\s*(b|kb|mb|gb|tb|%)\s*$/i;
/** The highest share accepted: 100% would stop every write for good. */
export const MAX_MIN_FREE_PERCENT = 99;

/**
 * A size (as `size()`) or a share of the file system (`5%`, `0.5%`, 0–99).
 * Every error carries a fix for `key`: a `2G` gets `2GB` from
 * config/issue-messages.ts (its message starts with SIZE_EXPECTED), the others
 * theirs from here.
 */
export const sizeOrPercent = (what: string, example: { key: string; size: string; percent: string }) => {
  const { key } = example;
  const expected = `${SIZE_EXPECTED}, or a share of the file system such as ${example.percent}, for ${what}`;
  const withFix = `${expected}, e.g. ${key}: ${example.size} or ${key}: ${example.percent}`;
  return z
    .union(
      [
        z.int().nonnegative({ error: withFix }),
        z
          .string()
          // A size nsr can guess (`2G`) gets its fix from issue-messages.ts; any other the two forms.
          .regex(SIZE_OR_PERCENT_TEXT, { error: (issue) => (typeof issue.input === 'string' && suggestSize(issue.input) ? expected : withFix) })
          .refine((text) => Number(PERCENT_TEXT.exec(text)?.[1] ?? 0) <= MAX_MIN_FREE_PERCENT, {
            error: `expected a share of the file system from 0% to ${MAX_MIN_FREE_PERCENT}% for ${what}, e.g. ${key}: ${example.percent}`,
          }),
      ],
      { error: withFix },
    )
    .transform((v): MinFree => {
      const percent = typeof v === 'string' ? PERCENT_TEXT.exec(v) : null;
      return percent ? { percent: Number(percent[1]) } : { bytes: parseSize(v)! };
    })
    .meta({ description: `${what}: bytes (64MB, 2GB, 1TB), or a share of the file system's size (5%, 0.5%; at most ${MAX_MIN_FREE_PERCENT}%)` });
};

const STREAM_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const STREAM_NAME_RULE = 'a stream name must be 1-64 characters of letters, digits, "_", "-" or "." and start with a letter or digit';

/**
 * Names every JavaScript object already has: as stream names they would be
 * dropped silently (`__proto__`) or confused with the object's own members.
 */
export const RESERVED_STREAM_NAMES: readonly string[] = ['__proto__', 'constructor', 'prototype'];

/** Why `name` cannot name a stream, or undefined when it can. */
export function streamNameProblem(name: string): string | undefined {
  if (RESERVED_STREAM_NAMES.includes(name)) return `the name "${name}" is reserved (every JavaScript object has a member of that name); choose another name, e.g. ${name.replace(/_/g, '') || 'x'}_stream`;
  if (!STREAM_NAME.test(name)) return `${STREAM_NAME_RULE}; got ${JSON.stringify(name.slice(0, 80))}`;
  return undefined;
}

/** Stream names become file names: keep them to a safe alphabet so none escapes the output directory. */
export const streamName = z
  .string()
  .regex(STREAM_NAME, { error: STREAM_NAME_RULE })
  .refine((name) => !RESERVED_STREAM_NAMES.includes(name), { error: (issue) => streamNameProblem(String(issue.input)) ?? STREAM_NAME_RULE });

export const httpUrl = z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' });

/** The limits of `retention:` (config/retention.ts), globally and per stream. */
export const retentionFields = () => ({
  max_age: duration('the age after which a zipped window is removed (its last record older than this)').optional(),
  max_bytes: size('the most bytes of archives kept').optional(),
});

/** Options every stream kind shares: when to fetch, how long to wait, how to window (each sink kind adds its own: sinks/registry.ts). */
export const commonStreamFields = {
  interval: duration('the fetch interval').optional(),
  timeout: duration('the fetch timeout (shorter than the interval)').optional(),
  window: duration('the window length').optional(),
  retries: z.int().min(0).max(10).optional().meta({ description: 'extra attempts inside one tick, while the tick has time left' }),
  max_body_size: size('the largest response body accepted').optional(),
  enabled: z.boolean().default(true),
  retention: z
    .strictObject(retentionFields())
    .optional()
    .meta({ description: "this stream's own limits: max_age replaces output.retention.max_age for it; max_bytes bounds its own windows (output.retention.max_bytes still bounds the total)" }),
  on_window: streamOnWindowSchema.optional(),
};

/** A token or password, normally `${NAME}` from the environment; empty (`${NAME:-}` unset) means none. */
export const secret = (description: string) =>
  z
    .string()
    .optional()
    .transform((v) => (v === '' ? undefined : v))
    .meta({ description });
