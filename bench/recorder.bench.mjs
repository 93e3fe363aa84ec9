#!/usr/bin/env node
/**
 * Recorder benchmarks (run with `npm run bench`, which builds first).
 *
 *   node bench/recorder.bench.mjs [--only nominal|throughput] [--seconds N]
 *        [--streams N] [--interval 20ms] [--window 5s] [--workers 1]
 *        [--level 4] [--zip-sample-mb N] [--keep]
 *
 * 1. nominal:    flow + graph at 1 s against the simulator, 60 s. Recorder CPU
 *                (own, and its zip workers'), peak RSS, lateness of fetch starts.
 * 2. throughput: N flow + N graph streams at a short interval, 5 s windows, 30 s.
 *                records/s, raw NDJSON MB/s, zip pool MB/s, missed ticks by reason,
 *                then `zip -4` (Info-ZIP) and a yazl pass (after the run) on the same window
 *                contents for a compression-speed and size comparison.
 *
 * The simulator runs in its own process (`nsr simulate`), the recorder in another
 * (`nsr run --for`), a child of this script (through /usr/bin/time when it is
 * installed, for an exact CPU total including reaped zip workers). /proc of the
 * recorder and of its children is sampled while it runs.
 *
 * MB = 10^6 bytes throughout. Results: printed, and bench/out/results.json.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { writeSingleEntryZip } from '../dist/compress/zip-writer.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const NSR = path.join(ROOT, 'bin', 'nsr');
const OUT_DIR = path.join(ROOT, 'bench', 'out');
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
const TIME_BIN = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
const ZIP_BIN = existsSync('/usr/bin/zip') ? '/usr/bin/zip' : undefined;
const UNZIP_BIN = existsSync('/usr/bin/unzip') ? '/usr/bin/unzip' : undefined;
const SAMPLE_MS = 100;
const MB = 1e6;

// ---------------------------------------------------------------- arguments

function parseArgs(argv) {
  const opts = { only: undefined, seconds: undefined, streams: 8, interval: '20ms', window: '5s', workers: 1, level: 4, zipSampleMb: 2000, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const val = () => (inline !== undefined ? inline : next());
    switch (flag) {
      case '--only': opts.only = val(); if (!['nominal', 'throughput'].includes(opts.only)) usage(`--only: nominal or throughput, got ${opts.only}`); break;
      case '--seconds': opts.seconds = Number(val()); if (!(opts.seconds > 0)) usage('--seconds: a positive number'); break;
      case '--streams': opts.streams = Number(val()); if (!(opts.streams >= 1)) usage('--streams: at least 1'); break;
      case '--interval': opts.interval = val(); break;
      case '--window': opts.window = val(); break;
      case '--workers': opts.workers = Number(val()); break;
      case '--level': opts.level = Number(val()); break;
      case '--zip-sample-mb': opts.zipSampleMb = Number(val()); break;
      case '--keep': opts.keep = true; break;
      case '-h': case '--help': usage(); break;
      default: usage(`unknown argument ${a}`);
    }
  }
  return opts;
}

function usage(err) {
  const text = 'usage: node bench/recorder.bench.mjs [--only nominal|throughput] [--seconds N] [--streams N] [--interval 20ms] [--window 5s] [--workers N] [--level N] [--zip-sample-mb N] [--keep]\n';
  process.stderr.write((err ? `recorder.bench: ${err}\n` : '') + text);
  process.exit(err ? 2 : 0);
}

// ---------------------------------------------------------------- /proc helpers

function readStat(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // f[0] = state (field 3); utime = field 14 → f[11], stime f[12], cutime f[13], cstime f[14]
    return { state: f[0], utime: Number(f[11]) / CLK_TCK, stime: Number(f[12]) / CLK_TCK, cutime: Number(f[13]) / CLK_TCK, cstime: Number(f[14]) / CLK_TCK };
  } catch {
    return undefined;
  }
}

function readStatusKb(pid, key) {
  try {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

function childrenOf(pid) {
  const out = new Set();
  try {
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      try {
        for (const c of readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/)) if (c) out.add(Number(c));
      } catch { /* thread gone */ }
    }
  } catch { /* process gone */ }
  return [...out];
}

/** Busy and total CPU time of the whole machine (all cores), in seconds, from /proc/stat. */
function systemCpu() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3] + (f[4] ?? 0); // idle + iowait
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0); // up to steal; guest is already in user
  return { busy: (total - idle) / CLK_TCK, total: total / CLK_TCK };
}

function cmdline(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  } catch {
    return '';
  }
}

/** Samples a process and its children until stopped; keeps the last values seen. */
class ProcSampler {
  constructor(pid) {
    this.pid = pid;
    this.t0 = performance.now();
    this.samples = []; // { t (s since start), own (cpu s), children (cpu s, live + reaped) }
    this.last = undefined;
    this.peakOwnKb = 0;
    this.peakRssKb = 0;
    this.children = new Map(); // pid → { cpu, hwmKb, cmd }
    this.timer = setInterval(() => this.sample(), SAMPLE_MS);
    this.sample();
  }

