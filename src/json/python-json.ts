/**
 * JSON laid out as Python's `json.dump(value, ensure_ascii=False, indent=4)`
 * writes it, for documents that must be drop-in replacements for ones a Python
 * program served. Maps are written as objects in insertion order: a plain JS
 * object would move integer-like keys (SNMP indexes, MPLS labels) to the front
 * in numeric order, where Python keeps the order they were added in.
 */

/** The text of `value`; Maps and plain objects as JSON objects, undefined members left out. */
export function stringifyPythonJson(value: unknown, indent = 4): string {
  return write(value, '', ' '.repeat(indent));
}

function write(value: unknown, outer: string, step: string): string {
  const inner = outer + step;
  const block = (open: string, close: string, items: string[]) => (items.length ? `${open}\n${inner}${items.join(`,\n${inner}`)}\n${outer}${close}` : open + close);
  if (value instanceof Map) return block('{', '}', [...value].filter(([, v]) => v !== undefined).map(([k, v]) => `${JSON.stringify(String(k))}: ${write(v, inner, step)}`));
  if (Array.isArray(value)) return block('[', ']', value.map((v) => write(v ?? null, inner, step)));
  if (value !== null && typeof value === 'object') return block('{', '}', Object.entries(value).filter(([, v]) => v !== undefined).map(([k, v]) => `${JSON.stringify(k)}: ${write(v, inner, step)}`));
  // Strings: JSON.stringify escapes what Python's ensure_ascii=False escapes (", \, control characters, lower-case \u00XX).
  return JSON.stringify(value) ?? 'null';
}
