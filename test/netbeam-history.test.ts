// A netbeam history range (the ESnet collector's backfill) read in chunks by
// bin/nsr, killed with SIGKILL half-way and started again: every series covers
// the range exactly, window after window, with no point missing or twice.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { NetbeamSimulator } from '../src/simulate/netbeam-simulator.js';
import { readArchives, sleep, startNsr, tempDir } from './helpers.js';

t.test('a history range resumes after SIGKILL without gaps or duplicates', async (t) => {
  const dir = tempDir(t);
  const sim = new NetbeamSimulator();
  const { url } = await sim.start();
  t.teardown(() => sim.stop());
  const HOUR = 3_600_000;
  const from = Math.floor(Date.now() / HOUR) * HOUR - 30 * 24 * HOUR;
  const to = from + 20 * HOUR;
  writeFileSync(path.join(dir, 'r.yaml'), `output: {dir: out, window: 1m}\nstreams:\n  esnet: {kind: netbeam, url: "${url}", interval: 1s, concurrency: 8, history: {from: ${from}, to: "${new Date(to).toISOString()}", chunk: 2h, chunks_per_tick: 1}}\n`);
  const series = ['traffic', 'errors', 'discards'];
  const pairs = sim.interfaces.length * series.length;

  const first = startNsr(dir, ['run', '-c', 'r.yaml']);
  t.teardown(() => {
    try {
      process.kill(first.pid, 'SIGKILL');
    } catch {}
  });
  // Killed once a few chunks of every series are in, in the middle of the range.
  for (const until = Date.now() + 30_000; sim.requests.length < pairs * 4 && Date.now() < until; ) await sleep(20);
  process.kill(first.pid, 'SIGKILL');
  await first.exit;
  const before = sim.requests.length;
  t.ok(before < pairs * 10, `killed half-way (${before} of ${pairs * 10} chunks asked)`);

  const second = startNsr(dir, ['run', '-c', 'r.yaml']);
  t.teardown(() => {
    try {
      process.kill(second.pid, 'SIGKILL');
    } catch {}
  });
  const reached = () => new Set(sim.requests.filter((r) => r.end === to).map((r) => `${r.resource} ${r.series}`)).size;
  // Until every series has asked for its last chunk. On a busy machine the ticks come late, so the bound is
  // progress, not a time: the wait ends when no chunk was asked for 20 s (a stall fails below), or at 120 s.
  let asked = sim.requests.length;
  let movedAt = Date.now();
  for (const until = Date.now() + 120_000; reached() < pairs && Date.now() < until && Date.now() - movedAt < 20_000; ) {
    await sleep(100);
    if (sim.requests.length !== asked) [asked, movedAt] = [sim.requests.length, Date.now()];
  }
  await sleep(1500);
  process.kill(second.pid, 'SIGTERM');
  t.equal((await second.exit).code, 0, 'the second run stops cleanly after SIGTERM', { output: second.output().slice(-1500) });
  t.ok(sim.requests.every((r) => r.end - r.begin <= 2 * HOUR && r.begin >= from && r.end <= to), 'every request within the range, at most one chunk long');

  const out = path.join(dir, 'out');
  for (const s of series) {
    const recs = (await readArchives(out, `esnet_${s}`)).flatMap((w) => w.lines).map((l) => JSON.parse(l) as { resource: string; begin: number; end: number; points: [number, unknown, unknown][] });
    const byResource = new Map<string, typeof recs>();
    for (const r of recs) (byResource.get(r.resource) ?? byResource.set(r.resource, []).get(r.resource)!).push(r);
    t.equal(byResource.size, sim.interfaces.length, `${s}: every interface`);
    let bad = 0;
    for (const [resource, list] of byResource) {
      list.sort((a, b) => a.begin - b.begin);
      const contiguous = list[0].begin === from && list[list.length - 1].end === to && list.every((r, i) => i === 0 || r.begin === list[i - 1].end);
      const times = list.flatMap((r) => r.points.map((p) => p[0]));
      const expected = NetbeamSimulator.points(resource, s, from, to).map((p) => p[0]);
      if (!contiguous || JSON.stringify(times) !== JSON.stringify(expected)) {
        bad++;
        t.fail(`${s} ${resource}: windows ${list.map((r) => `${r.begin - from}-${r.end - from}`).join(' ')}; ${times.length} points, ${expected.length} expected`);
      }
    }
    t.equal(bad, 0, `${s}: each series covers [from, to) in chunks, across the kill, every point once`);
  }
});
