// The per-stream queue: bounded, ordered, never drops, keeps an item until it is handled.
import t from 'tap';
import { BoundedQueue } from '../src/pipeline/bounded-queue.js';

const q = (items: number, bytes: number) => new BoundedQueue<string>(items, bytes, (s) => s.length);

t.test('bounds by items and by bytes', async (t) => {
  const byItems = q(2, 1000);
  byItems.push('a');
  t.ok(byItems.hasRoom());
  byItems.push('b');
  t.notOk(byItems.hasRoom(), 'full at 2 items');
  const byBytes = q(100, 10);
  byBytes.push('123456789');
  t.ok(byBytes.hasRoom());
  byBytes.push('0');
  t.notOk(byBytes.hasRoom(), 'full at 10 bytes');
});

t.test('never drops: a push past the bound is kept and counted', async (t) => {
  const queue = q(1, 100);
  queue.push('a');
  queue.push('b'); // a fetch already in flight when the queue filled
  t.equal(queue.depth, 2);
  t.same([queue.shift(), queue.shift(), queue.shift()], ['a', 'b', undefined]);
  t.match(queue.stats(), { pushed: 2, removed: 2, peakDepth: 2, depth: 0, bytes: 0 });
});

t.test('peek keeps the head until shift (a failed write keeps its record)', async (t) => {
  const queue = q(10, 100);
  queue.push('x');
  t.equal(queue.peek(), 'x');
  t.equal(queue.peek(), 'x');
  t.equal(queue.depth, 1);
  t.equal(queue.shift(), 'x');
  t.equal(queue.peek(), undefined);
});

t.test('order is kept across internal compaction', async (t) => {
  const queue = new BoundedQueue<number>(1e6, 1e9, () => 1);
  const out: number[] = [];
  for (let i = 0; i < 5000; i++) {
    queue.push(i);
    if (i % 3 === 0) out.push(queue.shift()!);
  }
  while (queue.depth) out.push(queue.shift()!);
  t.same(out, Array.from({ length: 5000 }, (_, i) => i));
});

t.test('whenNotEmpty wakes the consumer', async (t) => {
  const queue = q(10, 100);
  let woke = false;
  const waiting = queue.whenNotEmpty().then(() => (woke = true));
  await Promise.resolve();
  t.notOk(woke);
  queue.push('a');
  await waiting;
  t.ok(woke);
});
