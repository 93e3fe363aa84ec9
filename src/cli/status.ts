/**
 * `nsr status [--watch]`: what the running recorder of a configuration is
 * doing, from its control server (found through the URL in the lock file of
 * its output directory): streams, queues, compression, disk, recent events.
 * `--watch` redraws every second on a terminal (q or Ctrl-C quits) and prints
 * one plain snapshot a second otherwise.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { configOption, EXIT_OK, fail, OperatorError, resolveConfigFile } from './common.js';
import { runningRecorder } from './running-recorder.js';
import { renderHub, type HubStatus } from './hub-status.js';

interface StatusOptions {
  config?: string;
  watch?: boolean;
  json?: boolean;
}

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('show what the running recorder of a configuration is doing (its control server)')
    .addOption(configOption())
    .option('-w, --watch', 'redraw every second (q or Ctrl-C quits); plain snapshots when not on a terminal')
    .option('--json', 'print the /status JSON as it is')
    .action(async (opts: StatusOptions) => {
      try {
        process.exitCode = await status(opts);
      } catch (err) {
        fail(err);
      }
    });
}

interface Target {
  dir: string;
  /** control.token of the configuration: GET /status needs it when set. */
  token: string | undefined;
}

async function status(opts: StatusOptions): Promise<number> {
  const { loadConfig } = await import('../config/loader.js');
  const loaded = loadConfig(resolveConfigFile(opts.config));
  const dir = path.resolve(loaded.config.output.dir);
  const target: Target = { dir, token: loaded.control.token };
  if (!opts.watch) {
    const snap = await fetchStatus(target);
    process.stdout.write(opts.json ? `${JSON.stringify(snap, null, 2)}\n` : render(snap, undefined, Infinity));
    return EXIT_OK;
  }
  return process.stdout.isTTY ? watchTerminal(target) : watchPlain(target, opts.json === true);
}

/**
 * Asks the recorder found through its lock (checked: running-recorder.ts) for
 * /status. Reads need no token on loopback, so only a configured control.token
 * is sent, and never across a redirect.
 */