  sample() {
    const st = readStat(this.pid);
    if (!st || st.state === 'Z') return;
    const hwm = readStatusKb(this.pid, 'VmHWM');
    const rss = readStatusKb(this.pid, 'VmRSS');
    if (hwm) this.peakOwnKb = Math.max(this.peakOwnKb, hwm);
    if (rss) this.peakRssKb = Math.max(this.peakRssKb, rss);
    let live = 0;
    for (const c of childrenOf(this.pid)) {
      const cs = readStat(c);
      if (!cs) continue;
      const prev = this.children.get(c) ?? { cpu: 0, hwmKb: 0, cmd: cmdline(c) };
      prev.cpu = cs.utime + cs.stime;
      prev.hwmKb = Math.max(prev.hwmKb, readStatusKb(c, 'VmHWM') ?? 0);
      prev.live = true;
      this.children.set(c, prev);
      live += prev.cpu;
    }
    const s = { t: (performance.now() - this.t0) / 1000, own: st.utime + st.stime, user: st.utime, sys: st.stime, reaped: st.cutime + st.cstime, live };
    s.children = s.reaped + s.live;
    this.samples.push(s);
    this.last = s;
  }

  stop() {
    clearInterval(this.timer);
  }

  /** CPU% of one core of the recorder's own process between two times (s since start). */
  ownPctBetween(from, to) {
    const inRange = this.samples.filter((s) => s.t >= from && s.t <= to);
    if (inRange.length < 2) return undefined;
    const a = inRange[0];
    const b = inRange[inRange.length - 1];
    return { own: (100 * (b.own - a.own)) / (b.t - a.t), children: (100 * (b.children - a.children)) / (b.t - a.t), from: a.t, to: b.t };
  }
}

// ---------------------------------------------------------------- simulator

async function startSimulator() {
  // Testbed DPIDs (uint64): the bodies the figures in BENCHMARKS.md were measured with.
  const child = spawn(process.execPath, [NSR, 'simulate', '--host', '127.0.0.1', '--port', '0', '--dpids', 'testbed'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const url = await new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: child.stdout });
    rl.on('line', (line) => {
      const m = /listening on (http:\/\/\S+)/.exec(line);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`the simulator exited (code ${code}) before listening: ${stderr}`)));
  });
  return {
    url,
    pid: child.pid,
    cpu: () => {
      const s = readStat(child.pid);
      return s ? s.utime + s.stime : undefined;
    },
    hwmKb: () => readStatusKb(child.pid, 'VmHWM'),
    stop: () => new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
}

// ---------------------------------------------------------------- recorder run

function yamlConfig({ window, logLevel, workers, level, maxWindowSize, streams }) {
  const lines = [
    `output: {dir: out, window: ${window}${maxWindowSize ? `, max_window_size: ${maxWindowSize}` : ''}}`,
    `compression: {workers: ${workers}, level: ${level}}`,
    `log: {level: ${logLevel}}`,
    'streams:',
  ];
  for (const [name, s] of Object.entries(streams)) {
    lines.push(`  ${name}: {kind: ndtwin, kernel: "${s.kernel}", data: ${s.data}, interval: ${s.interval}${s.timeout ? `, timeout: ${s.timeout}` : ''}}`);
  }
  return lines.join('\n') + '\n';
}

/**
 * Runs `nsr run -c <config> --for <seconds>s` in a fresh directory and collects
 * the log, the stop event, and /proc samples. Returns everything measured.
 */
