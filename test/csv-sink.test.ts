// The CSV sink's parts: paths, record → rows (RFC 4180, exact digits), the schema's errors,
// the row scanner, the sink's windows and events, recovery of a leftover .csv, and verify.
import t from 'tap';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseConfig } from '../src/config/loader.js';
import { ConfigError } from '../src/config/errors.js';
import { recoverDirectory } from '../src/compress/recovery.js';
import { writeSingleEntryZip } from '../src/compress/zip-writer.js';
import { encodeZipComment } from '../src/compress/zip-meta.js';
import { verifyDirectory } from '../src/archive/verify.js';
import { parsePath } from '../src/sinks/csv/csv-path.js';
import { compileLayout, quoteField, recordRows, type CsvSettings } from '../src/sinks/csv/csv-row.js';
import { CsvScanner } from '../src/sinks/csv/csv-scan.js';
import { CsvSink } from '../src/sinks/csv/csv-sink.js';
import type { SinkContext } from '../src/sinks/kind.js';
import type { ClosedWindow } from '../src/sinks/window-writer.js';
import { formatWindowTime, parseOutputFile, parseWindowName, windowStart } from '../src/sinks/window-naming.js';
import { sleep, tempDir } from './helpers.js';

const rowsOf = (settings: CsvSettings, line: string) => {
  const out = recordRows(compileLayout(settings), Buffer.from(line));
  return 'rejected' in out ? out : { rows: out.rows, text: out.text.toString('utf8') };
};
const field = (value: string) => quoteField(Buffer.from(value)).toString('utf8');

t.test('RFC 4180 quoting: comma, quote, LF and CR quote the field; inner quotes are doubled', async (t) => {
  t.equal(field('plain text'), 'plain text');
  t.equal(field('a,b'), '"a,b"');
  t.equal(field('say "hi"'), '"say ""hi"""');
  t.equal(field('two\nlines'), '"two\nlines"');
  t.equal(field('cr\rhere'), '"cr\rhere"');
  t.equal(field('"'), '""""');
  t.equal(field('é, ü'), '"é, ü"', 'UTF-8 bytes pass through');
});

t.test('values from the record bytes: exact digits, strings unescaped, null and missing empty, objects as compact JSON', async (t) => {
  const line = '{"timestamp":1770703392000,"flowinfo":[' +
    '{"dpid":14721744659231801344,"rate":0.0,"neg":-1.50e+3,"ok":true,"no":false,"nil":null,"name":"a,\\"b\\"\\nc","plain":"x y","empty":"","u":"\\u00e9","path":[{"node":1},{"node":14721744659231801351}],"obj":{ "k" : [1, 2],"s":"a b" }}' +
    ']}\n';
  const settings = { rows: 'flowinfo', columns: { ts: '$.timestamp', dpid: 'dpid', rate: 'rate', neg: 'neg', ok: 'ok', no: 'no', nil: 'nil', missing: 'absent.deeper', name: 'name', plain: 'plain', empty: 'empty', u: 'u', hop: 'path[1].node', last: 'path[-1].node', beyond: 'path[5].node', path: 'path', obj: 'obj' } };
  t.same(rowsOf(settings, line), {
    rows: 1,
    text: '1770703392000,14721744659231801344,0.0,-1.50e+3,true,false,,,"a,""b""\nc",x y,"",é,14721744659231801351,14721744659231801351,,' +
      '"[{""node"":1},{""node"":14721744659231801351}]","{""k"":[1,2],""s"":""a b""}"\r\n',
  });
  t.equal(compileLayout(settings).header.toString(), 'ts,dpid,rate,neg,ok,no,nil,missing,name,plain,empty,u,hop,last,beyond,path,obj\r\n');
  t.equal(compileLayout({ columns: { 'a,b': 'x', 'q"': 'y' } }).header.toString(), '"a,b","q"""\r\n', 'column names are quoted too');
});

