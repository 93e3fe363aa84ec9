#!/usr/bin/env node
// The least a Node process does for the recorder's job, as a floor for issue
// 17's targets (BENCHMARKS.md §17): vs-original.bench.mjs --floor runs it in
// the harness beside the original and nsr, measured the same way.
//
//   node bench/node-floor-recorder.mjs <recorder_setting.yaml>
//
// It reads the kernel's URL and the interval from the original's settings file
// (the one the harness writes), and each interval GETs the flow and graph
// endpoints over one keep-alive agent with node:http, appends each body as one
// line to a file in the working directory, and forces the file to disk once a
// second, as nsr's default fsync does. Nothing else: no config schema, no
// logger, no record framing, no check of the body, no windows, no zip, no
// control server, no events. SIGTERM ends it at once. Its figures are what
// Node itself costs for this load; what nsr costs above them is nsr's.
import { closeSync, fdatasyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import http from 'node:http';

const settings = readFileSync(process.argv[2], 'utf8');
const kernel = /ndtwin_kernel:\s*"?([^"\s]+)"?/.exec(settings)?.[1];
const interval = Number(/request_interval:\s*([\d.]+)/.exec(settings)?.[1] ?? 1);
if (!kernel) {
  console.error(`node-floor-recorder: no ndtwin_kernel in ${process.argv[2]}`);
  process.exit(2);
}
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const fd = openSync('floor.ndjson', 'a');
const NEWLINE = Buffer.from('\n');

const get = (path) =>
  new Promise((resolve) => {
    const req = http.get(new URL(path, kernel), { agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks)));
      res.on('error', () => resolve(undefined));
    });
    req.on('error', () => resolve(undefined));
  });

let lastSync = 0;
let busy = false;
const tick = async () => {
  if (busy) return; // a slow server: skip the tick, as a clocked recorder would
  busy = true;
  for (const path of ['/ndt/get_detected_flow_data', '/ndt/get_graph_data']) {
    const body = await get(path);
    if (body) writeSync(fd, Buffer.concat([body, NEWLINE]));
  }
  if (Date.now() - lastSync >= 1000) {
    fdatasyncSync(fd);
    lastSync = Date.now();
  }
  busy = false;
};
void tick(); // the first request at once, as nsr and the original do
setInterval(tick, interval * 1000);

process.on('SIGTERM', () => {
  closeSync(fd);
  process.exit(0);
});
