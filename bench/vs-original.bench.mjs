#!/usr/bin/env node
// nsr against the original Python NSR, side by side in one sitting, with the
// shared measurement harness (run_scenario.py): scenarios `nominal` (1 s, 60 s,
// 1-minute windows) and `fast` (0.05 s), each recorder in turn, repeated, and
// the median of each measure printed as the table of issue 17 (BENCHMARKS.md §17).
//
//   node bench/vs-original.bench.mjs --original <Network-State-Recorder clone or git dir> \
//        --harness <dir of run_scenario.py> [--nsr label=<nsr checkout>]... \
//        [--scenarios nominal,fast] [--repeat 3] [--results <dir>] [--floor]
//
// --floor adds a column for bench/node-floor-recorder.mjs: the least a Node
// process does for this load (GET, append, fsync; nothing else), run and
// measured the same way, as the floor that nsr's figures stand above.
// --original and --harness may also come from NSR_ORIGINAL_REPO and NSR_HARNESS.
// --nsr defaults to this checkout (built: npm run build); give it more than once
// to compare builds (e.g. before=<a worktree of the previous commit>).
// Runs are interleaved (original, nsr…, original, nsr…) so that a change in the
// machine's load hits every recorder alike; the load average is printed.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const optAll = (name) => args.flatMap((a, i) => (a === `--${name}` ? [args[i + 1]] : []));

const original = opt('original', process.env.NSR_ORIGINAL_REPO);
const harness = opt('harness', process.env.NSR_HARNESS);
if (!harness || !existsSync(path.join(harness, 'run_scenario.py'))) {
  console.error('usage: vs-original.bench.mjs --original <NSR repo> --harness <harness dir> [--nsr label=<dir>]... [--scenarios nominal,fast] [--repeat N] [--results DIR]');
  process.exit(2);
}
const nsrs = (optAll('nsr').length ? optAll('nsr') : [`nsr=${path.resolve(here, '..')}`]).map((s) => {
  const [label, dir] = s.includes('=') ? s.split(/=(.*)/s) : [path.basename(s), s];
  return { label, dir: path.resolve(dir) };
});
const scenarios = opt('scenarios', 'nominal,fast').split(',');
const repeat = Number(opt('repeat', '3'));
const results = opt('results', mkdtempSync(path.join(os.tmpdir(), 'nsr-vs-original-')));
const floor = args.includes('--floor') ? [{ label: 'node-floor', cmd: `${process.execPath} ${path.join(here, 'node-floor-recorder.mjs')} {cfg}` }] : [];
const recorders = [...(original ? [{ label: 'original' }] : []), ...nsrs, ...floor];

function runOnce(rec, scenario, i) {
  const dir = path.join(results, `${rec.label}-${i}`, scenario);
  const argv = [path.join(harness, 'run_scenario.py'), scenario, '--results', dir];
  const env = { ...process.env };
  if (rec.label === 'original') {
    argv.push('--recorder', 'original');
    env.NSR_ORIGINAL_REPO = original;
  } else argv.push('--label', rec.label, '--cmd', rec.cmd ?? `${process.execPath} ${path.join(rec.dir, 'bin', 'nsr')} run -c {cfg}`);
  execFileSync('python3', argv, { env, stdio: ['ignore', 'ignore', 'inherit'] });
  return measure(dir);
}