async function runRecorder({ label, config, seconds, sim }) {
  const dir = mkdtempSync(path.join(os.tmpdir(), `nsr-bench-${label}-`));
  const cfgPath = path.join(dir, 'recorder.yaml');
  writeFileSync(cfgPath, config);
  const nsrArgs = [NSR, 'run', '-c', cfgPath, '--for', `${seconds}s`];
  const timeOut = path.join(dir, 'time.txt');
  const [cmd, args] = TIME_BIN
    ? [TIME_BIN, ['-f', '%e %U %S %M', '-o', timeOut, process.execPath, ...nsrArgs]]
    : [process.execPath, nsrArgs];
  const simCpu0 = sim.cpu();
  const sys0 = systemCpu();
  const bench0 = process.cpuUsage();
  const t0 = performance.now();
  const child = spawn(cmd, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });

  // With /usr/bin/time the recorder is time's only child: wait for it to appear.
  let recPid = child.pid;
  if (TIME_BIN) {
    for (let i = 0; i < 200; i++) {
      const kids = childrenOf(child.pid);
      if (kids.length > 0) {
        recPid = kids[0];
        break;
      }
      await sleep(10);
    }
  }
  const sampler = new ProcSampler(recPid);

  const log = { lines: 0, byLevel: {}, events: {}, problems: new Map(), compressed: [], stop: undefined, final: undefined, start: undefined, nonJson: [] };
  const rl = readline.createInterface({ input: child.stderr });
  rl.on('line', (line) => {
    log.lines++;
    let o;
    try {
      o = JSON.parse(line);
    } catch {
      if (log.nonJson.length < 20) log.nonJson.push(line.slice(0, 300));
      return;
    }
    log.byLevel[o.level] = (log.byLevel[o.level] ?? 0) + 1;
    const ev = o.event ?? `(${o.msg})`;
    log.events[ev] = (log.events[ev] ?? 0) + 1;
    if (o.event === 'start') log.start = { ...o, t: (performance.now() - t0) / 1000 };
    if (o.event === 'window_compressed') log.compressed.push(o);
    if (o.event === 'stop') {
      sampler.sample();
      log.stop = { ...o, t: (performance.now() - t0) / 1000 };
    }
    if (o.complete !== undefined && o.msg?.startsWith('stopped')) log.final = o;
    if (o.level >= 40) {
      const key = `${o.level >= 50 ? 'error' : 'warn'} ${o.event ?? ''} ${o.event === 'missed_tick' ? o.reason : o.msg}`.trim();
      const p = log.problems.get(key) ?? { count: 0, example: line.slice(0, 400) };
      p.count++;
      log.problems.set(key, p);
    }
  });
  const exit = await new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const wall = (performance.now() - t0) / 1000;
  sampler.stop();
  await new Promise((r) => (rl.closed ? r() : rl.once('close', r)));
  const simCpu1 = sim.cpu();
  const sys1 = systemCpu();
  const benchCpu = process.cpuUsage(bench0);

  let time;
  if (TIME_BIN && existsSync(timeOut)) {
    const lastLine = readFileSync(timeOut, 'utf8').trim().split('\n').pop();
    const [e, u, s, m] = lastLine.split(/\s+/).map(Number);
    time = { elapsed_s: e, user_s: u, sys_s: s, cpu_s: round(u + s, 2), maxrss_mb: round((m * 1024) / MB, 1), raw: lastLine };
  }
  const machineBusy = sys1.busy - sys0.busy;
  return { dir, exit, wall, sampler, log, time, sim_cpu_s: simCpu0 !== undefined && simCpu1 !== undefined ? simCpu1 - simCpu0 : undefined, recPid, machineBusy, benchCpu: (benchCpu.user + benchCpu.system) / 1e6 };
}

function summarizeProcess(run, seconds) {
  const { sampler, time, wall, log } = run;
  const last = sampler.last ?? { own: 0, user: 0, sys: 0, children: 0 };
  const ownCpu = last.own;
  const childCpu = last.children;
  const totalCpu = time ? time.cpu_s : ownCpu + childCpu;
  const upS = log.stop ? log.stop.uptime_ms / 1000 : seconds;
  // Steady state: from 3 s after the start event to the stop (the --for deadline), own process only.
  const startT = log.start ? log.start.t : 0;
  const steady = sampler.ownPctBetween(startT + 3, startT + seconds - 0.2);
  const workers = [...sampler.children.values()].filter((c) => /zip-worker/.test(c.cmd));
  const atStart = sampler.samples.find((s) => s.t >= startT);
  const records = Object.values(log.stop?.streams ?? {}).reduce((n, s) => n + (s.records ?? 0), 0);
  const steadyMsPerRecord = steady && records ? (steady.own * 10) / (records / upS) : undefined;
  return {
    wall_s: round(wall, 2),
    uptime_s: round(upS, 2),
    cpu: {
      recorder_own_s: round(ownCpu, 2),
      recorder_user_s: round(last.user, 2),
      recorder_sys_s: round(last.sys, 2),
      zip_workers_s: round(childCpu, 2),
      total_s: round(totalCpu, 2),
      total_source: time ? '/usr/bin/time (recorder + reaped children, exact)' : '/proc samples (last sample before exit)',
      unaccounted_s: time ? round(totalCpu - ownCpu - childCpu, 2) : undefined,
      own_pct_of_one_core: round((100 * ownCpu) / wall, 1),
      total_pct_of_one_core: round((100 * totalCpu) / wall, 1),
      steady_own_pct_of_one_core: steady ? round(steady.own, 1) : undefined,
      steady_workers_pct_of_one_core: steady ? round(steady.children, 1) : undefined,
      steady_window_s: steady ? [round(steady.from, 1), round(steady.to, 1)] : undefined,
      steady_own_ms_per_record: round(steadyMsPerRecord, 2),
      startup_own_s: atStart ? round(atStart.own, 2) : undefined,
    },
    rss: {
      recorder_peak_mb: round((sampler.peakOwnKb * 1024) / MB, 1),
      zip_worker_peak_mb: workers.length ? round((Math.max(...workers.map((w) => w.hwmKb)) * 1024) / MB, 1) : undefined,
      zip_workers_seen: workers.length,
      time_maxrss_mb: time?.maxrss_mb,
    },
    simulator_cpu_s: run.sim_cpu_s !== undefined ? round(run.sim_cpu_s, 2) : undefined,
    bench_cpu_s: round(run.benchCpu, 2),
    // Everything else on the machine while the recorder ran (the machine is shared): busy cores on average.
    machine: {
      busy_cores_avg: round(run.machineBusy / wall, 2),
      other_busy_cores_avg: round((run.machineBusy - totalCpu - (run.sim_cpu_s ?? 0) - run.benchCpu) / wall, 2),
      loadavg_after: os.loadavg().map((x) => round(x, 2)),
    },
    exit: run.exit,
    stopped: log.final ? { complete: log.final.complete, compressed: log.final.compressed, deadlineReached: log.final.deadlineReached } : undefined,
    stop_event: log.stop ? { unwritten_records: log.stop.unwritten_records, compressed: log.stop.compressed, shutdown_ms: log.stop.shutdown_ms, deadline_reached: log.stop.deadline_reached } : undefined,
    log_lines: log.lines,
    log_levels: log.byLevel,
    log_events: Object.fromEntries(Object.entries(log.events).sort((a, b) => b[1] - a[1])),
    log_problems: Object.fromEntries([...log.problems].sort((a, b) => b[1].count - a[1].count)),
    log_non_json: log.nonJson,
  };
}