t.test('rows: one per array element in order, $. reads the record root; without rows, one per record', async (t) => {
  const line = '{"timestamp":17,"flowinfo":[{"src":1,"path":[{"node":5}]},{"src":2},{"src":3,"path":[]}],"meta":{"site":"x"}}';
  const columns = { ts: '$.timestamp', site: '$.meta.site', src: 'src', first: 'path[0].node' };
  t.same(rowsOf({ rows: 'flowinfo', columns }, line), { rows: 3, text: '17,x,1,5\r\n17,x,2,\r\n17,x,3,\r\n' });
  t.same(rowsOf({ rows: '$.flowinfo', columns }, line), { rows: 3, text: '17,x,1,5\r\n17,x,2,\r\n17,x,3,\r\n' }, 'rows may say $. too');
  t.same(rowsOf({ columns: { ts: 'timestamp', n: 'flowinfo[1].src', all: '$.meta' } }, line), { rows: 1, text: '17,2,"{""site"":""x""}"\r\n' });
  t.same(rowsOf({ rows: 'flowinfo', columns }, '{"timestamp":18,"flowinfo":[]}'), { rows: 0, text: '' }, 'an empty list gives no rows');
  t.same(rowsOf({ rows: 'list', columns: { v: '@' } }, '{"list":["a",1,null]}'), { rows: 3, text: 'a\r\n1\r\n""\r\n' }, '@ is the row itself; a lone empty field is written "" so the row is not a blank line');
  t.same(rowsOf({ rows: 'a["b c"]', columns: { v: 'x' } }, '{"a":{"b c":[{"x":1}]}}'), { rows: 1, text: '1\r\n' }, 'quoted keys');
});

t.test('a rows path that is not an array is rejected with what was found', async (t) => {
  const settings = { rows: 'flowinfo', columns: { a: 'a' } };
  t.same(rowsOf(settings, '{"timestamp":1,"flowinfo":{"a":1}}'), { rejected: 'object' });
  t.same(rowsOf(settings, '{"timestamp":1,"flowinfo":null}'), { rejected: 'null' });
  t.same(rowsOf(settings, '{"timestamp":1}'), { rejected: 'missing' });
  t.same(rowsOf(settings, '{"timestamp":1,"flowinfo":"[1]"}'), { rejected: 'string' });
});

t.test('path syntax', async (t) => {
  const ok = (text: string) => {
    const p = parsePath(text);
    return 'path' in p ? [p.path.root, p.path.steps] : p.error;
  };
  t.same(ok('src_ip'), [false, ['src_ip']]);
  t.same(ok('path[0].node'), [false, ['path', 0, 'node']]);
  t.same(ok('path[-1].node'), [false, ['path', -1, 'node']]);
  t.same(ok('$.timestamp'), [true, ['timestamp']]);
  t.same(ok('$'), [true, []]);
  t.same(ok('@'), [false, []]);
  t.same(ok('[2]'), [false, [2]]);
  t.same(ok('["a.b"]["c\\"d"]'), [false, ['a.b', 'c"d']]);
  t.same(ok('1min.avg-rate'), [false, ['1min', 'avg-rate']]);
  for (const bad of ['', 'a.', 'a..b', 'a[x]', 'a[01]', 'a[0', '$x', '.a', 'a b', 'a["b]', '@.a']) t.type(ok(bad), 'string', `${JSON.stringify(bad)} is refused`);
  t.match(ok('path[x].node'), /at character 5 .*expected an index such as \[0\]/);
});

t.test('schema errors name the key, the value, what is expected and the fix', async (t) => {
  const errorOf = (csv: string) => {
    try {
      parseConfig(`streams:\n  flowinfo: {kind: ndtwin, data: flow, csv: ${csv}}\n`, 'test.yaml', {});
    } catch (err) {
      if (err instanceof ConfigError) return err.message;
      throw err;
    }
    return 'no error';
  };
  t.match(errorOf('{rows: flowinfo, columns: {dpid: "path[x].node"}}'), /streams\.flowinfo\.csv\.columns\.dpid: got "path\[x\]\.node" \(a string\); not a path \(at character 5 .*expected an index.*\); write a path such as src_ip, path\[0\]\.node/);
  t.match(errorOf('{rows: "flow info", columns: {a: b}}'), /streams\.flowinfo\.csv\.rows: got "flow info".*not a path/);
  t.match(errorOf('{columns: {}}'), /streams\.flowinfo\.csv\.columns: .*no columns; add at least one, e\.g\. timestamp: \$\.timestamp/);
  t.match(errorOf('{rows: flowinfo}'), /streams\.flowinfo\.csv\.columns: missing; expected a mapping of column name → path/);
  t.match(errorOf('{columns: {"1": a}}'), /streams\.flowinfo\.csv\.columns\.1: a column name that is a whole number .*give it a name such as col_1/);
  t.match(errorOf('{columns: {a: 3}}'), /streams\.flowinfo\.csv\.columns\.a: got 3 \(a number\); expected a path/);
  t.match(errorOf('{columns: {a: b}, rowz: c}'), /streams\.flowinfo\.csv: unknown key "rowz"/);
  const { streams } = parseConfig(`streams:\n  flowinfo: {kind: ndtwin, data: flow, csv: {rows: flowinfo, columns: {ts: $.timestamp, dpid: "path[1].node"}}}\n`, 'x', {});
  t.same(streams[0].options.csv, { rows: 'flowinfo', columns: { ts: '$.timestamp', dpid: 'path[1].node' } });
  t.same(Object.keys(parseConfig(`streams:\n  f: {kind: ndtwin, data: flow, csv: {columns: {z: a, b: b, m: c}}}\n`, 'x', {}).streams[0].options.csv.columns as object), ['z', 'b', 'm'], 'columns keep their order');
});

