// The log file rotates by size and by day without losing or splitting a line,
// keeps what it is told to keep, and never writes through a planted link.
import t from 'tap';
import { existsSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { RotatingFile } from '../src/logging/rotating-file.js';
import { readEvents, startNsr, tempDir } from './helpers.js';

const lineOf = (i: number) => `${JSON.stringify({ n: i, msg: 'x'.repeat(i % 50) })}\n`;

t.test('by size: every line whole in exactly one file, `keep` rotated files, oldest dropped', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'logs', 'nsr.log');
  const f = new RotatingFile({ file, maxBytes: 1000, keep: 3 });
  for (let i = 0; i < 200; i++) f.write(lineOf(i));
  f.close();
  const names = readdirSync(path.dirname(file)).sort();
  t.same(names, ['nsr.log', 'nsr.log.1', 'nsr.log.2', 'nsr.log.3'], 'the file and three rotated ones');
  const seen: number[] = [];
  for (const n of names) {
    const text = readFileSync(path.join(path.dirname(file), n), 'utf8');
    t.ok(Buffer.byteLength(text) <= 1000, `${n} within max_size`);
    for (const l of text.split('\n').filter(Boolean)) seen.push(JSON.parse(l).n);
  }
  seen.sort((a, b) => a - b);
  const kept = seen[0];
  t.same(seen, Array.from({ length: 200 - kept }, (_, i) => kept + i), 'the newest lines, none lost or doubled, none torn (each parses)');
  t.ok(kept > 0, 'the oldest lines went with the file beyond keep');
  const newest = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l).n);
  t.equal(newest.at(-1), 199, 'the live file ends with the last line');
});

t.test('by day: {date} names a file per local day; keep earlier days', async (t) => {
  const dir = tempDir(t);
  let day = '2026-11-28';
  const f = new RotatingFile({ file: path.join(dir, 'logs', 'NSR_{date}.log'), keep: 2, today: () => day });
  for (const d of ['2026-11-28', '2026-11-29', '2026-11-30', '2026-12-01']) {
    day = d;
    f.write(`{"day":"${d}"}\n`);
    f.write(`{"day":"${d}","second":true}\n`);
  }
  f.close();
  t.same(readdirSync(path.join(dir, 'logs')).sort(), ['NSR_2026-11-29.log', 'NSR_2026-11-30.log', 'NSR_2026-12-01.log'], "today's file and two earlier days");
  t.equal(readFileSync(path.join(dir, 'logs', 'NSR_2026-12-01.log'), 'utf8'), '{"day":"2026-12-01"}\n{"day":"2026-12-01","second":true}\n');
});

t.test('a log file that is a link is refused, not followed', async (t) => {
  const dir = tempDir(t);
  writeFileSync(path.join(dir, 'victim'), 'keep me\n');
  symlinkSync(path.join(dir, 'victim'), path.join(dir, 'nsr.log'));
  t.throws(() => new RotatingFile({ file: path.join(dir, 'nsr.log'), keep: 1 }), { code: 'ELOOP' });
  t.equal(readFileSync(path.join(dir, 'victim'), 'utf8'), 'keep me\n');
});

t.test('bin/nsr: log.file with max_size rotates while recording; every line is JSON', async (t) => {
  const dir = tempDir(t);
  writeFileSync(
    path.join(dir, 'r.yaml'),
    `output: {dir: out, window: 1m}
log: {level: debug, file: logs/nsr.log, max_size: 2KB, keep: 50}
streams:
  x: {kind: http, url: "http://127.0.0.1:9/none", interval: 200ms}
`,
  );
  const nsr = startNsr(dir, ['run', '-c', 'r.yaml', '--for', '3s']);
  t.equal((await nsr.exit).code, 0, nsr.output().slice(-1000));
  const logs = readdirSync(path.join(dir, 'logs'));
  t.ok(logs.length > 2, `rotated: ${logs.join(', ')}`);
  let lines = 0;
  for (const n of logs) {
    for (const l of readFileSync(path.join(dir, 'logs', n), 'utf8').split('\n').filter(Boolean)) {
      JSON.parse(l);
      lines++;
    }
  }
  t.ok(lines > 10, `${lines} lines, each JSON`);
  t.ok(existsSync(path.join(dir, 'logs', 'nsr.log')));
  t.ok((await readEvents(path.join(dir, 'out'))).some((e) => e.event === 'start'));
});

t.test('keep Infinity (log.keep: all, the original recorder has no retention): no day and no rotated part is ever deleted', async (t) => {
  const dir = tempDir(t);
  let day = '2026-11-01';
  const daily = new RotatingFile({ file: path.join(dir, 'days', 'NSR_{date}.log'), keep: Infinity, today: () => day });
  for (let d = 1; d <= 9; d++) {
    day = `2026-11-0${d}`;
    daily.write(`{"day":${d}}\n`);
  }
  daily.close();
  t.equal(readdirSync(path.join(dir, 'days')).length, 9, 'every day stays');
  const sized = new RotatingFile({ file: path.join(dir, 'sized', 'nsr.log'), maxBytes: 100, keep: Infinity });
  for (let i = 0; i < 40; i++) sized.write(lineOf(i));
  sized.close();
  const seen = readdirSync(path.join(dir, 'sized')).flatMap((n) => readFileSync(path.join(dir, 'sized', n), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l).n as number));
  t.same(seen.sort((a, b) => a - b), Array.from({ length: 40 }, (_, i) => i), 'every line kept across the rotated parts');
});