async function fetchStatus(target: Target): Promise<Status> {
  const lock = runningRecorder(target.dir, '; start one with nsr run');
  if (!lock.controlUrl) throw new OperatorError(`the recorder (pid ${lock.pid}) has no control server: control.enabled is false in its configuration, or it is still starting`);
  let res: Response;
  try {
    res = await fetch(`${lock.controlUrl}/status`, {
      headers: target.token ? { authorization: `Bearer ${target.token}` } : {},
      redirect: 'error',
      signal: AbortSignal.timeout(5000),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
    throw new OperatorError(`the recorder (pid ${lock.pid}) does not answer on ${lock.controlUrl} (${cause})`);
  }
  if (res.status === 401) throw new OperatorError(`the control server at ${lock.controlUrl} refused the token: control.token of this configuration is not the running recorder's`);
  if (!res.ok) throw new OperatorError(`the control server at ${lock.controlUrl} answered ${res.status} ${await res.text()}`);
  return (await res.json()) as Status;
}

async function watchPlain(target: Target, json: boolean): Promise<number> {
  // `nsr status --watch | head` ends quietly.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(EXIT_OK);
    throw err;
  });
  let previous: Status | undefined;
  for (;;) {
    const snap = await fetchStatus(target);
    process.stdout.write(json ? `${JSON.stringify(snap)}\n` : `${render(snap, previous, Infinity)}\n`);
    previous = snap;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function watchTerminal(target: Target): Promise<number> {
  const out = process.stdout;
  const stdin = process.stdin;
  let previous: Status | undefined;
  let timer: NodeJS.Timeout | undefined;
  return new Promise((resolve) => {
    let done = false;
    const quit = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      out.write('\x1b[?25h\n'); // cursor back
      if (stdin.isTTY) stdin.setRawMode(false);
      stdin.pause();
      resolve(EXIT_OK);
    };
    process.once('SIGINT', quit);
    process.once('SIGTERM', quit);
    if (stdin.isTTY) {
      stdin.setRawMode(true);
      stdin.on('data', (key: Buffer) => {
        const k = key.toString('utf8');
        if (k === 'q' || k === 'Q' || k === '\x03' || k === '\x1b') quit();
      });
      stdin.resume();
    }
    out.write('\x1b[?25l'); // hide the cursor while redrawing
    const draw = async () => {
      let text: string;
      try {
        const snap = await fetchStatus(target);
        text = render(snap, previous, out.columns || 120);
        previous = snap;
      } catch (err) {
        // The recorder may be restarting: say so and keep trying.
        text = `nsr status --watch: ${(err as Error).message}\nretrying every second…\n`;
        previous = undefined;
      }
      if (done) return;
      out.write(`\x1b[H\x1b[2J${text}\n(q or Ctrl-C quits)`);
      timer = setTimeout(draw, 1000);
    };
    void draw();
  });
}

// ---- rendering -------------------------------------------------------------

interface Summary {
  p50: number;
  p99: number;
  max: number;
  n: number;
}
interface StreamStatus {
  kind: string;
  target: string;
  interval_ms: number;
  freshness_bound_ms: number;
  last_record_age_ms: number | null;
  stale: boolean;
  fetches: number;
  records: number;
  bytes: number;
  failures: Record<string, number>;
  missed_ticks: Record<string, number>;
  last_missed_reason: string | null;
  lateness_ms: Summary | null;
  fetch_ms: Summary | null;
  queue: { depth: number; bytes: number };
  hub?: HubStatus;
}
interface Status {
  version: string;
  pid: number;
  now: number;
  uptime_ms: number;
  stopping?: boolean;
  output_dir: string;
  streams: Record<string, StreamStatus>;
  windows_open: number;
  compression_backlog: number;
  disk_free_bytes: number | null;
  /** With output.min_free set. */
  disk?: { free_bytes: number | null; min_free_bytes: number | null; low: boolean };
  events: Record<string, unknown>[];
}

/** One readable snapshot; `previous` (a second earlier) gives the current record rate. */
export function render(s: Status, previous: Status | undefined, width: number): string {
  const lines: string[] = [];
  lines.push(`nsr ${s.version}  pid ${s.pid}  up ${age(s.uptime_ms)}  ${s.stopping ? 'STOPPING  ' : ''}output ${s.output_dir}  at ${clock(s.now)}`);
  lines.push('');
  const rows: string[][] = [['STREAM', 'STATE', 'LAST REC', 'RATE/s', 'FETCH p50/p99', 'LATE p99', 'FETCHES', 'RECORDS', 'ERRORS', 'MISSED', 'QUEUE']];
  for (const [name, st] of Object.entries(s.streams)) {
    const stale = st.stale;
    const prev = previous?.streams[name];
    const rate = prev && s.now > previous!.now ? (st.records - prev.records) / ((s.now - previous!.now) / 1000) : s.uptime_ms > 0 ? st.records / (s.uptime_ms / 1000) : 0;
    rows.push([
      name,
      stale ? 'STALE' : 'ok',
      st.last_record_age_ms === null ? 'never' : `${age(st.last_record_age_ms)} ago`,
      rate.toFixed(2),
      st.fetch_ms ? `${ms(st.fetch_ms.p50)}/${ms(st.fetch_ms.p99)}` : '-',
      st.lateness_ms ? ms(st.lateness_ms.p99) : '-',
      String(st.fetches),
      String(st.records),
      byReason(st.failures),
      byReason(st.missed_ticks),
      `${st.queue.depth} (${bytes(st.queue.bytes)})`,
    ]);
  }
  lines.push(...table(rows));
  for (const [name, st] of Object.entries(s.streams)) if (st.hub) lines.push('', ...renderHub(name, st.hub, s.now));
  lines.push('');
  const minFree = s.disk ? `   min free ${s.disk.min_free_bytes === null ? 'unknown' : bytes(s.disk.min_free_bytes)}${s.disk.low ? '  DISK LOW: records wait' : ''}` : '';
  lines.push(`compression backlog ${s.compression_backlog}   window files open ${s.windows_open}   disk free ${s.disk_free_bytes === null ? 'unknown' : bytes(s.disk_free_bytes)}${minFree}`);
  lines.push('');
  lines.push('recent events');
  const events = s.events.slice(-10);
  if (events.length === 0) lines.push('  (none)');
  for (const e of events) lines.push(`  ${clock(Number(e.timestamp))}  ${String(e.event).padEnd(18)} ${eventDetail(e)}`);
  return `${lines.map((l) => (l.length > width ? `${l.slice(0, width - 1)}…` : l)).join('\n')}\n`;
}

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd());
}

function byReason(m: Record<string, number>): string {
  const entries = Object.entries(m);
  return entries.length === 0 ? '0' : entries.map(([k, v]) => `${v} ${k}`).join(', ');
}

function eventDetail(e: Record<string, unknown>): string {
  const { timestamp: _t, event: _e, streams, ...rest } = e;
  if (e.event === 'missed_tick') return `${e.stream}: ${e.reason}${e.count ? ` ×${e.count}` : ''}: ${e.message}`;
  const parts = Object.entries(rest)
    .filter(([, v]) => v !== undefined && v !== null && typeof v !== 'object')
    .map(([k, v]) => `${k}=${v}`);
  if (streams && typeof streams === 'object') parts.push(`streams=${Object.keys(streams).join(',')}`);
  return parts.join(' ');
}

function age(msValue: number): string {
  const s = msValue / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h`;
}

function ms(v: number): string {
  return v < 10 ? `${v.toFixed(1)}ms` : `${Math.round(v)}ms`;
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

function clock(t: number): string {
  const d = new Date(t);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((x) => String(x).padStart(2, '0')).join(':');
}


