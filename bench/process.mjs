// Shared by the benchmarks: run bin/nsr as a process and read its CPU and memory from /proc.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const NSR = fileURLToPath(new URL('../bin/nsr', import.meta.url));
const TICKS = 100; // USER_HZ on Linux

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Starts `bin/nsr argv…` in cwd; onOut sees everything printed so far after each chunk. */
export function startNsr(cwd, argv, onOut) {
  const child = spawn(process.execPath, [NSR, ...argv], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const take = (d) => {
    out += d;
    onOut?.(out);
  };
  child.stdout.on('data', take);
  child.stderr.on('data', take);
  return { child, exit: new Promise((r) => child.on('exit', r)), output: () => out };
}

/** CPU seconds (user + sys) of a live process. */
export function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS; // utime, stime
}

/** Resident memory now and at its peak, in MB. */
export function memoryMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return { rss: Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024, peak: Number(/VmHWM:\s+(\d+)/.exec(status)[1]) / 1024 };
}
