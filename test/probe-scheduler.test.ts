// Probe targets and their scheduler: stable, spread offsets; shards disjoint and
// complete; CSV and target checks; a slow target never delays the others.
import t from 'tap';
import { nextTurn, ProbeScheduler, type DueProbe } from '../src/sources/probe/probe-scheduler.js';
import { checkTarget, checkTargets, inShard, parseCsv, parseCsvWithLines, parseShard, targetHash, type ProbeTarget } from '../src/sources/probe/probe-targets.js';
import { sleep } from './helpers.js';

const defaults = { intervalMs: 1000, timeoutMs: 800, expectStatus: [200], matchBytes: 64 * 1024 };
const target = (id: string, intervalMs = 1000) => checkTarget({ id, url: `http://127.0.0.1:1/p/${id}`, interval: intervalMs }, defaults) as ProbeTarget;

t.test('each target has its own stable offset on its own grid, spread over the interval', async (t) => {
  const a = target('web-1');
  t.equal(a.hash, targetHash('web-1'), 'the hash is the id’s, the same in every process');
  const turn = nextTurn(a, 1_700_000_000_123);
  t.ok(turn >= 1_700_000_000_123 && turn < 1_700_000_001_123, 'the next turn is within one interval');
  t.equal(turn % 1000, a.hash % 1000, 'on the grid offset + k × interval');
  t.equal(nextTurn(target('web-1', 5000), turn) % 5000, a.hash % 5000);
  const buckets = new Array(10).fill(0);
  for (let i = 0; i < 10_000; i++) buckets[Math.floor((targetHash(`target-${i}`) % 1000) / 100)]++;
  t.ok(buckets.every((n) => n > 850 && n < 1150), `10,000 targets spread evenly over the second (${buckets})`);
});

t.test('--shard k/N: disjoint, complete, stable; a target added later lands on exactly one shard', async (t) => {
  t.same(parseShard('2/3'), { k: 2, n: 3 });
  t.equal(parseShard('0/3'), undefined);
  t.equal(parseShard('4/3'), undefined);
  t.equal(parseShard('x'), undefined);
  const ids = Array.from({ length: 10_000 }, (_, i) => `https://site-${i}.example.net/health`);
  const shards = [1, 2, 3].map((k) => new Set(ids.filter((id) => inShard({ hash: targetHash(id) }, { k, n: 3 }))));
  t.equal(shards.reduce((n, s) => n + s.size, 0), ids.length, 'every target on some shard, none on two');
  t.same(new Set(ids), new Set(shards.flatMap((s) => [...s])), 'the union is all targets');
  t.ok(shards.every((s) => s.size > 3000 && s.size < 3700), `balanced (${shards.map((s) => s.size)})`);
  const added = 'https://new.example.net/';
  t.equal([1, 2, 3].filter((k) => inShard({ hash: targetHash(added) }, { k, n: 3 })).length, 1);
});

t.test('targets are checked: interval at least 1 s, timeout shorter, a regex that compiles, a URL', async (t) => {
  t.match(checkTarget({ url: 'http://a/', interval: 500 }, defaults), /interval: got 500; expected at least 1s/);
  t.match(checkTarget({ url: 'http://a/', interval: '2s', timeout: '2s' }, defaults), /timeout: got "2s"; expected a duration shorter than the interval/);
  t.match(checkTarget({ url: 'http://a/', match: '(' }, defaults), /match: Invalid regular expression/);
  t.match(checkTarget({ url: 'ftp://a/' }, defaults), /not an http/);
  t.match(checkTarget({ url: 'http://a/', expect_status: '200|999' }, defaults), /expect_status/);
  const ok = checkTarget({ url: 'http://a/x', interval: '5s', expect_status: '200|301', headers: '{"x-token":"1"}' }, defaults) as ProbeTarget;
  t.match(ok, { id: 'http://a/x', intervalMs: 5000, timeoutMs: 800, expectStatus: [200, 301], headers: { 'x-token': '1' } }, 'the id defaults to the URL');
});

t.test('CSV: quoted fields, commas and quotes in a regex, CRLF; bad rows named by line, the rest kept', async (t) => {
  const csv = 'id,url,interval,timeout,expect_status,match\r\n' + 'a,http://h/a,2s,,,"say ""hi"", then, go"\r\n' + 'b,http://h/b,500ms,,,\n' + 'a,http://h/c,,,,\n' + '\n' + 'd,http://h/d,10s,1s,200|204,^ok$\n';
  const rows = parseCsv(csv);
  t.equal(rows.length, 4, 'blank lines are skipped');
  t.equal(rows[0].match, 'say "hi", then, go');
  const { targets, problems } = checkTargets(rows, defaults, (i) => `t.csv:${i + 2}`);
  t.same(targets.map((x) => x.id), ['a', 'd']);
  t.match(problems, [/^t\.csv:3: b: interval/, /^t\.csv:4: a: the id is used by another target/]);
});