function streamTable(stop) {
  const out = {};
  for (const [name, s] of Object.entries(stop?.streams ?? {})) {
    out[name] = { fetches: s.fetches, records: s.records, bytes: s.bytes, failures: s.failures, missed_ticks: s.missed_ticks, lateness_ms: s.lateness_ms };
  }
  return out;
}

// ---------------------------------------------------------------- scenarios

async function nominal(sim, opts) {
  const seconds = opts.seconds ?? 60;
  const config = yamlConfig({
    window: '5m',
    logLevel: 'info',
    workers: 1,
    level: 4,
    streams: {
      flowinfo: { kernel: sim.url, data: 'flow', interval: '1s' },
      graphinfo: { kernel: sim.url, data: 'graph', interval: '1s' },
    },
  });
  log(`nominal: flow + graph at 1 s for ${seconds} s …`);
  const run = await runRecorder({ label: 'nominal', config, seconds, sim });
  const proc = summarizeProcess(run, seconds);
  const streams = streamTable(run.log.stop);
  const records = Object.values(streams).reduce((n, s) => n + s.records, 0);
  const bytes = Object.values(streams).reduce((n, s) => n + s.bytes, 0);
  const result = {
    seconds,
    config,
    ...proc,
    records,
    raw_mb: round(bytes / MB, 2),
    cpu_ms_per_record: records ? round((1000 * proc.cpu.recorder_own_s) / records, 2) : undefined,
    total_cpu_ms_per_record: records ? round((1000 * proc.cpu.total_s) / records, 2) : undefined,
    streams,
    zips: listZips(run.dir).length,
  };
  cleanup(run.dir, opts);
  return result;
}

async function throughput(sim, opts) {
  const seconds = opts.seconds ?? 30;
  const streams = {};
  for (let i = 1; i <= opts.streams; i++) {
    streams[`flow${i}`] = { kernel: sim.url, data: 'flow', interval: opts.interval };
    streams[`graph${i}`] = { kernel: sim.url, data: 'graph', interval: opts.interval };
  }
  const config = yamlConfig({ window: opts.window, logLevel: 'debug', workers: opts.workers, level: opts.level, streams });
  log(`throughput: ${opts.streams} flow + ${opts.streams} graph streams at ${opts.interval}, ${opts.window} windows, ${opts.workers} zip worker(s), for ${seconds} s …`);
  const run = await runRecorder({ label: 'throughput', config, seconds, sim });
  const proc = summarizeProcess(run, seconds);
  const st = streamTable(run.log.stop);
  const agg = { fetches: 0, records: 0, bytes: 0, missed: {}, failures: {}, flow: { records: 0, bytes: 0 }, graph: { records: 0, bytes: 0 } };
  let lateMax = 0;
  const lateP99 = [];
  const lateP50 = [];
  for (const [name, s] of Object.entries(st)) {
    agg.fetches += s.fetches;
    agg.records += s.records;
    agg.bytes += s.bytes;
    const kind = name.startsWith('flow') ? 'flow' : 'graph';
    agg[kind].records += s.records;
    agg[kind].bytes += s.bytes;
    for (const [r, n] of Object.entries(s.missed_ticks ?? {})) agg.missed[r] = (agg.missed[r] ?? 0) + n;
    for (const [r, n] of Object.entries(s.failures ?? {})) agg.failures[r] = (agg.failures[r] ?? 0) + n;
    if (s.lateness_ms) {
      lateMax = Math.max(lateMax, s.lateness_ms.max);
      lateP99.push(s.lateness_ms.p99);
      lateP50.push(s.lateness_ms.p50);
    }
  }
  const ticks = agg.fetches + Object.values(agg.missed).reduce((a, b) => a + b, 0) - Object.values(agg.failures).reduce((a, b) => a + b, 0);
  const upS = proc.uptime_s;

  // Compression by the pool, from the window_compressed events (data streams only).
  const dataWindows = run.log.compressed.filter((e) => e.stream !== 'events');
  const pool = compressionFigures(dataWindows.map((e) => ({ bytes: e.bytes, zip: e.zip_bytes, ms: e.ms })));
  // Sanity: every recorded record and byte is in a compressed window.
  pool.records = dataWindows.reduce((n, e) => n + e.records, 0);
  pool.matches_stop_event = pool.records === agg.records && dataWindows.reduce((n, e) => n + e.bytes, 0) === agg.bytes;
  const eventWindows = run.log.compressed.filter((e) => e.stream === 'events');

  // zip -4 and a yazl pass (after the run) on the same window contents.
  log(`throughput: comparing with zip -${opts.level} on the ${dataWindows.length} data windows …`);
  const comparison = await compareCompression(run.dir, dataWindows, opts);

  const result = {
    seconds,
    setup: { flow_streams: opts.streams, graph_streams: opts.streams, interval: opts.interval, window: opts.window, zip_workers: opts.workers, level: opts.level },
    config,
    ...proc,
    records: agg.records,
    fetches: agg.fetches,
    ticks_scheduled_approx: ticks,
    records_per_s: round(agg.records / upS, 1),
    raw_mb: round(agg.bytes / MB, 1),
    raw_mb_per_s: round(agg.bytes / MB / upS, 2),
    by_kind: {
      flow: { records: agg.flow.records, records_per_s: round(agg.flow.records / upS, 1), mb_per_s: round(agg.flow.bytes / MB / upS, 2) },
      graph: { records: agg.graph.records, records_per_s: round(agg.graph.records / upS, 1), mb_per_s: round(agg.graph.bytes / MB / upS, 2) },
    },
    missed_ticks: agg.missed,
    failures: agg.failures,
    lateness_ms: { p50_median_of_streams: median(lateP50), p99_max_of_streams: lateP99.length ? Math.max(...lateP99) : undefined, max: lateMax },
    cpu_ms_per_record: agg.records ? round((1000 * proc.cpu.recorder_own_s) / agg.records, 2) : undefined,
    total_cpu_ms_per_record: agg.records ? round((1000 * proc.cpu.total_s) / agg.records, 2) : undefined,
    pool,
    events_windows: eventWindows.length,
    comparison,
    streams: st,
  };
  cleanup(run.dir, opts);
  return result;
}

