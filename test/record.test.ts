// Record lines must be byte-identical to the Python NSR's (DESIGN 2.1).
import t from 'tap';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { recordEncoder, recordTimestamp } from '../src/pipeline/record.js';
import { validateBody } from '../src/sources/common/body.js';
import type { BodyKind } from '../src/sources/source.js';
import { FIXTURES } from './helpers.js';

const golden = (name: string) => readFileSync(path.join(FIXTURES, 'recorder_output', name), 'utf8').split('\n').filter(Boolean);

/** Splits a golden line back into its timestamp and the body the kernel sent. */
function goldenParts(line: string, mode: 'wrap' | 'merge') {
  const ts = recordTimestamp(line)!;
  const prefix = `{"timestamp":${ts},`;
  const rest = line.slice(prefix.length);
  const body = mode === 'wrap' ? rest.slice('"flowinfo":'.length, -1) : `{${rest}`;
  return { ts, body: Buffer.from(body) };
}

t.test('flow records are byte-identical to the original recorder output', async (t) => {
  const encode = recordEncoder({ mode: 'wrap', key: 'flowinfo' });
  const lines = golden('2026_02_10_14-03-12_flowinfo.json');
  t.equal(lines.length, 4);
  for (const line of lines) {
    const { ts, body } = goldenParts(line, 'wrap');
    t.equal(encode(ts, validateBody(body, 'array')).toString('utf8'), `${line}\n`);
  }
  t.match(lines[3], /"flowinfo":\[\]\}$/, 'an idle network still gives a record');
});

t.test('graph records are byte-identical, values above 2^53 and 0.0 kept', async (t) => {
  const encode = recordEncoder({ mode: 'merge' });
  const lines = golden('2026_02_10_14-03-12_graphinfo.json');
  for (const line of lines) {
    const { ts, body } = goldenParts(line, 'merge');
    const out = encode(ts, validateBody(body, 'object')).toString('utf8');
    t.equal(out, `${line}\n`);
    t.ok(out.includes('14721744659231801344'), 'DPID above 2^63 kept verbatim');
  }
  // What a parse + stringify recorder would have written instead:
  t.not(JSON.stringify(JSON.parse(lines[0])), lines[0], 'the fixture really would be corrupted by re-serialising');
});

t.test('the kernel fixtures splice into valid records', async (t) => {
  const flow = readFileSync(path.join(FIXTURES, 'get_detected_flow_data.json'));
  const graph = readFileSync(path.join(FIXTURES, 'get_graph_data_testbed_u64_dpid.json'));
  const f = recordEncoder({ mode: 'wrap', key: 'flow_info' })(1770703392057, validateBody(flow, 'array')).toString();
  t.ok(f.startsWith('{"timestamp":1770703392057,"flow_info":[{'));
  t.equal(f.indexOf('\n'), f.length - 1, 'one line');
  t.equal(JSON.parse(f).flow_info.length, 64);
  const g = recordEncoder({ mode: 'merge' })(5, validateBody(graph, 'object')).toString();
  t.ok(g.startsWith('{"timestamp":5,"edges":['));
  t.ok(g.includes(graph.toString().slice(1)), 'body bytes spliced verbatim');
});

t.test('merge of an empty object gives only the timestamp', async (t) => {
  t.equal(recordEncoder({ mode: 'merge' })(7, Buffer.from('{}')).toString(), '{"timestamp":7}\n');
  t.equal(recordEncoder({ mode: 'merge' })(7, Buffer.from('{ }')).toString(), '{"timestamp":7}\n');
});

t.test('body validation', async (t) => {
  t.equal(validateBody(Buffer.from('\ufeff  [1,2]\r\n'), 'array').toString(), '[1,2]', 'BOM and whitespace trimmed');
  t.equal(validateBody(Buffer.from('{\n  "a": 1,\n  "b": [0.0, 18446744073709551615]\n}\n'), 'object').toString(), '{  "a": 1,  "b": [0.0, 18446744073709551615]}', 'pretty JSON kept on one line, values untouched');
  const reasons: Record<string, string> = {};
  const cases: [string, string, BodyKind][] = [
    ['empty', '   ', 'any'],
    ['truncated', '[{"a":1', 'array'],
    ['html', '<html>oops</html>', 'any'],
    ['object for array', '{"error":"x"}', 'array'],
    ['array for object', '[]', 'object'],
  ];
  for (const [name, body, kind] of cases) {
    try {
      validateBody(Buffer.from(body), kind);
      reasons[name] = 'accepted';
    } catch (err) {
      reasons[name] = (err as { reason: string }).reason;
    }
  }
  t.same(reasons, { empty: 'empty_body', truncated: 'invalid_json', html: 'invalid_json', 'object for array': 'unexpected_body', 'array for object': 'unexpected_body' });
});
