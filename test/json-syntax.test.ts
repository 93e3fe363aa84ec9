// The allocation-free JSON check must accept and reject exactly what JSON.parse does.
import t from 'tap';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { jsonSyntaxError } from '../src/json/json-syntax.js';
import { checkJson, OFF_THREAD_BYTES } from '../src/json/json-check.js';
import { FIXTURES } from './helpers.js';

const parses = (s: string) => {
  try {
    JSON.parse(s);
    return true;
  } catch {
    return false;
  }
};
const agrees = (s: string) => (jsonSyntaxError(Buffer.from(s)) === undefined) === parses(s);

t.test('agrees with JSON.parse on hand-picked cases', async (t) => {
  const cases = [
    '0', '-0', '1.5e10', '1E+2', '-1.0e-3', '01', '1.', '.5', '-', '1e', '+1', '0x10', 'NaN', 'Infinity',
    '"a"', '"\\u00e9\\n\\t\\"\\\\\\/"', '"\\x"', '"\\u12"', '"a\tb"', '"unterminated', '\'single\'',
    'true', 'false', 'null', 'tru', 'nul', 'True',
    '[]', '{}', '[1,2,]', '{"a":1,}', '{"a" 1}', '{a:1}', '[1 2]', '{"a":1}}', '[[[]]]', '[', '{"a":[{"b":null}]}',
    ' \n\t[1]\r\n ', '', '   ', '[1]x', '[1][2]', '{"a":1,"a":2}', '18446744073709551615', '[0.0,14721744659231801344]',
  ];
  for (const c of cases) t.ok(agrees(c), JSON.stringify(c));
});

t.test('agrees with JSON.parse on every truncation and many corruptions of real bodies', async (t) => {
  const flow = readFileSync(path.join(FIXTURES, 'get_detected_flow_data.json'), 'utf8').slice(0, 3000);
  const text = `${flow.slice(0, flow.lastIndexOf('},{') + 1)}]`;
  t.ok(parses(text), 'the sample is valid');
  let disagreements = 0;
  for (let cut = 0; cut < text.length; cut++) if (!agrees(text.slice(0, cut))) disagreements++;
  let seed = 7;
  const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  const alphabet = '{}[],:"\\0123456789.-+eE tfnul\n';
  for (let k = 0; k < 3000; k++) {
    const at = Math.floor(random() * text.length);
    const mutated = text.slice(0, at) + alphabet[Math.floor(random() * alphabet.length)] + text.slice(at + 1);
    if (!agrees(mutated)) disagreements++;
  }
  t.equal(disagreements, 0);
  for (const f of ['get_graph_data.json', 'get_graph_data_testbed_u64_dpid.json', 'get_switch_openflow_table_entries.json', 'get_power_report.json']) {
    t.equal(jsonSyntaxError(readFileSync(path.join(FIXTURES, f))), undefined, f);
  }
});

t.test('large bodies are checked off the event loop and come back intact', async (t) => {
  const flow = readFileSync(path.join(FIXTURES, 'get_detected_flow_data.json'), 'utf8');
  const big = Buffer.from(`[${Array(Math.ceil((2 * OFF_THREAD_BYTES) / flow.length)).fill(flow.slice(1, -1)).join(',')}]`);
  const copy = Buffer.from(big);
  const ok = await checkJson(big);
  t.equal(ok.error, undefined);
  t.ok(ok.body.equals(copy), 'the bytes travel to the thread and back unchanged');
  const broken = await checkJson(copy.subarray(0, copy.length - 1));
  t.match(broken.error, /unexpected end of data/);
});