function compressionFigures(rows) {
  const bytes = rows.reduce((n, r) => n + r.bytes, 0);
  const zip = rows.reduce((n, r) => n + r.zip, 0);
  const ms = rows.reduce((n, r) => n + (r.ms ?? 0), 0);
  return {
    windows: rows.length,
    raw_mb: round(bytes / MB, 1),
    zip_mb: round(zip / MB, 2),
    ratio: zip ? round(bytes / zip, 2) : undefined,
    busy_s: round(ms / 1000, 2),
    mb_per_s: ms ? round(bytes / MB / (ms / 1000), 1) : undefined,
  };
}

function listZips(dir) {
  const out = path.join(dir, 'out');
  return existsSync(out) ? readdirSync(out).filter((f) => f.endsWith('_json.zip')) : [];
}

/**
 * Unzips each data window (up to --zip-sample-mb of raw bytes), then times
 * `zip -<level> -q` per file, and a yazl pass (what the pool runs, without
 * the fsyncs/rename), plus raw zlib deflate, on the same files.
 */
async function compareCompression(runDir, windows, opts) {
  if (!ZIP_BIN || !UNZIP_BIN) return { skipped: 'zip or unzip is not installed' };
  const { default: yazl } = await import(path.join(ROOT, 'node_modules', 'yazl', 'index.js'));
  const work = path.join(runDir, 'cmp');
  mkdirSync(work, { recursive: true });
  const rows = [];
  let taken = 0;
  for (const w of windows) {
    if (taken >= opts.zipSampleMb * MB) break;
    const zipPath = path.join(runDir, 'out', w.file);
    if (!existsSync(zipPath)) continue;
    const entry = w.file.replace(/_json\.zip$/, '.json');
    const un = spawnSync(UNZIP_BIN, ['-q', '-o', zipPath, entry, '-d', work]);
    const jsonPath = path.join(work, entry);
    if (un.status !== 0 || !existsSync(jsonPath)) {
      rows.push({ file: w.file, error: `unzip: ${un.stderr}` });
      continue;
    }
    const size = statSync(jsonPath).size;
    if (size !== w.bytes) rows.push({ file: w.file, warning: `unzipped size ${size} != window bytes ${w.bytes}` });
    taken += size;

    // zip -N -q, one process per file as a user would run it
    const zOut = path.join(work, 'z.zip');
    rmSync(zOut, { force: true });
    const z0 = performance.now();
    const z = spawnSync(ZIP_BIN, [`-${opts.level}`, '-q', '-j', zOut, jsonPath]);
    const zMs = performance.now() - z0;
    if (z.status !== 0) {
      rows.push({ file: w.file, error: `zip: ${z.stderr}` });
      continue;
    }
    const zBytes = statSync(zOut).size;

    // yazl, same options as src/compress/write-zip.ts, no fsync
    const yOut = path.join(work, 'y.zip');
    const y0 = performance.now();
    await new Promise((resolve, reject) => {
      const zf = new yazl.ZipFile();
      zf.addFile(jsonPath, entry, { compressionLevel: opts.level, mtime: new Date() });
      zf.end({ forceZip64Format: false });
      const out = createWriteStream(yOut);
      out.on('error', reject);
      zf.outputStream.on('error', reject);
      out.on('close', resolve);
      zf.outputStream.pipe(out);
    });
    const yMs = performance.now() - y0;
    const yBytes = statSync(yOut).size;

    // nsr's own zip writer (what the pool runs), no fsync/rename
    const nOut = path.join(work, 'n.zip');
    const n0 = performance.now();
    const { bytesOut: nBytes } = await writeSingleEntryZip({ source: jsonPath, target: nOut, entryName: entry, level: opts.level, comment: '', mtime: new Date() });
    const nMs = performance.now() - n0;

    // zlib deflateRaw streaming from the file, the deflate alone
    const d0 = performance.now();
    let dBytes = 0;
    await new Promise((resolve, reject) => {
      const d = zlib.createDeflateRaw({ level: opts.level });
      d.on('data', (c) => (dBytes += c.length));
      d.on('end', resolve);
      d.on('error', reject);
      createReadStream(jsonPath).on('error', reject).pipe(d);
    });
    const dMs = performance.now() - d0;

    rows.push({ file: w.file, bytes: size, pool: { zip: w.zip_bytes, ms: w.ms }, zip4: { zip: zBytes, ms: zMs }, yazl: { zip: yBytes, ms: yMs }, nsr: { zip: nBytes, ms: nMs }, deflate: { zip: dBytes, ms: dMs } });
    rmSync(jsonPath, { force: true });
  }
  rmSync(work, { recursive: true, force: true });
  const ok = rows.filter((r) => r.bytes !== undefined);
  const fig = (k) => compressionFigures(ok.map((r) => ({ bytes: r.bytes, zip: r[k].zip, ms: r[k].ms })));
  const pool = fig('pool');
  const zip4 = fig('zip4');
  const yz = fig('yazl');
  const nsrWriter = fig('nsr');
  const deflate = fig('deflate');
  return {
    files: ok.length,
    of_windows: windows.length,
    raw_mb: round(taken / MB, 1),
    pool_under_load: pool,
    zip_cli: { ...zip4, command: `zip -${opts.level} -q -j out.zip <window>.json (one process per file)` },
    yazl_after_run: yz,
    nsr_writer_after_run: nsrWriter,
    zlib_deflate_raw_after_run: deflate,
    speed_ratio_pool_vs_zip: pool.mb_per_s && zip4.mb_per_s ? round(pool.mb_per_s / zip4.mb_per_s, 2) : undefined,
    speed_ratio_yazl_after_run_vs_zip: yz.mb_per_s && zip4.mb_per_s ? round(yz.mb_per_s / zip4.mb_per_s, 2) : undefined,
    speed_ratio_nsr_writer_after_run_vs_zip: nsrWriter.mb_per_s && zip4.mb_per_s ? round(nsrWriter.mb_per_s / zip4.mb_per_s, 2) : undefined,
    size_ratio_pool_vs_zip: pool.zip_mb && zip4.zip_mb ? round(pool.zip_mb / zip4.zip_mb, 3) : undefined,
    problems: rows.filter((r) => r.error || r.warning).slice(0, 20),
  };
}

