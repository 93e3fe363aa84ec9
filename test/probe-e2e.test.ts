// Probes recorded by bin/nsr against the probe simulator: every target on its own
// stable schedule, each error class, regex matches; shards that split the targets.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { ProbeSimulator } from '../src/simulate/probe-simulator.js';
import { targetHash } from '../src/sources/probe/probe-targets.js';
import { readArchives, readEvents, sleep, startNsr, tempDir } from './helpers.js';

async function simulator(t: Tap.Test) {
  const sim = new ProbeSimulator();
  const { url } = await sim.start();
  t.teardown(() => sim.stop());
  return { sim, url };
}
const probesOf = async (dir: string, stream = 'probes') => (await readArchives(dir, stream)).flatMap((w) => w.lines.map((l) => JSON.parse(l)));

t.test('targets from a CSV file: each on its own grid; statuses, timeouts, refusals and matches recorded', async (t) => {
  const dir = tempDir(t);
  const { url } = await simulator(t);
  const fast = Array.from({ length: 30 }, (_, i) => `t${i},${url}/p/t${i},1s,,,`);
  writeFileSync(
    path.join(dir, 'targets.csv'),
    [
      'id,url,interval,timeout,expect_status,match',
      ...fast,
      `sql,${url}/p/sql?body=${encodeURIComponent(`it's "quoted"; DROP TABLE x;--`)},1s,,,"DROP TABLE \\w+"`,
      `nomatch,${url}/p/n,1s,,,absent`,
      `down,${url}/p/d?status=503,1s,,,`,
      `moved,${url}/p/m?status=301,1s,,200|301,`,
      `slow,${url}/p/s?latency=5000,2s,700ms,,`,
      `refused,http://127.0.0.1:1/x,1s,,,`,
      `bad-interval,${url}/p/b,100ms,,,`,
    ].join('\n'),
  );
  writeFileSync(path.join(dir, 'r.yaml'), `output: {dir: out, window: 1m}\nstreams:\n  probes: {kind: probe, targets_file: targets.csv}\n`);
  const nsr = startNsr(dir, ['run', '-c', 'r.yaml', '--for', '5500ms']);
  t.equal((await nsr.exit).code, 0, nsr.output().slice(-1500));
  const out = path.join(dir, 'out');
  const recs = await probesOf(out);
  const by = (id: string) => recs.filter((r) => r.target === id);
  for (let i = 0; i < 30; i++) {
    const mine = by(`t${i}`);
    t.ok(mine.length >= 3, `t${i}: probed each second (${mine.length})`);
    t.ok(mine.every((r, j) => r.scheduled_at % 1000 === targetHash(`t${i}`) % 1000 && (j === 0 || r.scheduled_at - mine[j - 1].scheduled_at === 1000)), `t${i}: on its own offset, one interval apart`);
    t.ok(mine.every((r) => r.status === 200 && r.error === null && r.latency_ms.total >= r.latency_ms.first_byte), `t${i}: answered, with timings`);
  }
  t.match(by('sql')[0], { match: true, matched: 'DROP TABLE x', error: null });
  t.match(by('nomatch')[0], { match: false, error: null });
  t.match(by('down')[0], { status: 503, error: 'unexpected_status' });
  t.match(by('moved')[0], { status: 301, error: null }, 'expect_status 200|301');
  t.match(by('slow')[0], { status: null, error: 'timeout' });
  t.ok(by('slow')[0].latency_ms.total >= 690 && by('slow')[0].latency_ms.total < 1500, 'the timeout is the target’s own');
  t.match(by('refused')[0], { error: 'connection_refused', latency_ms: { connect: null } });
  t.equal(by('bad-interval').length, 0);
  const events = await readEvents(out);
  t.match(events.find((e) => e.event === 'targets_rejected'), { stream: 'probes', count: 1, problems: [/targets\.csv:38: bad-interval: interval/] }, 'the bad row is reported with its line');
  const check = startNsr(dir, ['check', '-c', 'r.yaml']);
  t.equal((await check.exit).code, 1, 'nsr check: some targets fail');
  t.match(check.output(), /FAIL {2}probes: file targets\.csv: 31 of 36 answered/);
  for (const line of [/down: unexpected_status: HTTP 503, expected 200/, /slow: timeout/, /refused: connection_refused/, /nomatch: no_match/, /bad-interval: interval/]) t.match(check.output(), line);

  const lateness = recs.map((r) => r.lateness_ms).sort((a, b) => a - b);
  t.ok(lateness[Math.floor(lateness.length * 0.95)] < 100, `probes start on schedule despite the slow target (p95 ${lateness[Math.floor(lateness.length * 0.95)]} ms)`);
});

t.test('--shard: two processes split the targets, disjoint and complete', async (t) => {
  const dir = tempDir(t);
  const { url } = await simulator(t);
  const ids = Array.from({ length: 40 }, (_, i) => `site-${i}`);
  writeFileSync(path.join(dir, 'r.yaml'), `output: {dir: out}\nstreams:\n  probes:\n    kind: probe\n    targets:\n${ids.map((id) => `      - {id: ${id}, url: "${url}/p/${id}"}`).join('\n')}\n`);
  writeFileSync(path.join(dir, 'r2.yaml'), `output: {dir: out2}\nstreams:\n  probes:\n    kind: probe\n    targets:\n${ids.map((id) => `      - {id: ${id}, url: "${url}/p/${id}"}`).join('\n')}\n`);
  const a = startNsr(dir, ['run', '-c', 'r.yaml', '--shard', '1/2', '--for', '2500ms']);
  const b = startNsr(dir, ['run', '-c', 'r2.yaml', '--shard', '2/2', '--for', '2500ms']);
  t.equal((await a.exit).code, 0, a.output());
  t.equal((await b.exit).code, 0, b.output());
  const one = new Set((await probesOf(path.join(dir, 'out'))).map((r) => r.target));
  const two = new Set((await probesOf(path.join(dir, 'out2'))).map((r) => r.target));
  t.same([...one].filter((id) => two.has(id)), [], 'no target probed by both');
  t.same([...one, ...two].sort(), [...ids].sort(), 'every target probed by one of them');
  t.ok(one.size > 8 && two.size > 8, `both have a share (${one.size}, ${two.size})`);
  const bad = startNsr(dir, ['run', '-c', 'r.yaml', '--shard', '3/2']);
  t.equal((await bad.exit).code, 2);
  t.match(bad.output(), /--shard: got "3\/2"; expected k\/N with 1 ≤ k ≤ N/);
  void sleep;
});
