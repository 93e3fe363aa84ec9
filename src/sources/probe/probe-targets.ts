/**
 * Probe targets: from the YAML file, a CSV file or a PostgreSQL table, each
 * checked the same way (a URL, an interval of at least 1 s, a timeout shorter
 * than it, a regular expression that RE2 compiles: body-match.ts). A bad row of a CSV file or a
 * table is left out and reported; it never stops the others.
 *
 * Each target's id (its URL when it has none) gives it a stable hash: the
 * random offset of its schedule, and the shard (`--shard k/N`) that probes it,
 * so a target added later lands on exactly one shard.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import { parseDuration } from '../../config/duration.js';
import { compileBodyMatch, type BodyMatch } from './body-match.js';
import type { ProbeSpec } from './probe-client.js';
import { redactUrl } from '../common/redact.js';

export interface ProbeTarget extends ProbeSpec {
  /** What identifies the target (the URL when it has no id): its schedule and shard come from it. */
  id: string;
  /** The id as shown in records, events and messages: the URL without its credentials when the id is the URL. */
  label: string;
  /** The URL as recorded: credentials (`user:pass@`, `?api_key=…`) replaced by `***`. */
  shownUrl: string;
  intervalMs: number;
  /** Stable, uniform over 32 bits: the schedule's offset and the shard come from it. */
  hash: number;
}

export interface TargetDefaults {
  intervalMs: number;
  timeoutMs: number;
  expectStatus: number[];
  matchBytes: number;
}

/** One target as written: YAML, a CSV row or a table row (durations as text or ms). */
export interface RawTarget {
  id?: unknown;
  url?: unknown;
  interval?: unknown;
  timeout?: unknown;
  expect_status?: unknown;
  match?: unknown;
  headers?: unknown;
}

export const MIN_INTERVAL_MS = 1000;

export function targetHash(id: string): number {
  return createHash('sha1').update(id).digest().readUInt32BE(0);
}

export interface Shard {
  k: number;
  n: number;
}

/** `k/N` with 1 ≤ k ≤ N. */
export function parseShard(text: string): Shard | undefined {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!m) return undefined;
  const k = Number(m[1]);
  const n = Number(m[2]);
  return k >= 1 && n >= 1 && k <= n ? { k, n } : undefined;
}

export const inShard = (t: { hash: number }, shard: Shard | undefined) => !shard || t.hash % shard.n === shard.k - 1;

const ms = (v: unknown, fallback: number): number | undefined => {
  if (v === undefined || v === null || v === '') return fallback;
  if (typeof v === 'number') return v;
  return typeof v === 'string' ? (/^\d+$/.test(v.trim()) ? Number(v) : parseDuration(v)) : undefined;
};