/** The measures from one run's summary.json and samples.csv. */
function measure(dir) {
  const s = JSON.parse(readFileSync(path.join(dir, 'summary.json'), 'utf8'));
  const life = s.life ?? {};
  const rows = readFileSync(path.join(dir, 'samples.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(',').map(Number));
  const t0 = life.t_spawn;
  const tSig = life.t_signal;
  // Steady CPU: least-squares slope of the tree's CPU seconds from 10 s after spawn to the signal.
  const steady = rows.filter(([t]) => t >= t0 + 10 && t <= tSig);
  const n = steady.length;
  const mt = steady.reduce((a, r) => a + r[0], 0) / n;
  const mc = steady.reduce((a, r) => a + r[2], 0) / n;
  const slope = steady.reduce((a, r) => a + (r[0] - mt) * (r[2] - mc), 0) / steady.reduce((a, r) => a + (r[0] - mt) ** 2, 0);
  // CPU before the first request: the sampled CPU interpolated at the first request's time.
  const tFirst = life.startup_s == null ? undefined : t0 + life.startup_s;
  let cpuFirst;
  if (tFirst !== undefined) {
    const j = rows.findIndex(([t]) => t >= tFirst);
    if (j > 0) {
      const [ta, , ca] = rows[j - 1];
      const [tb, , cb] = rows[j];
      cpuFirst = ca + ((cb - ca) * (tFirst - ta)) / (tb - ta);
    } else if (j === 0) cpuFirst = rows[0][2];
  }
  const streams = Object.values(s.check?.streams ?? {}).filter((x) => x.kind);
  const lost = streams.reduce((a, x) => a + (x.missing_interior_count ?? 0) + (x.missing_trailing_count ?? 0), 0);
  const notExact = streams.reduce((a, x) => a + (x.not_byte_exact ?? 0) + (x.invalid_lines ?? 0) + (x.duplicates ?? 0), 0);
  return {
    cpuPerMin: life.cpu_s_at_signal / (life.run_s / 60),
    steadyPerMin: slope * 60,
    cpuBeforeFirst: cpuFirst,
    startup: life.startup_s,
    rootRss: life.peak_root_rss_kb / 1024,
    treePss: life.peak_tree_pss_kb / 1024,
    treeRss: life.peak_tree_rss_kb / 1024,
    records: streams.reduce((a, x) => a + x.records, 0),
    problems: lost + notExact + (s.check?.unzipped_json_files ?? 0),
    exitS: life.exit_s,
  };
}

const got = {}; // label -> scenario -> [measures]
const load = [os.loadavg()];
for (let i = 0; i < repeat; i++) {
  for (const scenario of scenarios) {
    for (const rec of recorders) {
      const m = runOnce(rec, scenario, i);
      ((got[rec.label] ??= {})[scenario] ??= []).push(m);
      process.stderr.write(`${scenario} ${rec.label} #${i + 1}: ${JSON.stringify(m, (k, v) => (typeof v === 'number' ? Number(v.toFixed(3)) : v))}\n`);
    }
  }
  load.push(os.loadavg());
}

const median = (xs) => {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return undefined;
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};
const fmt = (x, d = 2) => (x === undefined ? '–' : x.toFixed(d));
const ROWS = [
  ['nominal', 'CPU s per minute, whole run incl. start-up', 'cpuPerMin', 2, '≤ 0.45'],
  ['nominal', 'steady CPU s per minute (10 s → end)', 'steadyPerMin', 2, '≤ 0.30'],
  ['nominal', 'CPU s before the first request', 'cpuBeforeFirst', 2, '≤ 0.25'],
  ['nominal', 'spawn → first request (s)', 'startup', 2, '≤ 0.25'],
  ['nominal', 'peak RSS of the main process (MiB)', 'rootRss', 1, '≤ 60'],
  ['nominal', 'peak PSS of the process tree (MiB)', 'treePss', 1, '≤ 45'],
  ['nominal', 'peak RSS of the tree, sum (MiB)', 'treeRss', 1, '≤ 70'],
  ['nominal', 'records (flow + graph); lost, torn or inexact', null, 0, ''],
  ['fast', 'steady CPU s per minute (10 s → end)', 'steadyPerMin', 2, '≤ 6'],
  ['fast', 'peak PSS of the process tree (MiB)', 'treePss', 1, '≤ 90'],
  ['fast', 'records (flow + graph); lost, torn or inexact', null, 0, ''],
];
console.log(`\nmachine: ${os.cpus().length} × ${os.cpus()[0]?.model}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}`);
console.log(`load average (1/5/15 min) before each round and at the end: ${load.map((l) => l.map((x) => x.toFixed(2)).join('/')).join(', ')}`);
console.log(`${repeat} run(s) per recorder and scenario, interleaved; median shown; results in ${results}\n`);
console.log(`| scenario | measure | ${recorders.map((r) => r.label).join(' | ')} | target |`);
console.log(`|---|---|${recorders.map(() => '---:|').join('')}---|`);
for (const [scenario, name, key, d, target] of ROWS) {
  if (!scenarios.includes(scenario)) continue;
  const cells = recorders.map((r) => {
    const ms = got[r.label]?.[scenario] ?? [];
    if (!key) return `${median(ms.map((m) => m.records))}; ${ms.map((m) => m.problems).join('/')}`;
    return fmt(median(ms.map((m) => m[key])), d);
  });
  console.log(`| ${scenario} | ${name} | ${cells.join(' | ')} | ${target} |`);
}
