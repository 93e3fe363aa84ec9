// splitLines: the archive readers' (cat, verify, the catalog) one way of cutting window bytes into record lines.
import t from 'tap';
import { LineTooLongError, splitLines, type Line } from '../src/archive/lines.js';

async function* chunked(data: Buffer, sizes: (i: number) => number): AsyncGenerator<Buffer> {
  for (let at = 0, i = 0; at < data.length; i++) {
    const n = Math.max(1, sizes(i));
    yield data.subarray(at, at + n);
    at += n;
  }
}

async function collect(lines: AsyncIterable<Line>): Promise<Line[]> {
  const out: Line[] = [];
  for await (const l of lines) out.push({ bytes: Buffer.from(l.bytes), complete: l.complete });
  return out;
}

t.test('a line spanning many chunks comes out whole and exact, and the lines around it too', async (t) => {
  // 3 MB of varied bytes (every value but \n) between two short lines, cut into ~4,000 uneven chunks.
  const long = Buffer.alloc(3_000_000);
  for (let i = 0; i < long.length; i++) long[i] = i % 251 === 10 ? 11 : i % 251;
  const data = Buffer.concat([Buffer.from('{"timestamp":1}\n'), long, Buffer.from('\n{"timestamp":3}\n'), Buffer.from('torn')]);
  const lines = await collect(splitLines(chunked(data, (i) => 200 + ((i * 7919) % 1300))));
  t.equal(lines.length, 4);
  t.same(lines.map((l) => l.complete), [true, true, true, false]);
  t.equal(lines[0].bytes.toString(), '{"timestamp":1}');
  t.equal(lines[1].bytes.length, long.length);
  t.ok(lines[1].bytes.equals(long), 'the long line has exactly its bytes');
  t.equal(lines[2].bytes.toString(), '{"timestamp":3}');
  t.equal(lines[3].bytes.toString(), 'torn', 'a last line without its newline is handed out as incomplete');
});

t.test('a chunk boundary right at a newline, or one byte a chunk, changes nothing', async (t) => {
  const data = Buffer.from('ab\ncd\n\nef\n');
  for (const size of [1, 2, 3, 100]) {
    const lines = await collect(splitLines(chunked(data, () => size)));
    t.same(lines.map((l) => l.bytes.toString()), ['ab', 'cd', '', 'ef'], `chunks of ${size}`);
    t.ok(lines.every((l) => l.complete));
  }
});

t.test('a line longer than the cap is refused with an error naming the line and the cap', async (t) => {
  const data = Buffer.concat([Buffer.from('short\n'), Buffer.alloc(10_000, 0x61), Buffer.from('\nafter\n')]);
  const seen: string[] = [];
  const err = await (async () => {
    try {
      for await (const l of splitLines(chunked(data, () => 1000), { maxLineBytes: 4096 })) seen.push(l.bytes.toString());
    } catch (e) {
      return e as Error;
    }
  })();
  t.same(seen, ['short'], 'the lines before it are handed out');
  t.ok(err instanceof LineTooLongError);
  t.match(err?.message, /^line 2 is longer than 4096 bytes \(\d+ bytes read so far\)/);
  // Within one chunk too.
  const whole = await collect(splitLines(chunked(data, () => data.length), { maxLineBytes: 4096 })).catch((e: Error) => e);
  t.ok(whole instanceof LineTooLongError, 'also when the line sits inside one chunk');
});
