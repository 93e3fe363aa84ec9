#!/usr/bin/env node
// Runs the tap suite and ends with the plain closing line CI reads
// ("N passed, N failed, N skipped"), counts taken from tap's own summary,
// keeping tap's exit status. Extra arguments go to tap (e.g. a test file).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const tap = fileURLToPath(new URL('../node_modules/.bin/tap', import.meta.url));
const child = spawn(tap, process.argv.slice(2), { stdio: ['ignore', 'pipe', 'inherit'] });
let tail = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  tail = (tail + chunk.toString('utf8')).slice(-4096);
});
child.on('close', (code, signal) => {
  // tap without a terminal ends with a line like `# { total: 12, pass: 10, fail: 1, skip: 1 }`
  const m = [...tail.matchAll(/^# \{ (total: .*) \}$/gm)].pop();
  const counts = Object.fromEntries((m?.[1] ?? '').split(', ').map((kv) => kv.split(': ')).map(([k, v]) => [k, Number(v)]));
  const pass = counts.pass ?? 0;
  const fail = (counts.fail ?? 0) + (m ? 0 : 1); // no summary at all: tap itself failed
  const skip = (counts.skip ?? 0) + (counts.todo ?? 0);
  process.stdout.write(`\n${pass} passed, ${fail} failed, ${skip} skipped\n`);
  process.exit(code ?? (signal ? 1 : 0));
});
