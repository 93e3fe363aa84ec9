// The ticker keeps an absolute grid: no drift, pairs same-interval streams, never bursts.
import t from 'tap';
import { FakeClock } from '../src/clock/clock.js';
import { Ticker } from '../src/clock/ticker.js';

function record(clock: FakeClock, interval: number) {
  const ticks: [number, number, number][] = []; // [tick, scheduledAt, firedAt]
  const missed: [number, string][] = [];
  const ticker = new Ticker(interval, clock, {
    onTick: (k, at) => ticks.push([k, at, clock.now()]),
    onMissed: (first, count, reason) => {
      for (let k = first; k < first + count; k++) missed.push([k, reason]);
    },
  });
  return { ticker, ticks, missed };
}

t.test('ticks land on the grid, starting at the next grid point', async (t) => {
  const clock = new FakeClock(10_250);
  const { ticker, ticks } = record(clock, 1000);
  ticker.start();
  clock.advance(5000);
  t.same(ticks.map(([k]) => k), [11, 12, 13, 14, 15]);
  t.ok(ticks.every(([k, at, fired]) => at === k * 1000 && fired === at), 'each fires exactly on k × interval');
});

t.test('no drift even when the handler takes time', async (t) => {
  const clock = new FakeClock(0);
  const fired: number[] = [];
  const ticker = new Ticker(1000, clock, {
    onTick: (_k, at) => {
      fired.push(at);
      clock.stall(37); // the handler runs 37 ms of "work"
    },
    onMissed: () => t.fail('nothing should be missed'),
  });
  ticker.start();
  clock.advance(100_000);
  t.equal(fired.length, 100);
  t.same(fired.slice(-3), [98_000, 99_000, 100_000], 'still on the grid after 100 ticks');
});

t.test('two tickers with the same interval fire on the same instants', async (t) => {
  const clock = new FakeClock(123);
  const a = record(clock, 1000);
  const b = record(clock, 1000);
  a.ticker.start();
  clock.advance(400);
  b.ticker.start();
  clock.advance(3000);
  t.same(a.ticks.map(([, at]) => at), b.ticks.map(([, at]) => at));
});

t.test('a stall skips the passed ticks, reports them, and never bursts', async (t) => {
  const clock = new FakeClock(0);
  const { ticker, ticks, missed } = record(clock, 1000);
  ticker.start();
  clock.advance(2000); // ticks 1, 2
  clock.stall(3300); // the event loop is blocked from t=2000 to t=5300
  clock.advance(0); // timers due at 3000 fire now, late
  t.same(missed, [[3, 'late'], [4, 'late']], 'ticks 3 and 4 passed while stalled');
  t.same(ticks.map(([k]) => k), [1, 2, 5], 'tick 5 (300 ms late, within tolerance) fires once; no burst');
  clock.advance(2000);
  t.same(ticks.map(([k]) => k), [1, 2, 5, 6, 7], 'back on the grid');
});

t.test('a tick later than the tolerance is reported, not fired', async (t) => {
  const clock = new FakeClock(0);
  const { ticker, ticks, missed } = record(clock, 1000);
  ticker.start();
  clock.stall(1700); // due at 1000, the loop only gets there at 1700
  clock.advance(0);
  t.same(ticks, []);
  t.same(missed, [[1, 'late']]);
  clock.advance(300);
  t.same(ticks.map(([k]) => k), [2]);
});

t.test('stop cancels the next tick', async (t) => {
  const clock = new FakeClock(0);
  const { ticker, ticks } = record(clock, 500);
  ticker.start();
  clock.advance(1000);
  ticker.stop();
  clock.advance(5000);
  t.equal(ticks.length, 2);
  t.equal(clock.pending(), 0);
  t.throws(() => new Ticker(0, clock, { onTick() {}, onMissed() {} }), RangeError);
});

t.test('a long stall is reported as one run of missed ticks, not one call per tick', async (t) => {
  const clock = new FakeClock(0);
  const runs: [number, number][] = [];
  const ticker = new Ticker(1000, clock, { onTick() {}, onMissed: (first, count) => runs.push([first, count]) });
  ticker.start();
  clock.stall(7 * 24 * 3_600_000); // a suspended VM, a week
  clock.advance(0);
  t.same(runs, [[1, 7 * 24 * 3600 - 1]], 'one call for the whole week; the tick at the wake-up fires');
});

t.test('when the wall clock steps back, the grid follows at once and says so', async (t) => {
  const clock = new FakeClock(100_000);
  const steps: number[] = [];
  const fired: number[] = [];
  const ticker = new Ticker(500, clock, { onTick: (_k, at) => fired.push(at), onMissed() {}, onClockStep: (d) => steps.push(d) });
  ticker.start();
  clock.advance(1000); // ticks at 100500, 101000
  // NTP steps the wall clock back 3 s; timers (monotonic) keep their delays
  clock.stepWall(-3000);
  clock.advance(500); // the timer for 101500 fires at wall time 98500
  t.same(steps, [2500], 'the step is reported');
  clock.advance(1000);
  t.same(fired.slice(2), [99000, 99500], 'ticks resume on the grid of the new time, with no silent hole');
});
