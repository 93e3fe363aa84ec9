/**
 * The zod field for a human duration (`500ms`, `1s`, `5m`), apart from the
 * other schema pieces so that a section's own schema file (on-window.ts) can
 * use it while schema-types.ts uses that section in turn.
 */
import { z } from 'zod';
import { parseDuration } from './duration.js';

const DURATION_TEXT = /^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)\s*$/;

/** `example`, when given, is the fix a message ends with (`timeout: 10m`): the key's own name and a value that loads. */
export const duration = (what = 'a duration', example?: string) => {
  const expected = `expected ${what} such as 500ms, 1s or 5m${example ? `, e.g. ${example}` : ''}`;
  return z
    .string({ error: expected })
    .regex(DURATION_TEXT, { error: expected })
    .transform((text) => parseDuration(text)!)
    .meta({ description: `${what}, e.g. 500ms, 1s, 5m, 2h` });
};

/** A duration that must be longer than zero (`0s` is refused as written, before it becomes a number). */
export const positiveDuration = (what: string, example: string) => {
  const expected = `expected ${what} such as 500ms, 1s or 5m, e.g. ${example}`;
  return z
    .string({ error: expected })
    .regex(DURATION_TEXT, { error: expected })
    .refine((text) => parseDuration(text)! > 0, { error: `expected ${what} longer than 0, e.g. ${example}` })
    .transform((text) => parseDuration(text)!)
    .meta({ description: `${what}, e.g. 500ms, 1s, 5m, 2h` });
};
