#!/usr/bin/env node
// The hub (kind: hub, `nsr run` in its own process) against a forwarder that
// works the way EGG's orch.py does (for each line: re-read routes.cf, open a
// new TCP connection to the receiver, send, close, rewrite routes.cf), in the
// same run on the same machine. A sender (A) writes lines on one data
// connection; a receiver (C) listens on its port; one route A→C.
//   throughput: N lines sent as fast as the connection takes them, lines/s until
//               C has them all (the hub also records every one);
//   latency:    lines at a fixed rate, each carrying its send time; A send → C receipt.
//
// Usage: npm run build && node bench/hub.bench.mjs [--lines 100000] [--rate 2000] [--egg-lines 5000]
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cpuSeconds, sleep, startNsr } from './process.mjs';

const args = process.argv.slice(2);
const arg = (name, dflt) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : dflt);
const lines = arg('--lines', 100_000);
const rate = arg('--rate', 2000);
const eggLines = arg('--egg-lines', 5000);
const base = 30000 + Math.floor(Math.random() * 200) * 100;
const dir = mkdtempSync(path.join(tmpdir(), 'nsr-hub-bench-'));

/** C: counts lines and keeps each one's latency (the send time is the line's second field). */
function receiver(port) {
  const state = { count: 0, latencies: [], waiters: [] };
  const server = net.createServer((s) => {
    let buf = '';
    s.on('data', (d) => {
      const now = performance.now();
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) !== -1) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        state.count++;
        const sent = Number(line.split(' ')[1]);
        if (sent) state.latencies.push(now - sent);
      }
      for (const w of state.waiters.splice(0)) w();
    });
  });
  server.listen(port, '127.0.0.1');
  state.until = async (n) => {
    while (state.count < n) await new Promise((r) => state.waiters.push(r));
  };
  state.close = () => server.close();
  return state;
}

/** A: one data connection (uuid first), then lines, with back-pressure. */
async function sender(dataPort, uuid) {
  const s = net.connect(dataPort, '127.0.0.1');
  s.setNoDelay(true);
  await new Promise((r) => s.once('connect', r));
  s.write(`${uuid}\n`);
  return {
    async burst(n) {
      for (let i = 0; i < n; i += 100) {
        let chunk = '';
        for (let k = i; k < Math.min(n, i + 100); k++) chunk += `b${k} 0 ${'x'.repeat(60)}\n`;
        if (!s.write(chunk)) await new Promise((r) => s.once('drain', r));
      }
    },
    async paced(n, perSecond) {
      const start = performance.now();
      for (let i = 0; i < n; i++) {
        s.write(`p${i} ${performance.now()} ${'x'.repeat(60)}\n`);
        const wait = start + ((i + 1) * 1000) / perSecond - performance.now();
        if (wait > 1) await sleep(wait);
      }
    },
    end: () => s.end(),
  };
}

function pct(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function measure(name, dataPort, cPort, n, paced, pid) {
  const c = receiver(cPort);
  await sleep(300);
  const a = await sender(dataPort, 'uuid-a');
  const cpu0 = pid ? cpuSeconds(pid) : 0;
  const t0 = performance.now();
  await a.burst(n);
  await c.until(n);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = pid ? cpuSeconds(pid) - cpu0 : undefined;
  c.latencies.length = 0;
  const before = c.count;
  await a.paced(paced, rate);
  await c.until(before + paced);
  a.end();
  c.close();
  const row = { name, lines: n, lines_per_s: Math.round(n / seconds), cpu_s_per_10k: cpu === undefined ? '-' : ((cpu / n) * 10_000).toFixed(2), p50_ms: pct(c.latencies, 50).toFixed(2), p99_ms: pct(c.latencies, 99).toFixed(2), paced_lines: paced, rate };
  console.log(JSON.stringify(row));
  return row;
}

// ---- nsr's hub ----------------------------------------------------------------
const cmd = base;
writeFileSync(path.join(dir, 'r.yaml'), `output: {dir: out, window: 1m}\nstreams:\n  egg: {kind: hub, command_port: ${cmd}, data_ports: "${cmd + 1}"}\n`);
const nsr = startNsr(dir, ['run', '-c', 'r.yaml']);
await sleep(2500);
const command = (text) =>
  new Promise((resolve) => {
    const s = net.connect(cmd, '127.0.0.1', () => s.end(text));
    let out = '';
    s.on('data', (d) => (out += d));
    s.on('close', () => resolve(out));
  });
await command(`/register A uuid-a ${cmd + 50}\n/register C uuid-c ${cmd + 51}\n/routes add ac A C\n`);
const hub = await measure('nsr hub', cmd + 1, cmd + 51, lines, Math.min(10_000, rate * 5), nsr.child.pid);
process.kill(nsr.child.pid, 'SIGTERM');
await nsr.exit;

// ---- a forwarder the way EGG's orch.py forwards ----------------------------------
const routesFile = path.join(dir, 'routes.cf');
writeFileSync(routesFile, JSON.stringify([{ name: 'ac', incoming: 'uuid-a', outgoing: 'uuid-c', incoming_port: 0, outgoing_port: base + 91, last_used: null }], null, 4));
const egg = net.createServer((s) => {
  let buf = '';
  let uuid;
  let chain = Promise.resolve();
  s.on('data', (d) => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) !== -1) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (uuid === undefined) uuid = line;
      // One line after the other, as EGG's per-connection thread handles them.
      else chain = chain.then(() => eggForward(uuid, line));
    }
  });
});
async function eggForward(uuid, line) {
  const routes = JSON.parse(readFileSync(routesFile, 'utf8'));
  for (const r of routes.filter((x) => x.incoming === uuid)) {
    await new Promise((resolve) => {
      const out = net.connect(r.outgoing_port, 'localhost', () => out.end(`${line}\n`));
      out.on('close', resolve);
      out.on('error', resolve);
    });
    r.last_used = Date.now() / 1000;
    writeFileSync(routesFile, JSON.stringify(routes, null, 4));
  }
}
egg.listen(base + 90, '127.0.0.1');
const eggRow = await measure('EGG-style (connection per line)', base + 90, base + 91, eggLines, Math.min(2000, rate * 2), undefined);
egg.close();
console.log(`\n| forwarder | lines | lines/s | hub CPU s / 10k lines | latency p50 | latency p99 (at ${rate}/s) |\n|---|---|---|---|---|---|`);
for (const r of [hub, eggRow]) console.log(`| ${r.name} | ${r.lines} | ${r.lines_per_s} | ${r.cpu_s_per_10k} | ${r.p50_ms} ms | ${r.p99_ms} ms |`);
rmSync(dir, { recursive: true, force: true });
process.exit(0);
