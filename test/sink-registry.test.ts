// A sink kind added through the registry alone (a test double): streams that list its option feed
// it every record, each only after its line is in the window file; the recorder names no sink.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { FakeClock } from '../src/clock/clock.js';
import { parseConfig } from '../src/config/loader.js';
import { createLogger } from '../src/logging/logger.js';
import { Recorder } from '../src/pipeline/recorder.js';
import { feedsWhenSet, type Sink, type SinkFeed, type SinkKind } from '../src/sinks/kind.js';
import { registerSinkKind } from '../src/sinks/registry.js';
import type { Source } from '../src/sources/source.js';
import { readArchives, tempDir } from './helpers.js';

interface Offered {
  stream: string;
  ts: number;
  line: string;
  /** Was the line already in the stream's open window file when the sink got it? */
  inWindowFile: boolean;
}

const offered: Offered[] = [];
const fed: SinkFeed[] = [];
let closedWith: number | undefined;
let outputDir = '';

/** The window file of `stream` open now in the output directory, read whole. */
function windowText(stream: string): string {
  const name = readdirSync(outputDir).find((f) => f.endsWith(`_${stream}.json`));
  return name ? readFileSync(path.join(outputDir, name), 'utf8') : '';
}

const captureKind: SinkKind = {
  kind: 'capture',
  option: { key: 'capture', schema: z.boolean().default(false) },
  feeds: feedsWhenSet('capture', false),
  async build(ctx): Promise<Sink> {
    outputDir = ctx.dir;
    return {
      addStream: (feed) => void fed.push(feed),
      offer(stream, ts, line) {
        const text = line.toString('utf8');
        offered.push({ stream, ts, line: text, inWindowFile: windowText(stream).includes(text) });
      },
      async close(deadline) {
        closedWith = deadline;
        return { unwritten: 0 };
      },
    };
  },
};

function countingSource(name: string): Source {
  let n = 0;
  return {
    name,
    kind: 'test',
    timing: { intervalMs: 1000, timeoutMs: 800, windowMs: 60_000, retries: 0 },
    shape: { mode: 'wrap', key: 'v' },
    target: 'test://',
    fetch: async () => Buffer.from(`{"n":${++n},"big":14721744659231801344}`),
    close() {},
  };
}

t.test('a registered sink kind is fed every record of the streams that list it, after the write', async (t) => {
  const yaml = (dir: string) => `output: {dir: "${dir}", window: 1m}\nshutdown: {grace: 100ms, deadline: 10s}\nstreams:\n  a: {kind: http, url: "http://127.0.0.1:9/a", capture: true}\n  b: {kind: http, url: "http://127.0.0.1:9/b"}\n`;
  const dir = tempDir(t);
  t.throws(() => parseConfig(yaml(dir), 'r.yaml'), /unknown key "capture"/, 'before it is registered, the option is unknown');
  registerSinkKind(captureKind);
  t.throws(() => registerSinkKind(captureKind), /registered already/);

  const loaded = parseConfig(yaml(dir), 'r.yaml');
  const clock = new FakeClock(1_800_000_000_000);
  const recorder = new Recorder(loaded, { log: createLogger({ level: 'silent', console: false }), clock, buildSource: (s) => countingSource(s.name) });
  await recorder.start();
  for (let i = 0; i < 5; i++) {
    clock.advance(1000);
    await new Promise((r) => setTimeout(r, 20));
  }
  const result = await recorder.stop('test');
  t.match(result, { complete: true });

  t.same(fed.map((f) => f.stream), ['a'], 'only the stream that lists the option feeds the sink');
  t.equal(fed[0].settings, true, 'with its setting');
  const archived = (await readArchives(dir, 'a')).flatMap((w) => w.lines);
  t.ok(archived.length >= 4, `${archived.length} records of a archived`);
  t.same(offered.map((o) => o.line.trimEnd()), archived, 'every archived record of a, in order, and nothing of b');
  t.ok(offered.every((o) => o.inWindowFile), 'each record was in its window file before the sink got it');
  t.match(offered[0].line, /"big":14721744659231801344/, 'the line as written (uint64 intact)');
  t.ok(closedWith !== undefined, 'the sink was closed at stop');
});
