/**
 * JSON text re-written as Python's `json.dumps(json.loads(text))` writes it
 * (separators `", "` and `": "`, ensure_ascii), for message bodies that must
 * be byte for byte what a Python publisher sent. Numbers keep their Python
 * type: a literal with `.` or an exponent is a float (`1e10` → `10000000000.0`),
 * any other is an int of any size (never rounded through a double).
 */

/** `text` (valid JSON) as Python's json.dumps would write it. */
export function pythonDumps(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === ' ' || c === '\n' || c === '\r' || c === '\t') {
      i++;
    } else if (c === ',') {
      out += ', ';
      i++;
    } else if (c === ':') {
      out += ': ';
      i++;
    } else if (c === '{' || c === '}' || c === '[' || c === ']') {
      out += c;
      i++;
    } else if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += pythonString(JSON.parse(text.slice(i, j + 1)) as string);
      i = j + 1;
    } else {
      let j = i;
      while (j < text.length && !',:{}[] \n\r\t'.includes(text[j])) j++;
      const token = text.slice(i, j);
      out += token === 'true' || token === 'false' || token === 'null' ? token : pythonNumber(token);
      i = j;
    }
  }
  return out;
}

/** A string as json.dumps writes it with ensure_ascii: everything outside space…~ as \uXXXX (lower-case hex). */
export function pythonString(s: string): string {
  let out = '"';
  for (let k = 0; k < s.length; k++) {
    const c = s[k];
    const code = s.charCodeAt(k);
    if (c === '"') out += '\\"';
    else if (c === '\\') out += '\\\\';
    else if (c === '\n') out += '\\n';
    else if (c === '\r') out += '\\r';
    else if (c === '\t') out += '\\t';
    else if (c === '\b') out += '\\b';
    else if (c === '\f') out += '\\f';
    else if (code < 0x20 || code > 0x7e) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += c;
  }
  return `${out}"`;
}

/** A JSON number literal as Python reads and writes it back: int(literal) or repr(float(literal)). */
export function pythonNumber(literal: string): string {
  if (!/[.eE]/.test(literal)) return BigInt(literal).toString();
  const x = Number(literal);
  if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  // JS gives the shortest digits that round-trip, as Python's repr does; only the layout differs.
  const [mantissa, e] = Math.abs(x).toExponential().split('e');
  const digits = mantissa.replace('.', '');
  const exp = Number(e);
  const sign = x < 0 ? '-' : '';
  // repr switches to an exponent below 1e-4 and from 1e16 on.
  if (exp < -4 || exp >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return `${sign}${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  const whole = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
  return `${sign}${whole}.${digits.slice(exp + 1) || '0'}`;
}
