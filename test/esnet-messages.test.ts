// The ESnet Netbeam collector's messages, derived from nsr's netbeam records,
// compared byte for byte with what the original's own Python code
// (json.dumps of the interface plus its timestamp, of each point's dict) makes
// of the same Netbeam bodies: members, order, spacing, ints and floats, nulls.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { interfaceMessages, pointMessages } from '../src/sinks/amqp/esnet-messages.js';
import { pythonDumps } from '../src/json/python-dumps.js';
import { ROOT } from './helpers.js';

function python(script: string, input: string): string[] | undefined {
  try {
    return execFileSync('python3', ['-c', script], { input, encoding: 'utf8' }).split('\n').filter(Boolean);
  } catch (err) {
    if (process.env.CI) throw err;
    return undefined;
  }
}

const list = readFileSync(path.join(ROOT, 'fixtures', 'netbeam', 'interfaces.json'), 'utf8');
// Harder members than the fixture has: non-ASCII, escapes, an interface with its own timestamp, floats.
const extra = JSON.parse(list) as Record<string, unknown>[];
extra.push({ timestamp: 5, ...extra[0], resource: 'devices/zürich/interfaces/x', description: 'tab\there "q" \\ é 😀', speed: 1e10 });
const interfacesText = JSON.stringify(extra, null, 2).replace('"speed": 10000000000', '"speed": 1e10');

t.test('per-interface messages are what the original sent for each interface', async (t) => {
  const ts = 1764072300412;
  const line = Buffer.from(`{"timestamp":${ts},"interfaces":${interfacesText}}`);
  const { messages, malformed } = interfaceMessages(line);
  t.equal(malformed, 0);
  const expected = python(`import json,sys\nfor datum in json.load(sys.stdin):\n  datum['timestamp'] = ${ts}\n  print(json.dumps(datum))`, interfacesText);
  if (!expected) return t.skip('no python3 to compare with');
  t.equal(messages.length, expected.length);
  t.same(messages.map((m) => m.body.toString()), expected, 'byte for byte');
  t.ok(expected.at(-1)!.startsWith('{"timestamp": 1764072300412, '), 'an interface with its own timestamp keeps its place, as a Python dict does');
});

t.test('per-point messages are the original dicts, null points included', async (t) => {
  const points = '[[1764072000000, 38000000000.5, 25000000000.25], [1764072030000, null, null], [1764072060000, 0, 1], [1764072090000, 1e16, 1.5e-5], [1764072120000, 12345678901234567890, -0]]';
  const line = Buffer.from(`{"timestamp":1,"resource":"devices/chic-cr6/interfaces/2%2F1%2Fc1%2F1","series":"traffic","begin":0,"end":1,"name":"x","columns":["time","in","out"],"points":${points}}`);
  const { messages } = pointMessages(line);
  const expected = python(`import json,sys\nfor point in json.load(sys.stdin):\n  print(json.dumps({"name": "devices/chic-cr6/interfaces/2%2F1%2Fc1%2F1", "recordType": "traffic", "timestamp": point[0], "in": point[1], "out": point[2]}))`, points);
  if (!expected) return t.skip('no python3 to compare with');
  t.same(messages.map((m) => m.body.toString()), expected, 'byte for byte, one per point');
  const ids = python(`import json,sys,hashlib\nfor point in json.load(sys.stdin):\n  h = hashlib.sha1()\n  h.update(str("devices/chic-cr6/interfaces/2%2F1%2Fc1%2F1").encode()); h.update(str("traffic").encode()); h.update(str(point[0]).encode())\n  print(h.hexdigest())`, points);
  t.same(messages.map((m) => m.id), ids, "message ids are ps-ingest's _id of the point");
});

t.test('a malformed point is counted, not silently dropped', async (t) => {
  const line = Buffer.from('{"timestamp":1,"resource":"r","series":"errors","begin":0,"end":1,"points":[[1,0,0],[2],[3,1,1]]}');
  const { messages, malformed } = pointMessages(line);
  t.equal(messages.length, 2);
  t.equal(malformed, 1);
});

t.test('numbers as Python writes them back', async (t) => {
  const cases = ['1e10', '38000000000.0', '0.00001', '1e16', '1.5e-5', '123', '-0', '12345678901234567890', '0.1', '1E+2', '2.5e300', '1e-4', '9999999999999998.0', '-1.25e-7', '123456789012345.6'];
  const expected = python('import json,sys\nfor s in sys.stdin.read().split():\n  print(json.dumps(json.loads(s)))', cases.join('\n'));
  if (!expected) return t.skip('no python3 to compare with');
  t.same(cases.map((c) => pythonDumps(c)), expected);
});
