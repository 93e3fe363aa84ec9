#!/usr/bin/env node
// What the control server costs at nominal load (flow + graph at 1 s), side by
// side in one run: control disabled, enabled but not scraped, and enabled with
// /metrics and /status fetched every second. Each case runs --seconds (default
// 40) and reports the recorder's own CPU seconds (user + sys from /proc, read
// just before SIGTERM; the zip worker is left out, it is the same in every case).
//
// Usage: npm run build && node bench/control.bench.mjs [--seconds 40] [--rounds 2]
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cpuSeconds, sleep, startNsr } from './process.mjs';

const args = process.argv.slice(2);
const arg = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const seconds = Number(arg('--seconds', 40));
const rounds = Number(arg('--rounds', 2));
const dir = mkdtempSync(path.join(tmpdir(), 'nsr-control-bench-'));
let url;
const sim = startNsr(dir, ['simulate', '--port', '0'], (out) => (url ??= /listening on (http:\/\/\S+)/.exec(out)?.[1]));
while (!url) await sleep(50);

const cases = [
  { name: 'control disabled', control: 'control: {enabled: false}', scrape: false },
  { name: 'control enabled, not scraped', control: 'control: {enabled: true}', scrape: false },
  { name: 'control enabled, /metrics + /status every 1 s', control: 'control: {enabled: true}', scrape: true },
];
const results = cases.map((c) => ({ ...c, cpu: [] }));
for (let round = 0; round < rounds; round++) {
  for (const r of results) {
    const runDir = mkdtempSync(path.join(dir, 'run-'));
    writeFileSync(
      path.join(runDir, 'r.yaml'),
      `output: {dir: out}\nlog: {level: warn}\n${r.control}\nstreams:\n  flowinfo: {kind: ndtwin, kernel: "${url}", data: flow, interval: 1s}\n  graphinfo: {kind: ndtwin, kernel: "${url}", data: graph, interval: 1s}\n`,
    );
    const nsr = startNsr(runDir, ['run', '-c', 'r.yaml']);
    await sleep(1500);
    const controlUrl = r.scrape ? readFileSync(path.join(runDir, 'out', '.nsr.lock'), 'utf8').split('\n')[1] : undefined;
    const until = Date.now() + seconds * 1000;
    while (Date.now() < until) {
      if (controlUrl) await Promise.all([fetch(`${controlUrl}/metrics`).then((x) => x.text()), fetch(`${controlUrl}/status`).then((x) => x.text())]);
      await sleep(1000);
    }
    r.cpu.push(cpuSeconds(nsr.child.pid));
    nsr.child.kill('SIGTERM');
    await nsr.exit;
  }
}
sim.child.kill('SIGTERM');
await sim.exit;
rmSync(dir, { recursive: true, force: true });

const base = Math.min(...results[0].cpu);
const rows = results.map((r) => ({
  case: r.name,
  cpu_s_runs: r.cpu.map((x) => x.toFixed(2)).join(' / '),
  cpu_s_min: Math.min(...r.cpu).toFixed(2),
  pct_of_core: ((Math.min(...r.cpu) / (seconds + 1.5)) * 100).toFixed(2),
  vs_disabled: (Math.min(...r.cpu) / base).toFixed(2),
}));
console.table(rows);
console.log(JSON.stringify({ seconds, rounds, rows }));