t.test('the row scanner: quoted line breaks, field counts, a torn tail, syntax problems', async (t) => {
  const counts: number[] = [];
  const s = new CsvScanner((fields) => counts.push(fields));
  const text = Buffer.from('a,b,c\r\n1,"x\r\ny",3\r\n"",,"q""q"\r\n4,"torn\n');
  // fed one byte at a time: state carries across chunks
  for (const b of text) s.feed(Buffer.from([b]));
  t.same(counts, [3, 3, 3]);
  t.equal(s.rows, 3);
  t.equal(s.rowEnd, text.indexOf('4,"torn'));
  t.equal(s.tornBytes, 8);
  t.equal(s.problem, undefined);
  for (const [bad, problem] of [['a"b\r\n', /quote inside a field/], ['"a"b\r\n', /text after the closing quote/], ['a\rb\r\n', /CR that is not followed by LF/]] as const) {
    const x = new CsvScanner();
    x.feed(Buffer.from(bad));
    t.match(x.problem, problem, JSON.stringify(bad));
  }
});

/** A CsvSink on a temp directory with a clock the test moves. */
function sinkFixture(t: Tap.Test) {
  const dir = tempDir(t);
  const clock = { now: 1_770_703_200_000 }; // a 10 s window boundary
  const compressed: ClosedWindow[] = [];
  const events: { event: string; fields: Record<string, unknown> }[] = [];
  const ctx: SinkContext = {
    dir,
    connections: {},
    note: (event, fields) => events.push({ event, fields }),
    compress: (w) => compressed.push(w),
    now: () => clock.now,
    output: { maxWindowBytes: 1 << 20, fsync: 'interval', fsyncIntervalMs: 1000 },
  };
  const sink = new CsvSink(ctx);
  return { dir, clock, compressed, events, sink };
}

const flowLine = (ts: number, srcs: (number | string)[]) => Buffer.from(`{"timestamp":${ts},"flowinfo":[${srcs.map((s) => `{"src":${JSON.stringify(s)},"path":[{"node":1},{"node":14721744659231801344}]}`).join(',')}]}\n`);
const SETTINGS = { rows: 'flowinfo', columns: { ts: '$.timestamp', src: 'src', dpid: 'path[1].node' } };

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

t.test('the sink: clock-aligned windows, header first, rotation by record time, a quiet window closed on time', async (t) => {
  const { dir, clock, compressed, sink } = sinkFixture(t);
  const t0 = clock.now;
  sink.addStream({ stream: 'flowinfo', kind: 'ndtwin', windowMs: 10_000, settings: SETTINGS });
  sink.offer('flowinfo', t0 + 1000, flowLine(t0 + 1000, [1, 2]));
  sink.offer('flowinfo', t0 + 2000, flowLine(t0 + 2000, ['a,b']));
  sink.offer('flowinfo', t0 + 11_000, flowLine(t0 + 11_000, [3])); // the next window
  await until('the first window to close', () => compressed.length === 1);
  const first = compressed[0];
  t.match(first, { stream: 'flowinfo', ext: 'csv', records: 3, first: t0 + 1000, last: t0 + 2000, base: `${formatWindowTime(windowStart(t0, 10_000))}_flowinfo` });
  t.equal(path.basename(first.jsonPath), `${first.base}.csv`);
  const text = readFileSync(first.jsonPath, 'utf8');
  t.equal(text, `ts,src,dpid\r\n${t0 + 1000},1,14721744659231801344\r\n${t0 + 1000},2,14721744659231801344\r\n${t0 + 2000},"a,b",14721744659231801344\r\n`);
  t.equal(first.bytes, Buffer.byteLength(text), 'bytes count the header');
  // Nothing more comes: the clock passing the window end (plus the slack) closes it.
  await sleep(700);
  t.equal(compressed.length, 1, 'still open before its end');
  clock.now = t0 + 21_500;
  await until('the quiet window to close', () => compressed.length === 2);
  t.match(compressed[1], { records: 1, first: t0 + 11_000 });
  t.ok(readFileSync(compressed[1].jsonPath, 'utf8').startsWith('ts,src,dpid\r\n'), 'every file starts with the header');
  t.same(await sink.close(Date.now() + 5000), { unwritten: 0 });
  t.equal(compressed.length, 2, 'nothing left open');
  t.same(readdirSync(dir).sort(), compressed.map((w) => path.basename(w.jsonPath)).sort());
});