// ---------------------------------------------------------------- output

function machine() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1];
  const memKb = Number(/^MemTotal:\s+(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1]);
  return { nproc: os.availableParallelism?.() ?? os.cpus().length, cpu_model: model, mem_gb: round((memKb * 1024) / 1e9, 1), node: process.version, platform: `${os.type()} ${os.release()} ${os.arch()}`, loadavg_at_start: os.loadavg().map((x) => round(x, 2)), busy_processes_at_start: busyProcesses() };
}

/** The commit benchmarked, and whether src/ had uncommitted changes (others may be editing it). */
function gitState() {
  const head = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' });
  return head.status === 0 ? { head: head.stdout.trim(), src_uncommitted: dirty.stdout.trim().split('\n').filter(Boolean) } : undefined;
}

/** Other processes using CPU when the bench starts (the machine is shared): `ps` lifetime %CPU ≥ 5. */
function busyProcesses() {
  const ps = spawnSync('ps', ['-eo', 'pid,pcpu,etime,args', '--sort=-pcpu', '--no-headers'], { encoding: 'utf8' });
  if (ps.status !== 0) return undefined;
  return ps.stdout.split('\n').map((l) => l.trim()).filter(Boolean).map((l) => {
    const [pid, pcpu, etime, ...args] = l.split(/\s+/);
    return { pid: Number(pid), pcpu: Number(pcpu), etime, cmd: args.join(' ').slice(0, 120) };
  }).filter((p) => p.pcpu >= 5 && p.pid !== process.pid).slice(0, 8);
}

