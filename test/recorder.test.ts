// The recorder's tick decisions, driven by a fake clock and a hand-driven source.
import t from 'tap';
import { FakeClock } from '../src/clock/clock.js';
import { parseConfig } from '../src/config/loader.js';
import { createLogger } from '../src/logging/logger.js';
import { Recorder } from '../src/pipeline/recorder.js';
import { FetchError, type Source } from '../src/sources/source.js';
import { readArchives, tempDir } from './helpers.js';

interface Pending {
  resolve: (body: Buffer) => void;
  reject: (err: Error) => void;
}

function handDrivenSource(name: string, pending: Pending[]): Source {
  return {
    name,
    kind: 'test',
    timing: { intervalMs: 1000, timeoutMs: 800, windowMs: 60_000, retries: 0 },
    shape: { mode: 'wrap', key: 'v' },
    target: 'test://',
    fetch: () => new Promise<Buffer>((resolve, reject) => pending.push({ resolve, reject })),
    close() {},
  };
}

const flush = () => new Promise((r) => setImmediate(r));

t.test('a tick whose previous fetch still runs is skipped and recorded as overlap; failures become events', async (t) => {
  const dir = tempDir(t);
  const loaded = parseConfig(`output: {dir: "${dir}", window: 1m}\nshutdown: {grace: 100ms, deadline: 10s}\nstreams:\n  s: {kind: http, url: "http://127.0.0.1:9/x"}\n`, 'test.yaml');
  const clock = new FakeClock(1_800_000_000_000);
  const pending: Pending[] = [];
  const recorder = new Recorder(loaded, { log: createLogger({ level: 'silent', console: false }), clock, buildSource: (s) => handDrivenSource(s.name, pending) });
  await recorder.start();

  clock.advance(1000); // tick 1: fetch starts
  t.equal(pending.length, 1);
  clock.advance(1000); // tick 2: fetch 1 still running
  t.equal(pending.length, 1, 'no second fetch while the first runs');
  clock.advance(100);
  pending[0].resolve(Buffer.from('[1]'));
  await flush();
  clock.advance(900); // tick 3: free again
  t.equal(pending.length, 2);
  pending[1].reject(new FetchError('http_500', 'HTTP 500: {"error":"Internal server error"}'));
  await flush();
  clock.advance(1000); // tick 4
  pending[2].resolve(Buffer.from('[4]'));
  await flush();

  const stats = recorder.streams.get('s')!.stats;
  t.same(Object.fromEntries(stats.missed), { overlap: 1, http_500: 1 });
  const result = await recorder.stop('test');
  t.match(result, { complete: true, compressed: true });
  t.equal(stats.records, 2, 'both fetched records written');

  const data = (await readArchives(dir, 's')).flatMap((w) => w.lines);
  t.same(data, ['{"timestamp":1800000002100,"v":[1]}', '{"timestamp":1800000004000,"v":[4]}'], 'timestamps are arrival times; bodies verbatim');
  const events = (await readArchives(dir, 'events')).flatMap((w) => w.lines.map((l) => JSON.parse(l)));
  const missed = events.filter((e) => e.event === 'missed_tick');
  t.same(missed.map((e) => [e.tick, e.reason]), [[1_800_000_002, 'overlap'], [1_800_000_003, 'http_500']]);
  t.match(missed[1].message, /Internal server error/);
  t.ok(events.some((e) => e.event === 'stream_recovered' && e.missed_ticks === 1), 'recovery after the failure is an event');
});

t.test('an eager stream fetches at once, also near its first grid tick, which then waits for that fetch instead of being missed', async (t) => {
  const run = async (startAt: number) => {
    const dir = tempDir(t);
    const loaded = parseConfig(`output: {dir: "${dir}", window: 1m}\nshutdown: {grace: 100ms, deadline: 10s}\nstreams:\n  s: {kind: http, url: "http://127.0.0.1:9/x"}\n`, 'test.yaml');
    const clock = new FakeClock(startAt);
    const pending: Pending[] = [];
    const recorder = new Recorder(loaded, { log: createLogger({ level: 'silent', console: false }), clock, buildSource: (s) => ({ ...handDrivenSource(s.name, pending), eager: true }) });
    await recorder.start();
    return { dir, clock, pending, recorder };
  };

  // 300 ms before the first grid tick: fetched at once, as the original recorder does.
  const near = await run(1_800_000_000_700);
  t.equal(near.pending.length, 1, 'the first fetch is made at start, not at the grid tick 300 ms later');
  near.clock.advance(300); // the grid tick, while the start's fetch still runs
  t.equal(near.pending.length, 1, 'no second fetch while the first runs');
  near.clock.advance(50);
  near.pending[0].resolve(Buffer.from('[0]'));
  await flush();
  await flush();
  t.equal(near.pending.length, 2, "the grid tick's fetch follows the start's at once");
  near.pending[1].resolve(Buffer.from('[1]'));
  await flush();
  const stats = near.recorder.streams.get('s')!.stats;
  t.same(Object.fromEntries(stats.missed), {}, 'no tick missed (no overlap)');
  await near.recorder.stop('test');
  t.same(
    (await readArchives(near.dir, 's')).flatMap((w) => w.lines),
    ['{"timestamp":1800000001050,"v":[0]}', '{"timestamp":1800000001050,"v":[1]}'],
  );

  // Stopped while the start's fetch still runs: the grid tick that waited for it is a missed tick, told in the events.
  const stopped = await run(1_800_000_000_700);
  stopped.clock.advance(300);
  const stopping = stopped.recorder.stop('test');
  await flush();
  stopped.pending[0].resolve(Buffer.from('[0]'));
  await stopping;
  t.equal(stopped.pending.length, 1, 'no fetch after the stop');
  const stopEvents = (await readArchives(stopped.dir, 'events')).flatMap((w) => w.lines.map((l) => JSON.parse(l)));
  t.same(stopEvents.filter((e) => e.event === 'missed_tick').map((e) => [e.tick, e.reason]), [[1_800_000_001, 'overlap']]);

  // 20 ms before it: the grid tick is the first fetch.
  const nearer = await run(1_800_000_000_980);
  t.equal(nearer.pending.length, 0, 'nothing fetched 20 ms before the grid tick');
  nearer.clock.advance(20);
  t.equal(nearer.pending.length, 1, 'the grid tick fetches');
  nearer.pending[0].resolve(Buffer.from('[1]'));
  await flush();
  await nearer.recorder.stop('test');
});