t.test('the sink: close writes what waits and closes the open window; removeStream closes that stream only', async (t) => {
  const { clock, compressed, sink } = sinkFixture(t);
  const t0 = clock.now;
  sink.addStream({ stream: 'a', kind: 'ndtwin', windowMs: 60_000, settings: SETTINGS });
  sink.addStream({ stream: 'b', kind: 'ndtwin', windowMs: 60_000, settings: SETTINGS });
  for (let i = 0; i < 50; i++) {
    sink.offer('a', t0 + i, flowLine(t0 + i, [i]));
    sink.offer('b', t0 + i, flowLine(t0 + i, [i, i]));
  }
  await sink.removeStream('b');
  t.same(compressed.map((w) => [w.stream, w.records]), [['b', 100]], 'the removed stream is closed and handed to compression');
  sink.offer('b', t0 + 99, flowLine(t0 + 99, [1])); // no longer fed: ignored
  t.same(await sink.close(Date.now() + 5000), { unwritten: 0 });
  t.same(compressed.map((w) => [w.stream, w.records]), [['b', 100], ['a', 50]]);
  const rows = readFileSync(compressed[1].jsonPath, 'utf8').split('\r\n').slice(1, -1);
  t.same(rows.map((r) => Number(r.split(',')[1])), [...Array(50).keys()], 'in the order offered');
});

t.test('the sink: records whose rows path is no array are counted and reported, never silently', async (t) => {
  const { clock, compressed, events, sink } = sinkFixture(t);
  const t0 = clock.now;
  sink.addStream({ stream: 'flowinfo', kind: 'ndtwin', windowMs: 60_000, settings: SETTINGS });
  sink.offer('flowinfo', t0 + 1, Buffer.from(`{"timestamp":${t0 + 1},"flowinfo":{"error":"busy"}}\n`));
  sink.offer('flowinfo', t0 + 2, flowLine(t0 + 2, [7]));
  sink.offer('flowinfo', t0 + 3, Buffer.from(`{"timestamp":${t0 + 3},"flowinfo":null}\n`));
  sink.offer('flowinfo', t0 + 4, Buffer.from(`{"timestamp":${t0 + 4}}\n`));
  await until('the first rejection event', () => events.length >= 1);
  t.match(events[0], { event: 'csv_rejected', fields: { stream: 'flowinfo', rows: 'flowinfo', found: 'object', records: 1, total: 1 } });
  await sink.close(Date.now() + 5000);
  const rejected = events.filter((e) => e.event === 'csv_rejected');
  t.equal(rejected.length, 2, 'later ones together');
  t.match(rejected[1], { fields: { records: 2, total: 3, found: 'missing' } });
  t.equal(rejected.reduce((n, e) => n + (e.fields.records as number), 0), 3, 'every rejected record is counted once');
  t.match(compressed, [{ records: 1 }], 'the good record has its row');
});

t.test('CSV window names: recovery and verify see them, the NDJSON tools do not', async (t) => {
  t.same(parseOutputFile('2026_02_10_14-00-00_flowinfo_csv.zip'), { base: '2026_02_10_14-00-00_flowinfo', time: '2026_02_10_14-00-00', stream: 'flowinfo', type: 'zip', ext: 'csv' });
  t.match(parseOutputFile('2026_02_10_14-00-00_flow_csv.csv'), { stream: 'flow_csv', type: 'json', ext: 'csv' }, 'the open file, whatever its extension');
  t.match(parseOutputFile('2026_02_10_14-00-00_flowinfo_csv.zip.tmp'), { type: 'tmp', ext: 'csv' });
  t.match(parseOutputFile('2026_02_10_14-00-00_flowinfo_json.zip'), { type: 'zip', ext: 'json', stream: 'flowinfo' });
  t.equal(parseOutputFile('2026_02_10_14-00-00_flowinfo.tsv'), undefined);
  t.equal(parseWindowName('2026_02_10_14-00-00_flowinfo_csv.zip'), undefined, 'ls, cat, stats read NDJSON only');
  t.equal(parseWindowName('2026_02_10_14-00-00_flowinfo.csv'), undefined);
});

