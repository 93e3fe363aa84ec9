/**
 * JSON for nsr's own documents that carry upstream text verbatim: a RawJson
 * value is written as it is. Used where a document mixes what nsr computed
 * (a join, a summary) with what an upstream sent (items, counters as digit
 * strings above 2^53 that a JS number would round).
 */
export class RawJson {
  constructor(readonly text: string) {}
}

/** JSON.stringify's output for plain data, with RawJson values spliced in unchanged. */
export function stringifyWithRaw(value: unknown): string {
  if (value instanceof RawJson) return value.text;
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : stringifyWithRaw(v))).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const parts: string[] = [];
    for (const [k, v] of Object.entries(value)) if (v !== undefined) parts.push(`${JSON.stringify(k)}:${stringifyWithRaw(v)}`);
    return `{${parts.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** A counter or index as the device wrote it: JSON digits when it is a whole number, else undefined. */
export function rawInteger(text: string | undefined | null): RawJson | undefined {
  if (typeof text !== 'string') return undefined;
  const t = text.trim();
  return /^(0|[1-9]\d*)$/.test(t) ? new RawJson(t) : undefined;
}
