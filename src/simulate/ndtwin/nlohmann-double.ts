// How nlohmann::json (the NDTwin kernel's JSON library) prints a double: the simulator's
// graph bodies must carry utilisation percents in exactly that form.

/**
 * Format a double exactly like nlohmann::json `dump()`: shortest round-trip digits,
 * always a `.0` when integral, fixed notation for 1e-4 <= |x| < 1e15, otherwise
 * `d.ddde+XX` with at least two exponent digits. NaN/Infinity become `null`.
 */
export function formatNlohmannDouble(x: number): string {
  if (!Number.isFinite(x)) return 'null';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const ax = x < 0 ? -x : x;
  if (ax >= 1e-4 && ax < 1e15) {
    // JS uses fixed notation in this whole range and the same shortest digits.
    const s = String(x);
    return s.includes('.') ? s : s + '.0';
  }
  const sign = x < 0 ? '-' : '';
  const e = ax.toExponential(); // shortest round-trip digits: "d.ddde+X" / "de-X"
  const ePos = e.indexOf('e');
  const mant = e.slice(0, ePos);
  const exp10 = Number(e.slice(ePos + 1));
  const digits = mant.replace('.', '');
  const k = digits.length;
  const n = exp10 + 1; // position of the decimal point relative to the digits
  if (k <= n && n <= 15) return sign + digits + '0'.repeat(n - k) + '.0';
  if (0 < n && n <= 15) return sign + digits.slice(0, n) + '.' + digits.slice(n);
  if (-4 < n && n <= 0) return sign + '0.' + '0'.repeat(-n) + digits;
  const m = k === 1 ? digits : digits[0] + '.' + digits.slice(1);
  const ex = n - 1;
  const abs = ex < 0 ? -ex : ex;
  return sign + m + 'e' + (ex < 0 ? '-' : '+') + (abs < 10 ? '0' + abs : String(abs));
}