t.test('CSV: each row with the line it starts on, past blank lines and quoted fields over several lines (CRLF, LF, CR)', async (t) => {
  for (const nl of ['\r\n', '\n', '\r']) {
    const csv = ['id,url,match', 'a,http://h/a,', '', `b,http://h/b,"two${nl}lines"`, '', '', 'c,http://h/c,x', ''].join(nl);
    const { rows, lines } = parseCsvWithLines(csv);
    t.same(rows.map((r) => r.id), ['a', 'b', 'c']);
    t.same(lines, [2, 4, 8], `the lines a text editor shows (${JSON.stringify(nl)})`);
  }
});

t.test('the scheduler: a slow target skips its own turns and never delays the others', async (t) => {
  const fired: DueProbe[] = [];
  const lateness: number[] = [];
  const skipped: string[] = [];
  const sched = new ProbeScheduler({
    concurrency: 100,
    run: async (p) => {
      fired.push(p);
      lateness.push(Date.now() - p.scheduledAt);
      await sleep(p.target.id === 'slow' ? 2500 : 5);
    },
    skipped: (p, reason) => skipped.push(`${p.target.id} ${reason}`),
  });
  const targets = [target('slow'), ...Array.from({ length: 50 }, (_, i) => target(`fast-${i}`))];
  sched.setTargets(targets);
  await sleep(3300);
  sched.stop();
  await sched.idle();
  const per = (id: string) => fired.filter((p) => p.target.id === id).length;
  const slow = fired.filter((p) => p.target.id === 'slow').map((p) => p.scheduledAt);
  t.ok(slow.length >= 1 && slow.length <= 2, `the slow target ran ${slow.length} time(s) in 3.3 s`);
  t.ok(slow.every((at, i) => i === 0 || at - slow[i - 1] >= 3000), 'never again before its last probe ended (2.5 s): the turns between were skipped');
  t.ok(skipped.filter((s) => s === 'slow overlap').length >= 2, `its next turns were skipped as overlap (${skipped.length})`);
  t.ok(targets.slice(1).every((x) => per(x.id) >= 3), 'every fast target ran on each of its turns');
  lateness.sort((a, b) => a - b);
  // Not a speed target (that is the benchmarks'): far below the slow probe's 2.5 s, which it would be if they waited behind it, even on a loaded machine.
  t.ok(lateness[Math.floor(lateness.length * 0.99)] < 1000, `fast probes never waited for the slow one (p99 ${lateness[Math.floor(lateness.length * 0.99)]} ms)`);
  for (const x of targets.slice(1)) {
    const times = fired.filter((p) => p.target.id === x.id).map((p) => p.scheduledAt);
    t.ok(times.every((at, i) => i === 0 || at - times[i - 1] === 1000), `${x.id}: turns exactly one interval apart`);
  }
});

t.test('the scheduler: above the concurrency, due probes wait in order; removed targets stop, new ones join', async (t) => {
  const started: string[] = [];
  const sched = new ProbeScheduler({ concurrency: 2, run: async (p) => (started.push(p.target.id), sleep(500)), skipped: () => {} });
  // Four targets on the same offset (the second boundary): only two can run at once, 500 ms each.
  const same = ['w', 'x', 'y', 'z'].map((id) => ({ ...target(id), hash: 0 }));
  sched.setTargets(same);
  // Their turn: the coming second boundary, or at once when one has just begun (within the scheduler's tolerance).
  for (const until = Date.now() + 2500; started.length < 2 && Date.now() < until; ) await sleep(5);
  await sleep(200);
  t.equal(started.length, 2, 'two start at their turn');
  t.equal(sched.active, 2);
  await sleep(500);
  t.equal(started.length, 4, 'the other two start when a slot frees (at +500 ms)');
  sched.setTargets([same[0], target('new')]);
  started.length = 0;
  await sleep(1200);
  sched.stop();
  await sched.idle();
  t.same([...new Set(started)].sort(), ['new', 'w'], 'x, y and z left; new joined');
});

t.test('a header Node refuses: the target is rejected when checked, and a probe that throws at once is a result, not a crash', async (t) => {
  t.match(checkTarget({ url: 'http://a/', headers: { 'bad name': 'x' } }, defaults), /headers: Header name must be a valid HTTP token/);
  t.match(checkTarget({ url: 'http://a/', headers: { x: 'one\ntwo' } }, defaults), /headers: Invalid character in header content/);
  const { runProbe, probeAgents } = await import('../src/sources/probe/probe-client.js');
  const r = await runProbe({ url: 'http://127.0.0.1:1/', timeoutMs: 500, expectStatus: [200], matchBytes: 100, headers: { 'bad name': 'x' } }, probeAgents(10, true), new AbortController().signal);
  t.match(r, { error: 'bad_request', status: null });
});
