// NETCONF framing (RFC 6242): both framings decoded across every split point of
// real replies, malformed chunk headers and oversize messages refused.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ChunkedDecoder, EndOfMessageDecoder, FramingError, encodeChunked, encodeEndOfMessage, type MessageDecoder } from '../src/sources/junos/netconf-framing.js';

const REPLY = readFileSync(new URL('../fixtures/junos/get-route-information.inet.3.rpc-reply.xml', import.meta.url));
const HELLO = Buffer.from('<hello xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><capabilities><capability>urn:ietf:params:netconf:base:1.1</capability></capabilities></hello>');
const MAX = 1 << 20;

/** Feeds `wire` to a fresh decoder split at `at` (and again at `at2`), collecting every message. */
function decodeSplit(make: () => MessageDecoder, wire: Buffer, cuts: number[]): Buffer[] {
  const d = make();
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of [...cuts, wire.length]) {
    out.push(...d.push(wire.subarray(prev, c)));
    prev = c;
  }
  return out;
}

const framings: [string, (m: Buffer) => Buffer, () => MessageDecoder][] = [
  ['base:1.0 end-of-message', encodeEndOfMessage, () => new EndOfMessageDecoder(MAX)],
  ['base:1.1 chunked', encodeChunked, () => new ChunkedDecoder(MAX)],
];

for (const [name, encode, make] of framings) {
  t.test(`${name}: two messages split at every byte boundary come out verbatim`, async (t) => {
    const wire = Buffer.concat([encode(REPLY), encode(HELLO)]);
    let bad = 0;
    for (let at = 0; at <= wire.length; at++) {
      const got = decodeSplit(make, wire, [at]);
      if (got.length !== 2 || !got[0]!.equals(REPLY) || !got[1]!.equals(HELLO)) bad++;
    }
    t.equal(bad, 0, 'every split point gives both messages byte for byte');
    // Byte by byte: the delimiter and headers arrive one byte at a time.
    const d = make();
    const out: Buffer[] = [];
    for (let i = 0; i < wire.length; i++) out.push(...d.push(wire.subarray(i, i + 1)));
    t.same(out.map((b) => b.toString()), [REPLY.toString(), HELLO.toString()]);
  });

  t.test(`${name}: a message larger than the bound is refused, whatever the pieces`, async (t) => {
    const small = make === framings[0]![2] ? new EndOfMessageDecoder(100) : new ChunkedDecoder(100);
    const wire = encode(REPLY);
    t.throws(() => {
      for (let i = 0; i < wire.length; i += 7) small.push(wire.subarray(i, i + 7));
    }, FramingError);
    t.throws(() => small.push(Buffer.from('x')), /failed earlier/, 'the decoder stays failed');
  });

  t.test(`${name}: limit leaves the following bytes for the next framing`, async (t) => {
    const d = make();
    const got = d.push(Buffer.concat([encode(HELLO), Buffer.from('\n#3\nabc')]), 1);
    t.equal(got.length, 1);
    t.equal(d.takeRemainder().toString(), '\n#3\nabc');
  });
}

t.test('base:1.0: a never-ending message stops at the bound without a delimiter', async (t) => {
  const d = new EndOfMessageDecoder(1000);
  t.same(d.push(Buffer.alloc(1000, 'a')), []);
  t.throws(() => d.push(Buffer.alloc(10, 'a')), /grew past 1000 bytes/);
});

t.test('base:1.0: an exactly-maximal message passes', async (t) => {
  const d = new EndOfMessageDecoder(10);
  t.same(d.push(encodeEndOfMessage('0123456789')).map(String), ['0123456789']);
});

t.test('base:1.1: a message of several chunks is joined', async (t) => {
  const d = new ChunkedDecoder(MAX);
  t.same(d.push(Buffer.from('\n#4\n<rpc\n#18\n message-id="102"\n\n#10\n>…</rpc>\n##\n')).map(String), ['<rpc message-id="102"\n>…</rpc>']);
});

t.test('base:1.1: malformed headers are refused with a clear error', async (t) => {
  const cases: [string, RegExp][] = [
    ['#4\nabcd\n##\n', /expected a line feed before a chunk header/],
    ['\n4\nabcd\n##\n', /expected '#'/],
    ['\n#0\n\n##\n', /chunk size \(1-9 first\)/],
    ['\n#04\nabcd\n##\n', /chunk size \(1-9 first\)/],
    ['\n#-1\n', /chunk size/],
    ['\n#4x\nabcd', /digit or a line feed/],
    ['\n#4294967296\n', /exceeds 4294967295/],
    ['\n#12345678901\n', /exceeds 4294967295/],
    ['\n##\n', /before any chunk/],
    ['\n#2\nab\n##x', /after '##'/],
    ['\n#2\nabc\n##\n', /expected a line feed before a chunk header, got 'c'/],
  ];
  for (const [wire, why] of cases) {
    t.throws(() => new ChunkedDecoder(MAX).push(Buffer.from(wire)), why, JSON.stringify(wire));
  }
  // The largest legal size is accepted as a header (and refused only by the bound).
  t.throws(() => new ChunkedDecoder(MAX).push(Buffer.from('\n#4294967295\n')), /grew past/);
});

t.test('base:1.1: an oversize chunk is refused on its header, before its data', async (t) => {
  const d = new ChunkedDecoder(1000);
  t.same(d.push(Buffer.from('\n#600\n')), []);
  t.throws(() => d.push(Buffer.concat([Buffer.alloc(600, 'a'), Buffer.from('\n#401\n')])), /grew past 1000/);
});

t.test('encoders refuse what the framing cannot carry', async (t) => {
  t.throws(() => encodeChunked(''), /at least one byte/);
  t.equal(encodeChunked('abc').toString(), '\n#3\nabc\n##\n');
  t.equal(encodeEndOfMessage('abc').toString(), 'abc]]>]]>');
});

t.test('base:1.1: a message of one-byte chunks holds about its own size, not a buffer view per byte', async (t) => {
  // Before: each chunk's data was kept as its own view, ~100 bytes of heap per
  // data byte: a 64 MB message of 1-byte chunks (320 MB on the wire) needed gigabytes.
  setFlagsFromString('--expose_gc');
  const gc = runInNewContext('gc') as () => void;
  const d = new ChunkedDecoder(64 << 20);
  const wire = Buffer.from('\n#1\nx'.repeat(6000)); // one SSH packet's worth, 6000 chunks
  gc();
  const before = process.memoryUsage().heapUsed;
  let early = 0;
  for (let i = 0; i < 300; i++) early += d.push(Buffer.from(wire)).length; // 1.8 MB of data in 1.8M chunks
  t.equal(early, 0, 'no message before the end of chunks');
  gc();
  const grown = process.memoryUsage().heapUsed - before;
  t.ok(grown < 30e6, `heap grew by ${(grown / 1e6).toFixed(1)} MB for 1.8 MB of data`);
  const [message] = d.push(Buffer.from('\n##\n'));
  t.equal(message?.length, 1_800_000);
  t.ok(message?.every((b) => b === 0x78), 'the data, in order');
});