function printSummary(results) {
  const m = results.machine;
  const lines = [];
  lines.push('');
  lines.push(`nsr recorder benchmark — ${results.date}`);
  if (results.git) lines.push(`commit ${results.git.head}${results.git.src_uncommitted.length ? ` + uncommitted src/ changes (${results.git.src_uncommitted.length} files)` : ''}`);
  lines.push(`machine: ${m.nproc} CPU (${m.cpu_model}), ${m.mem_gb} GB, Node ${m.node}, load at start ${m.loadavg_at_start.join(' ')}`);
  const n = results.nominal;
  if (n) {
    lines.push('');
    lines.push(`== nominal: flow + graph at 1 s, ${n.seconds} s (wall ${n.wall_s} s) ==`);
    lines.push(`CPU: recorder ${n.cpu.recorder_own_s} s (user ${n.cpu.recorder_user_s}, sys ${n.cpu.recorder_sys_s}) = ${n.cpu.own_pct_of_one_core}% of one core; steady state ${n.cpu.steady_own_pct_of_one_core}%`);
    lines.push(`     zip workers ${n.cpu.zip_workers_s} s; total ${n.cpu.total_s} s = ${n.cpu.total_pct_of_one_core}% (${n.cpu.total_source})`);
    lines.push(`     startup ${n.cpu.startup_own_s} s; steady ${n.cpu.steady_own_ms_per_record} ms recorder CPU per record (whole run: ${n.cpu_ms_per_record} ms own, ${n.total_cpu_ms_per_record} ms with zip workers); simulator used ${n.simulator_cpu_s} s`);
    lines.push(`RSS: recorder peak ${n.rss.recorder_peak_mb} MB, zip worker peak ${n.rss.zip_worker_peak_mb ?? '-'} MB`);
    lines.push(`machine: ${n.machine.busy_cores_avg} cores busy on average, ${n.machine.other_busy_cores_avg} of them by other processes`);
    lines.push(`records ${n.records} (${n.raw_mb} MB raw), zips ${n.zips}`);
    lines.push(table(['stream', 'fetches', 'records', 'missed', 'late p50', 'p99', 'max', 'n'], Object.entries(n.streams).map(([k, s]) => [k, s.fetches, s.records, fmtObj(s.missed_ticks), s.lateness_ms?.p50, s.lateness_ms?.p99, s.lateness_ms?.max, s.lateness_ms?.n])));
    lines.push(`exit: ${fmtExit(n)}`);
    lines.push(`log problems: ${fmtProblems(n.log_problems)}`);
    lines.push(`log lines: ${n.log_lines} (${fmtObj(n.log_events)})${n.log_non_json.length ? `; non-JSON on stderr: ${n.log_non_json[0]}` : ''}`);
  }
  const t = results.throughput;
  if (t) {
    lines.push('');
    lines.push(`== throughput: ${t.setup.flow_streams} flow + ${t.setup.graph_streams} graph streams at ${t.setup.interval}, ${t.setup.window} windows, ${t.seconds} s (wall ${t.wall_s} s) ==`);
    lines.push(`records ${t.records} → ${t.records_per_s} records/s (flow ${t.by_kind.flow.records_per_s}/s, graph ${t.by_kind.graph.records_per_s}/s); raw NDJSON ${t.raw_mb_per_s} MB/s (${t.raw_mb} MB)`);
    lines.push(`missed ticks: ${fmtObj(t.missed_ticks)}; failures: ${fmtObj(t.failures)}; lateness p50 ${t.lateness_ms.p50_median_of_streams} ms, worst p99 ${t.lateness_ms.p99_max_of_streams} ms, max ${t.lateness_ms.max} ms`);
    lines.push(`CPU: recorder ${t.cpu.recorder_own_s} s = ${t.cpu.own_pct_of_one_core}% of one core (steady ${t.cpu.steady_own_pct_of_one_core}%), zip workers ${t.cpu.zip_workers_s} s (steady ${t.cpu.steady_workers_pct_of_one_core}%), total ${t.cpu.total_s} s; simulator ${t.simulator_cpu_s} s`);
    lines.push(`     ${t.cpu_ms_per_record} ms recorder CPU per record (steady ${t.cpu.steady_own_ms_per_record} ms; with zip workers ${t.total_cpu_ms_per_record} ms); RSS recorder peak ${t.rss.recorder_peak_mb} MB, zip worker peak ${t.rss.zip_worker_peak_mb ?? '-'} MB`);
    lines.push(`machine: ${t.machine.busy_cores_avg} of ${results.machine.nproc} cores busy on average, ${t.machine.other_busy_cores_avg} of them by other processes; bench itself ${t.bench_cpu_s} s`);
    lines.push(`pool: ${t.pool.windows} data windows, ${t.pool.raw_mb} MB → ${t.pool.zip_mb} MB (×${t.pool.ratio}), busy ${t.pool.busy_s} s → ${t.pool.mb_per_s} MB/s; records in windows match the stop event: ${t.pool.matches_stop_event}`);
    const c = t.comparison;
    if (c && !c.skipped) {
      lines.push(`compression on the same ${c.files} windows (${c.raw_mb} MB):`);
      lines.push(table(['compressor', 'MB/s', 'zip MB', 'ratio'], [
        ['pool (under load, incl. fsync)', c.pool_under_load.mb_per_s, c.pool_under_load.zip_mb, c.pool_under_load.ratio],
        [`zip -${t.setup.level} (after the run)`, c.zip_cli.mb_per_s, c.zip_cli.zip_mb, c.zip_cli.ratio],
        ['yazl (after the run, no fsync)', c.yazl_after_run.mb_per_s, c.yazl_after_run.zip_mb, c.yazl_after_run.ratio],
        ['nsr zip writer (after the run, no fsync)', c.nsr_writer_after_run.mb_per_s, c.nsr_writer_after_run.zip_mb, c.nsr_writer_after_run.ratio],
        ['zlib deflateRaw (after the run)', c.zlib_deflate_raw_after_run.mb_per_s, c.zlib_deflate_raw_after_run.zip_mb, c.zlib_deflate_raw_after_run.ratio],
      ]));
      lines.push(`speed pool/zip ${c.speed_ratio_pool_vs_zip}, nsr-writer-after-run/zip ${c.speed_ratio_nsr_writer_after_run_vs_zip}, yazl-after-run/zip ${c.speed_ratio_yazl_after_run_vs_zip}; size pool/zip ${c.size_ratio_pool_vs_zip}`);
    } else if (c) lines.push(`compression comparison skipped: ${c.skipped}`);
    lines.push(`exit: ${fmtExit(t)}`);
    lines.push(`log problems: ${fmtProblems(t.log_problems)}`);
    lines.push(`log lines: ${t.log_lines} (${fmtObj(t.log_events)})${t.log_non_json.length ? `; non-JSON on stderr: ${t.log_non_json[0]}` : ''}`);
  }
  lines.push('');
  lines.push(`JSON: ${path.relative(process.cwd(), path.join(OUT_DIR, 'results.json'))}`);
  process.stdout.write(lines.join('\n') + '\n');
}

