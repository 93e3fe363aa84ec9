#!/usr/bin/env node
// What each fsync policy costs: appends of flow-sized (~40 KB) and graph-sized
// (~140 KB) records through the WindowWriter, side by side in one run.
// Usage: npm run build && node bench/fsync.bench.mjs [--records N] [--dir DIR]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { WindowWriter } from '../dist/sinks/window-writer.js';

const args = process.argv.slice(2);
const arg = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
// Enough records that each case lasts well over the 1 s sync interval.
const records = Number(arg('--records', 10_000));
const base = arg('--dir', tmpdir()); // pass a directory on the disk nsr will really write to
const fixtures = new URL('../fixtures/ndtwin/', import.meta.url);
const bodies = {
  flow: readFileSync(new URL('get_detected_flow_data.json', fixtures)),
  graph: readFileSync(new URL('get_graph_data.json', fixtures)),
};

async function run(policy, body) {
  const dir = mkdtempSync(path.join(base, 'nsr-fsync-'));
  const writer = new WindowWriter({ dir, stream: 's', windowMs: 3_600_000, maxBytes: 2 ** 40, fsync: policy, syncIntervalMs: 1000 });
  const line = Buffer.concat([Buffer.from('{"timestamp":1,"x":'), body, Buffer.from('}\n')]);
  const lat = [];
  const t0 = performance.now();
  for (let i = 0; i < records; i++) {
    const s = performance.now();
    await writer.append(line, Date.now());
    lat.push(performance.now() - s);
  }
  await writer.close();
  const secs = (performance.now() - t0) / 1000;
  rmSync(dir, { recursive: true, force: true });
  lat.sort((a, b) => a - b);
  return { policy, record_kb: Math.round(line.length / 1024), records_per_s: Math.round(records / secs), mb_per_s: +((records * line.length) / secs / 1e6).toFixed(1), append_p50_ms: +lat[Math.floor(lat.length / 2)].toFixed(3), append_p99_ms: +lat[Math.floor(lat.length * 0.99)].toFixed(3), append_max_ms: +lat[lat.length - 1].toFixed(3) };
}

const rows = [];
for (const [name, body] of Object.entries(bodies)) {
  for (const policy of ['close', 'interval', 'record']) rows.push({ body: name, ...(await run(policy, body)) });
}
console.table(rows);
console.log(JSON.stringify({ records, dir: base, rows }));