t.test('recovery: a leftover .csv is cut at its last complete row and handed back as a csv window', async (t) => {
  const dir = tempDir(t);
  const header = 'ts,src,note\r\n';
  const rows = '1,a,"line\r\nbreak"\r\n2,b,x\r\n';
  const torn = path.join(dir, '2026_02_10_14-00-00_flowinfo.csv');
  writeFileSync(torn, header + rows + '3,c,"never closed');
  writeFileSync(path.join(dir, '2026_02_10_14-10-00_flowinfo.csv'), 'ts,src'); // the header itself torn: nothing to keep
  writeFileSync(path.join(dir, '2026_02_10_14-20-00_flowinfo.csv'), header); // a header and no row
  writeFileSync(path.join(dir, '2026_02_10_14-30-00_flowinfo_csv.zip.tmp'), 'partial');
  const { actions, windows } = await recoverDirectory(dir);
  t.same(actions.map((a) => a.action).sort(), ['cut_torn_line', 'cut_torn_line', 'removed_temporary']);
  t.match(actions.find((a) => a.action === 'cut_torn_line' && a.file === '2026_02_10_14-00-00_flowinfo.csv'), { bytes: '3,c,"never closed'.length });
  t.equal(readFileSync(torn, 'utf8'), header + rows, 'cut at the last complete row (a quoted line break is no row end)');
  t.equal(windows.length, 1);
  t.match(windows[0], { base: '2026_02_10_14-00-00_flowinfo', ext: 'csv', stream: 'flowinfo', records: 2, bytes: Buffer.byteLength(header + rows) });
  t.ok(windows[0].first <= windows[0].last);
  t.same(readdirSync(dir), ['2026_02_10_14-00-00_flowinfo.csv'], 'empty leftovers and the temporary are gone');
});

t.test('verify checks _csv.zip files: entry, CRC, header and field counts, metadata', async (t) => {
  const dir = tempDir(t);
  const zip = async (base: string, text: string, meta: { records: number; bytes?: number }) => {
    const src = path.join(dir, `${base}.src`);
    writeFileSync(src, text);
    await writeSingleEntryZip({ source: src, target: path.join(dir, `${base}_csv.zip`), entryName: `${base}.csv`, level: 4, comment: encodeZipComment({ stream: 'flowinfo', records: meta.records, first: 1, last: 2, bytes: meta.bytes ?? Buffer.byteLength(text) }), mtime: new Date() });
    (await import('node:fs')).rmSync(src);
  };
  await zip('2026_02_10_14-00-00_flowinfo', 'a,b\r\n1,"x\r\ny"\r\n2,3\r\n', { records: 2 });
  let report = await verifyDirectory(dir);
  t.same(report.problems, []);
  t.equal(report.windows, 1);
  t.equal(report.records, 2);
  await zip('2026_02_10_14-10-00_flowinfo', 'a,b\r\n1\r\n2,3\r\n', { records: 3 });
  report = await verifyDirectory(dir);
  t.same(report.problems.map((p) => p.problem), ['row 2: 1 fields, the header has 2', 'metadata says records 3, the data has 2 rows after the header']);
  // a flipped byte in the deflated data: the CRC (or the inflate) catches it
  const bad = path.join(dir, '2026_02_10_14-10-00_flowinfo_csv.zip');
  const bytes = readFileSync(bad);
  bytes[30 + '2026_02_10_14-10-00_flowinfo.csv'.length + 2] ^= 0xff; // past the local header and the entry name
  writeFileSync(bad, bytes);
  report = await verifyDirectory(dir);
  t.ok(report.problems.some((p) => p.file.endsWith('14-10-00_flowinfo_csv.zip') && /corrupt|unreadable/.test(p.problem)), JSON.stringify(report.problems));
  // an open .csv with a torn row is reported like a torn .json
  writeFileSync(path.join(dir, '2026_02_10_14-20-00_flowinfo.csv'), 'a,b\r\n1,2\r\n3,"');
  report = await verifyDirectory(dir);
  t.ok(report.problems.some((p) => p.file.endsWith('.csv') && /no line end/.test(p.problem)));
  t.ok(existsSync(path.join(dir, '2026_02_10_14-00-00_flowinfo_csv.zip')));
});