function table(head, rows) {
  const cells = [head, ...rows].map((r) => r.map((c) => (c === undefined || c === null ? '-' : String(c))));
  const w = head.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  return cells.map((r, j) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ') + (j === 0 ? '\n' + w.map((x) => '-'.repeat(x)).join('  ') : '')).join('\n');
}

const fmtExit = (r) => `code ${r.exit.code ?? r.exit.signal}; complete=${r.stopped?.complete} compressed=${r.stopped?.compressed}; stop event: unwritten_records=${r.stop_event?.unwritten_records}, shutdown ${r.stop_event?.shutdown_ms} ms`;
const fmtObj = (o) => (o && Object.keys(o).length ? Object.entries(o).map(([k, v]) => `${k}=${v}`).join(' ') : 'none');
const fmtProblems = (p) => (Object.keys(p).length ? Object.entries(p).map(([k, v]) => `${k} ×${v.count}`).join('; ') : 'none');
const round = (x, d) => (x === undefined || x === null || Number.isNaN(x) ? x : Math.round(x * 10 ** d) / 10 ** d);
const median = (a) => (a.length ? [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)] : undefined);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (msg) => process.stderr.write(`[bench] ${msg}\n`);

function cleanup(dir, opts) {
  if (opts.keep) log(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}

// ---------------------------------------------------------------- main

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (!existsSync(path.join(ROOT, 'dist', 'cli', 'main.js'))) {
    process.stderr.write('recorder.bench: dist/ is missing; run `npm run build` (or `npm run bench`)\n');
    process.exit(2);
  }
  mkdirSync(OUT_DIR, { recursive: true });
  const results = {
    date: new Date().toISOString(),
    command: `node bench/recorder.bench.mjs ${process.argv.slice(2).join(' ')}`.trim(),
    machine: machine(),
    git: gitState(),
    tools: { time: TIME_BIN ?? null, zip: ZIP_BIN ? spawnSync(ZIP_BIN, ['-v'], { encoding: 'utf8' }).stdout.split('\n').find((l) => /^This is Zip/.test(l)) : null, clk_tck: CLK_TCK, sample_ms: SAMPLE_MS },
    options: opts,
  };
  const sim = await startSimulator();
  log(`simulator pid ${sim.pid} at ${sim.url}`);
  try {
    if (!opts.only || opts.only === 'nominal') results.nominal = await nominal(sim, opts);
    if (!opts.only || opts.only === 'throughput') results.throughput = await throughput(sim, opts);
  } finally {
    results.simulator_peak_rss_mb = round(((sim.hwmKb() ?? 0) * 1024) / MB, 1);
    await sim.stop();
  }
  results.machine.loadavg_at_end = os.loadavg().map((x) => round(x, 2));
  writeFileSync(path.join(OUT_DIR, 'results.json'), JSON.stringify(results, null, 2) + '\n');
  printSummary(results);
}

main().catch((err) => {
  process.stderr.write(`recorder.bench: ${err?.stack ?? err}\n`);
  process.exit(1);
});
