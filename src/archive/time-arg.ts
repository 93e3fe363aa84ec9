/** Time arguments of the offline tools: ISO 8601 (local time when no zone is given) or epoch milliseconds. */
import { ConfigError } from '../config/errors.js';

export function parseTimeArg(text: string, option: string): number {
  const t = text.trim();
  if (/^\d{11,}$/.test(t)) return Number(t);
  const ms = /^\d{4}-\d{2}-\d{2}/.test(t) ? Date.parse(t) : NaN;
  if (Number.isNaN(ms)) {
    throw new ConfigError(`${option}: got ${JSON.stringify(text)}; expected an ISO time such as 2026-02-10T14:03:00 (local time) or 2026-02-10T14:03:00Z, or epoch milliseconds such as 1770703392057`);
  }
  return ms;
}

export function formatTime(ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0) return '-';
  const d = new Date(ms);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}