/** A checked target, or what is wrong with it. */
export function checkTarget(raw: RawTarget, defaults: TargetDefaults): ProbeTarget | string {
  const url = typeof raw.url === 'string' ? raw.url.trim() : '';
  try {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return `url: ${JSON.stringify(redactUrl(url))} is not an http:// or https:// URL`;
  } catch {
    return `url: ${JSON.stringify(redactUrl(url))} is not a URL`;
  }
  const shownUrl = redactUrl(url);
  const named = !(raw.id === undefined || raw.id === null || raw.id === '');
  const id = named ? String(raw.id) : url;
  // Messages below name the target by its label: an id that is the URL may carry credentials.
  const label = named ? id : shownUrl;
  const intervalMs = ms(raw.interval, defaults.intervalMs);
  if (intervalMs === undefined || !(intervalMs >= MIN_INTERVAL_MS)) return `${label}: interval: got ${JSON.stringify(raw.interval)}; expected at least 1s (e.g. 10s)`;
  const timeoutMs = ms(raw.timeout, Math.min(defaults.timeoutMs, Math.floor(intervalMs * 0.8)));
  if (timeoutMs === undefined || timeoutMs <= 0 || timeoutMs >= intervalMs) return `${label}: timeout: got ${JSON.stringify(raw.timeout)}; expected a duration shorter than the interval (${intervalMs} ms)`;
  let expectStatus = defaults.expectStatus;
  if (raw.expect_status !== undefined && raw.expect_status !== null && raw.expect_status !== '') {
    const list = Array.isArray(raw.expect_status) ? raw.expect_status : String(raw.expect_status).split(/[|,\s]+/);
    expectStatus = list.map(Number);
    if (expectStatus.some((s) => !Number.isInteger(s) || s < 100 || s > 599)) return `${label}: expect_status: got ${JSON.stringify(raw.expect_status)}; expected HTTP status codes such as 200 or 200|301`;
  }
  let match: BodyMatch | undefined;
  if (raw.match !== undefined && raw.match !== null && raw.match !== '') {
    const compiled = compileBodyMatch(String(raw.match));
    if (typeof compiled === 'string') return `${label}: match: ${compiled}`;
    match = compiled;
  }
  let headers: Record<string, string> | undefined;
  if (raw.headers !== undefined && raw.headers !== null && raw.headers !== '') {
    const h = typeof raw.headers === 'string' ? safeJson(raw.headers) : raw.headers;
    if (!h || typeof h !== 'object' || Array.isArray(h) || Object.values(h).some((v) => typeof v !== 'string')) return `${label}: headers: expected a mapping of header names to strings (in CSV: a JSON object)`;
    headers = h as Record<string, string>;
    for (const [name, value] of Object.entries(headers)) {
      try {
        http.validateHeaderName(name);
        http.validateHeaderValue(name, value);
      } catch (err) {
        return `${label}: headers: ${(err as Error).message}`;
      }
    }
  }
  return { id, label, url, shownUrl, intervalMs, timeoutMs, expectStatus, match, headers, matchBytes: defaults.matchBytes, hash: targetHash(id) };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Checks every row; duplicates of an id are problems too (the first one stays). */
export function checkTargets(rows: RawTarget[], defaults: TargetDefaults, where: (i: number) => string): { targets: ProbeTarget[]; problems: string[] } {
  const targets: ProbeTarget[] = [];
  const problems: string[] = [];
  const ids = new Set<string>();
  rows.forEach((row, i) => {
    const t = checkTarget(row, defaults);
    if (typeof t === 'string') problems.push(`${where(i)}: ${t}`);
    else if (ids.has(t.id)) problems.push(`${where(i)}: ${t.label}: the id is used by another target; give each target its own id`);
    else {
      ids.add(t.id);
      targets.push(t);
    }
  });
  return { targets, problems };
}

/** RFC 4180 CSV with a header row (`id,url,interval,timeout,expect_status,match,headers`; only url is required). */
export function parseCsv(text: string): RawTarget[] {
  return parseCsvWithLines(text).rows;
}

/**
 * As parseCsv, with the line of the file each row starts on: blank lines are
 * skipped and a quoted field may span lines, so a row's index does not tell
 * the line an operator must look at when it is rejected.
 */
export function parseCsvWithLines(text: string): { rows: RawTarget[]; lines: number[] } {
  const rows: string[][] = [];
  const starts: number[] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let rowStart = 1;
  const endRow = () => {
    row.push(field);
    if (row.some((f) => f !== '')) {
      rows.push(row);
      starts.push(rowStart);
    }
    row = [];
    field = '';
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\n' || (c === '\r' && text[i + 1] !== '\n')) line++;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') field += text[++i];
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') {
        i++;
        line++;
      }
      endRow();
      rowStart = line;
    } else field += c;
  }
  endRow();
  const [header = [], ...body] = rows;
  const keys = header.map((h) => h.trim().toLowerCase());
  return { rows: body.map((cells) => Object.fromEntries(keys.map((k, i) => [k, cells[i]?.trim() ?? ''])) as RawTarget), lines: starts.slice(1) };
}
