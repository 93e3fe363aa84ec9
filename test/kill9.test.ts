// SIGKILL at random moments (writing, compressing, renaming), restarted each time:
// every archive verifies, no record appears twice, and the only records missing
// are those that were in memory at a kill.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { readArchives, readEvents, seqOf, simulatorWithConfig, sleep, startNsr, tempDir } from './helpers.js';

const KILLS = Number(process.env.NSR_KILL9_ITERATIONS ?? 5);
const STREAMS = { flowinfo: '/ndt/get_detected_flow_data', graphinfo: '/ndt/get_graph_data' } as const;
/**
 * In memory at a kill, per stream: the fetch in flight (its response may be
 * complete at the simulator but not yet written) plus what sits in the queue.
 * With a healthy disk the queue holds at most one record, so two per stream per kill.
 */
const IN_MEMORY_BOUND_PER_STREAM = 2;

/**
 * Waits until the run of `pid` has its start event in the open events window: it is written before the
 * first fetch, so a run is "up" from then on. On a loaded machine Node's own start can take seconds,
 * and a kill before it would test nothing of nsr's.
 */
async function untilStarted(out: string, pid: number): Promise<void> {
  const needle = `"pid":${pid},`;
  for (const end = Date.now() + 60_000; Date.now() < end; await sleep(50)) {
    let names: string[] = [];
    try {
      names = readdirSync(out).filter((f) => f.endsWith('_events.json'));
    } catch {}
    for (const f of names) {
      try {
        if (readFileSync(path.join(out, f), 'utf8').split('\n').some((l) => l.includes('"event":"start"') && l.includes(needle))) return;
      } catch {}
    }
  }
  throw new Error(`run ${pid} wrote no start event within 60 s`);
}

t.test(`${KILLS} SIGKILLs in a row, then a clean stop`, async (t) => {
  const dir = tempDir(t);
  // Short windows and a fast tick: kills land while writing, compressing and renaming.
  const { sim } = await simulatorWithConfig(
    t,
    dir,
    (url) => `output: {dir: out, window: 1s}\nstreams:\n  flowinfo: {kind: ndtwin, kernel: "${url}", data: flow, interval: 200ms}\n  graphinfo: {kind: ndtwin, kernel: "${url}", data: graph, interval: 200ms}\n`,
  );
  let seed = 12345;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let i = 0; i < KILLS; i++) {
    const nsr = startNsr(dir, ['run', '-c', 'r.yaml']);
    await untilStarted(path.join(dir, 'out'), nsr.pid!);
    await sleep(200 + random() * 1800);
    process.kill(nsr.pid, 'SIGKILL');
    const { signal } = await nsr.exit;
    t.equal(signal, 'SIGKILL', `run ${i + 1} killed`);
  }
  const last = startNsr(dir, ['run', '-c', 'r.yaml', '--for', '3s']);
  t.equal((await last.exit).code, 0, last.output().slice(-500));

  const out = path.join(dir, 'out');
  t.same(readdirSync(out).filter((f) => !f.endsWith('_json.zip') && !f.startsWith('.')), [], 'recovery left no .json or temporary');
  const served = sim.served();
  for (const [stream, endpoint] of Object.entries(STREAMS)) {
    const windows = await readArchives(out, stream); // throws on a CRC mismatch
    const seqs = windows.flatMap((w) => w.lines.map(seqOf));
    t.ok(windows.every((w) => w.meta?.records === w.lines.length), `${stream}: every zip's metadata matches its records`);
    t.equal(new Set(seqs).size, seqs.length, `${stream}: no record appears twice`);
    const archived = new Set(seqs);
    const missing = served[endpoint].filter((s) => !archived.has(s));
    t.ok(missing.length <= KILLS * IN_MEMORY_BOUND_PER_STREAM, `${stream}: ${missing.length} missing of ${served[endpoint].length} served, within the bound of ${KILLS * IN_MEMORY_BOUND_PER_STREAM} for ${KILLS} kills`);
    t.same(seqs.filter((s) => !served[endpoint].includes(s)), [], `${stream}: nothing archived that was not served`);
    t.ok(seqs.length > served[endpoint].length / 2, `${stream}: recording did happen (${seqs.length} records)`);
  }
  const events = await readEvents(out);
  t.equal(events.filter((e) => e.event === 'start').length, KILLS + 1, 'every start is in the events stream');
  t.ok(events.some((e) => e.event === 'recovery'), 'recovery actions are reported');
});
