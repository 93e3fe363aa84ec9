// What one more probe shard costs on this machine, as a process (what
// `nsr run -p N` starts) or as a worker thread: the time until it has loaded
// what a recorder with a probe stream and the DAC stats sink loads, and the
// memory it adds. Run: node bench/dac-shards.bench.mjs [N] (after a build).
import { fork } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';

const N = Number(process.argv[2] ?? 4);
const modules = ['../dist/pipeline/recorder.js', '../dist/sources/probe/probe.js', '../dist/sinks/dac/dac-stats-sink.js', '../dist/config/loader.js'].map((m) => new URL(m, import.meta.url).href);
const load = `await Promise.all(${JSON.stringify(modules)}.map((m) => import(m)));`;

if (process.argv[2] === '--child') {
  await Promise.all(modules.map((m) => import(m)));
  // PSS: the child's own pages plus its share of the ones it shares (the node binary), where Linux says it.
  let pss;
  try {
    pss = Number(/^Pss:\s+(\d+) kB/m.exec((await import('node:fs')).readFileSync('/proc/self/smaps_rollup', 'utf8'))[1]) * 1024;
  } catch {}
  process.send({ rss: process.memoryUsage().rss, pss });
  process.on('message', () => process.exit(0));
} else {
  const settle = () => new Promise((r) => setTimeout(r, 300));
  // Processes: each its own heap; the cost is the child's whole RSS.
  let t0 = performance.now();
  const kids = await Promise.all(
    Array.from({ length: N }, () => new Promise((resolve) => {
      const c = fork(fileURLToPath(import.meta.url), ['--child']);
      c.once('message', (m) => resolve({ c, rss: m.rss, pss: m.pss }));
    })),
  );
  const procMs = performance.now() - t0;
  const procRss = kids.reduce((n, k) => n + k.rss, 0);
  const procPss = kids.every((k) => k.pss) ? kids.reduce((n, k) => n + k.pss, 0) : undefined;
  kids.forEach((k) => k.c.send('bye'));
  await settle();
  // Threads: one process; the cost is what the process's RSS grows by.
  global.gc?.();
  const before = process.memoryUsage().rss;
  t0 = performance.now();
  const workers = await Promise.all(
    Array.from({ length: N }, () => new Promise((resolve) => {
      const w = new Worker(`${load} require('node:worker_threads').parentPort.postMessage('ready');`.replace("require('node:worker_threads')", "(await import('node:worker_threads'))"), { eval: true, type: 'module' });
      w.once('message', () => resolve(w));
    })),
  );
  const threadMs = performance.now() - t0;
  await settle();
  const threadRss = process.memoryUsage().rss - before;
  await Promise.all(workers.map((w) => w.terminate()));
  const mb = (b) => (b / 1024 / 1024).toFixed(1);
  console.log(`${N} shards as processes: ready in ${procMs.toFixed(0)} ms, ${mb(procRss)} MB RSS (${mb(procRss / N)} MB each)${procPss ? `, ${mb(procPss)} MB PSS (${mb(procPss / N)} MB each)` : ''}`);
  console.log(`${N} shards as threads:   ready in ${threadMs.toFixed(0)} ms, +${mb(threadRss)} MB RSS (${mb(threadRss / N)} MB each)`);
}
