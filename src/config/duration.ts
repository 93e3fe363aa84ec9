/**
 * Human durations for the configuration: `500ms`, `1s`, `1.5s`, `5m`, `2h`, `1d`.
 * A bare number is rejected on purpose: `interval: 5` is ambiguous (seconds? ms?),
 * and the legacy format, which does use bare numbers, is converted before validation.
 */
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/;

export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text);
  if (!m) return undefined;
  return Math.round(Number(m[1]) * UNIT_MS[m[2]]);
}

export function formatDuration(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

const SIZE_UNIT: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3, tb: 1024 ** 4 };
/** A size as text; the schema (schema-types.ts) checks with the same pattern. */
export const SIZE_TEXT = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|tb)\s*$/i;

/** Byte sizes: `64KB`, `256MB`, `1GB`, `2TB` (binary multiples), or a plain integer of bytes. */
export function parseSize(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isInteger(text) && text >= 0 ? text : undefined;
  const m = SIZE_TEXT.exec(text);
  if (!m) return undefined;
  return Math.round(Number(m[1]) * SIZE_UNIT[m[2].toLowerCase()]);
}

/**
 * The size a person most likely meant by a size nsr does not read: `64M` and
 * `64 MiB` are 64MB (nsr's units are binary already); undefined when there is no
 * such guess.
 */
export function suggestSize(text: string): string | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt])(?:i?b)?\s*$/i.exec(text);
  return m ? `${m[1]}${m[2].toUpperCase()}B` : undefined;
}
