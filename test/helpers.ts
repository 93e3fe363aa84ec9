/** Shared by the tests: paths, temporary directories, reading archives back. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { NdtwinSimulator, type NdtwinSimulatorOptions } from '../src/simulate/ndtwin-simulator.js';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readZipInfo } from '../src/archive/zip-reader.js';
import { readZipRecords } from '../src/archive/archive-reader.js';
import { parseCable, parseDevice, parseRegion, parseSite, type Inventory } from '../src/sources/common/inventory.js';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const FIXTURES = path.join(ROOT, 'fixtures', 'ndtwin');
export const NSR = path.join(ROOT, 'bin', 'nsr');

export function tempDir(t: { teardown(fn: () => void): void }, prefix = 'nsr-test-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface ArchivedWindow {
  file: string;
  entries: string[];
  meta: Record<string, unknown> | undefined;
  lines: string[];
}

/** Every zip of a stream in the directory, inflated with CRC checks, in file-name order. */
export async function readArchives(dir: string, stream: string): Promise<ArchivedWindow[]> {
  const files = readdirSync(dir).filter((f) => f.endsWith(`_${stream}_json.zip`)).sort();
  const out: ArchivedWindow[] = [];
  for (const file of files) {
    const { lines, meta } = await readZipRecords(path.join(dir, file));
    const { entries } = await readZipInfo(path.join(dir, file));
    out.push({ file, entries: entries.map((e) => e.name), meta: meta as Record<string, unknown> | undefined, lines });
  }
  return out;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface NsrProcess {
  pid: number;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Everything it printed so far (stderr and stdout). */
  output: () => string;
}

/** Starts `bin/nsr` as a real process. */
/** nsr processes still running when the test file's process exits are killed: a failed test leaves none behind (a hub left so spun for 40 minutes). */
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export function startNsr(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): NsrProcess {
  const child = spawn(process.execPath, [NSR, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  running.add(child);
  child.on('exit', () => running.delete(child));
  let out = '';
  child.stderr.on('data', (d) => (out += d));
  child.stdout.on('data', (d) => (out += d));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { pid: child.pid!, exit, output: () => out };
}

/** The events stream of an output directory, parsed, in order. */
export async function readEvents(dir: string): Promise<Record<string, any>[]> {
  return (await readArchives(dir, 'events')).flatMap((w) => w.lines.map((l) => JSON.parse(l)));
}

/** The simulator's sequence marker in a record line. */
export const seqOf = (line: string) => Number(/"sim_seq":(\d+)/.exec(line)?.[1]);

/** Starts a simulator on a free loopback port (stopped at teardown) and writes `dir/r.yaml` from its URL. */
export async function simulatorWithConfig(t: { teardown(fn: () => unknown): void }, dir: string, yaml: (url: string) => string, options: Omit<NdtwinSimulatorOptions, 'port'> = {}): Promise<{ sim: NdtwinSimulator; url: string }> {
  const sim = new NdtwinSimulator({ port: 0, ...options });
  const { url } = await sim.start();
  t.teardown(() => sim.stop());
  writeFileSync(path.join(dir, 'r.yaml'), yaml(url));
  return { sim, url };
}

/** A service a test needs, connected; without it: a visible skip on a developer's machine, a failure in CI. */
export async function needService<T>(t: Tap.Test, what: string, startIt: string, connect: () => Promise<T>): Promise<T | undefined> {
  try {
    return await connect();
  } catch (err) {
    if (process.env.CI) throw new Error(`${what} is needed and does not answer (${(err as Error).message}); start it: ${startIt}`);
    t.skip(`no ${what} (${(err as Error).message})`);
    return undefined;
  }
}

/**
 * A PostgreSQL schema of its own on the machine's server (database `test`),
 * dropped at teardown; tests point nsr at it through the URL's search_path.
 * Without a server: a visible skip on a developer's machine, a failure in CI.
 */
export async function pgSchema(t: Tap.Test): Promise<{ url: string; query: (sql: string, params?: unknown[]) => Promise<any[]> } | undefined> {
  const { default: pg } = await import('pg');
  const base = process.env.NSR_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
  const admin = await needService(t, `PostgreSQL at ${base}`, 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start', async () => {
    const client = new pg.Client({ connectionString: base });
    await client.connect();
    return client;
  });
  if (!admin) return undefined;
  const schema = `nsr_t_${process.pid}_${Math.floor(Math.random() * 1e9)}`;
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.query(`SET search_path = ${schema}`);
  t.teardown(async () => {
    await admin.query(`DROP SCHEMA ${schema} CASCADE`).catch(() => {});
    await admin.end();
  });
  return { url: `${base}?options=-c%20search_path%3D${schema}`, query: async (sql, params) => (await admin.query(sql, params as unknown[])).rows };
}

/** The NetBox fixtures (two pages of devices and cables, one of sites and regions) as nsr's inventory. */
export function fixtureInventory(): Inventory {
  const results = (name: string, pages = 2) => Array.from({ length: pages }, (_, i) => JSON.parse(readFileSync(path.join(ROOT, 'fixtures', 'netbox', `${name}_page${i + 1}.json`), 'utf8')).results).flat();
  return {
    at: 1,
    devices: results('devices').map(parseDevice),
    cables: results('cables').map(parseCable),
    sites: new Map(results('sites', 1).map(parseSite)),
    regions: new Map(results('regions', 1).map(parseRegion)),
  };
}

/**
 * Waits until `stream` has a record in an open window of `outDir`: on a loaded
 * machine a recorder can take seconds to start, and a test timed from the
 * spawn would see fewer ticks than it plans for.
 */
export async function untilRecording(outDir: string, stream: string, timeoutMs = 30_000): Promise<void> {
  return untilWritten(outDir, stream, '\n', timeoutMs);
}

/** Waits until an open window of `stream` in `outDir` holds `text` (a record the test caused). */
export async function untilWritten(outDir: string, stream: string, text: string, timeoutMs = 30_000): Promise<void> {
  for (const until = Date.now() + timeoutMs; Date.now() < until; await sleep(50)) {
    let names: string[] = [];
    try {
      names = readdirSync(outDir);
    } catch {
      continue; // not made yet
    }
    for (const n of names) {
      if (!n.endsWith(`_${stream}.json`)) continue;
      try {
        if (readFileSync(path.join(outDir, n), 'utf8').includes(text)) return;
      } catch {
        // compressed and removed meanwhile: look again
      }
    }
  }
  throw new Error(`no ${stream} record with ${JSON.stringify(text)} in ${outDir} within ${timeoutMs} ms`);
}

/** Runs `nsr …` without blocking this process (a simulator or fake peripherals may live in it); SIGINT after `killAfterMs` if given. */
export function nsrAsync(cwd: string, args: string[], killAfterMs?: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [NSR, ...args], { cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    if (killAfterMs) setTimeout(() => child.kill('SIGINT'), killAfterMs);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
