/**
 * JSON written the way Python's `json.dump(obj, f, ensure_ascii=False, indent=N)`
 * writes it, byte for byte, so a document nsr serves in place of a Python tool
 * (the Juniper agent's `tmp.json`) reads the same to its consumers' diffs and
 * parsers. Dicts are `Map`s: a JS object would move integer-like keys (SNMP
 * indexes, MPLS labels) ahead of the others, where Python keeps insertion order.
 */
export type PyValue = string | number | boolean | null | readonly PyValue[] | ReadonlyMap<string, PyValue> | { readonly [key: string]: PyValue };

export function pythonJsonDump(value: PyValue, indent = 4): string {
  const parts: string[] = [];
  write(value, 0);
  return parts.join('');

  function write(v: PyValue, depth: number): void {
    if (v === null) return void parts.push('null');
    if (typeof v === 'string') return void parts.push(JSON.stringify(v));
    if (typeof v === 'boolean') return void parts.push(v ? 'true' : 'false');
    if (typeof v === 'number') {
      // Python writes integers as digits and refuses nothing here; NaN/Infinity would be Python's own tokens, never produced by nsr.
      if (!Number.isFinite(v)) throw new Error(`pythonJsonDump: ${v} has no JSON form`);
      return void parts.push(String(v));
    }
    const entries: [string | undefined, PyValue][] = Array.isArray(v)
      ? (v as readonly PyValue[]).map((x) => [undefined, x])
      : v instanceof Map
        ? [...(v as ReadonlyMap<string, PyValue>)]
        : Object.entries(v as Record<string, PyValue>);
    const [open, close] = Array.isArray(v) ? ['[', ']'] : ['{', '}'];
    // Python writes an empty container on one line, whatever the indent.
    if (entries.length === 0) return void parts.push(open + close);
    const inner = '\n' + ' '.repeat(indent * (depth + 1));
    parts.push(open);
    entries.forEach(([key, x], i) => {
      parts.push(i === 0 ? inner : ',' + inner);
      if (key !== undefined) parts.push(JSON.stringify(key), ': ');
      write(x, depth + 1);
    });
    parts.push('\n' + ' '.repeat(indent * depth), close);
  }
}
