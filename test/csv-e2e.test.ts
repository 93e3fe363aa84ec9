// End to end: bin/nsr run with a `csv:` stream against the simulator (uint64 DPIDs in the flow
// paths); the CSV rows read back match the NDJSON records field by field, in order; the
// _csv.zip files pass `nsr verify`; a SIGKILL leaves a .csv that the next start recovers.
import t from 'tap';
import { appendFileSync, readdirSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { readZipInfo, zipEntryChunks } from '../src/archive/zip-reader.js';
import { NSR, readArchives, readEvents, simulatorWithConfig, sleep, startNsr, tempDir } from './helpers.js';

const COLUMNS = {
  timestamp: '$.timestamp',
  seq: 'sim_seq', // only the first flow of a body has it: empty in the others
  src_ip: 'src_ip',
  dpid: 'path[1].node', // a switch: uint64 above 2^53
  last_hop: 'path[-1].node',
  first_sampled: 'first_sampled_time',
  path: 'path', // an array: compact JSON
  none: 'path[9].node', // missing: empty
};
const HEADER = Object.keys(COLUMNS).join(',');

function config(url: string, window: string, interval: string): string {
  const columns = Object.entries(COLUMNS).map(([k, v]) => `        ${k}: "${v}"`).join('\n');
  return `output: {dir: out, window: ${window}}\nshutdown: {grace: 1s, deadline: 20s}\nstreams:\n  flowinfo:\n    kind: ndtwin\n    kernel: "${url}"\n    data: flow\n    interval: ${interval}\n    csv:\n      rows: flowinfo\n      columns:\n${columns}\n`;
}

/** RFC 4180, read independently of the sink's own scanner: rows of fields. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let i = 0;
  for (;;) {
    let value = '';
    if (text[i] === '"') {
      for (i++; ; i++) {
        if (i >= text.length) throw new Error('unterminated quoted field');
        if (text[i] === '"') {
          if (text[i + 1] === '"') i++;
          else break;
        }
        value += text[i];
      }
      i++;
    } else {
      while (i < text.length && text[i] !== ',' && text[i] !== '\r' && text[i] !== '\n') value += text[i++];
    }
    row.push(value);
    if (text[i] === ',') {
      i++;
      continue;
    }
    if (text.startsWith('\r\n', i)) i += 2;
    else if (i < text.length) throw new Error(`bad row end at ${i}: ${JSON.stringify(text.slice(i, i + 10))}`);
    rows.push(row);
    row = [];
    if (i >= text.length) return rows;
  }
}

/** JSON with every number kept as its text (a test-side reading that cannot round 14721744659231801344). */
const parseExact = (json: string) => JSON.parse(json.replace(/([:[,])(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(?=[,\]}])/g, '$1"$2"'));

const text = (v: unknown) => (v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));

/** The rows a record should give, computed from its NDJSON line without the sink's code. */
function expectedRows(line: string): string[][] {
  const record = parseExact(line);
  return (record.flowinfo as any[]).map((f) => [record.timestamp, f.sim_seq, f.src_ip, f.path?.[1]?.node, f.path?.[f.path.length - 1]?.node, f.first_sampled_time, f.path, undefined].map(text));
}

/** A CSV row's fields read back the same way (the path column's JSON with numbers as text). */
const comparable = (row: string[]) => row.map((v, i) => (i === 6 ? JSON.stringify(parseExact(v)) : v));

async function csvZips(out: string): Promise<{ file: string; text: string; records: number | undefined; entries: string[] }[]> {
  const files = readdirSync(out).filter((f) => f.endsWith('_flowinfo_csv.zip')).sort();
  const zips = [];
  for (const file of files) {
    const chunks: Buffer[] = [];
    for await (const c of zipEntryChunks(path.join(out, file))) chunks.push(c); // throws on a CRC mismatch
    const info = await readZipInfo(path.join(out, file));
    zips.push({ file, text: Buffer.concat(chunks).toString('utf8'), records: info.meta?.records, entries: info.entries.map((e) => e.name) });
  }
  return zips;
}

const verify = (out: string) => spawnSync(process.execPath, [NSR, 'verify', out], { encoding: 'utf8' });

async function until(what: string, cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

t.test('csv: every NDJSON record gives exactly its CSV rows, in order; DPIDs exact; the zips verify', async (t) => {
  const dir = tempDir(t);
  // Testbed DPIDs (above 2^63): the CSV must write them digit for digit.
  await simulatorWithConfig(t, dir, (url) => config(url, '2s', '500ms'), { dpids: 'testbed' });
  const nsr = startNsr(dir, ['run', '-c', 'r.yaml', '--for', '5s']);
  const { code } = await nsr.exit;
  t.equal(code, 0, `exit 0 (${nsr.output().slice(-500)})`);
  const out = path.join(dir, 'out');
  t.same(readdirSync(out).filter((f) => f.endsWith('.csv') || f.endsWith('.json') || f.endsWith('.tmp')), [], 'every window closed and zipped');

  const records = (await readArchives(out, 'flowinfo')).flatMap((w) => w.lines);
  const zips = await csvZips(out);
  t.ok(zips.length >= 2, `several CSV windows (${zips.length})`);
  const jsonBases = new Set(readdirSync(out).filter((f) => f.endsWith('_flowinfo_json.zip')).map((f) => f.replace(/_json\.zip$/, '')));
  const rows: string[][] = [];
  for (const z of zips) {
    const base = z.file.replace(/_csv\.zip$/, '');
    t.same(z.entries, [`${base}.csv`], `${z.file}: one entry named like its window`);
    t.ok(jsonBases.has(base), `${z.file}: the same window as an NDJSON one`);
    t.ok(z.text.startsWith(`${HEADER}\r\n`), `${z.file}: starts with the header`);
    const [header, ...body] = parseCsv(z.text);
    t.same(header, Object.keys(COLUMNS));
    t.equal(z.records, body.length, `${z.file}: the metadata counts its rows`);
    rows.push(...body);
  }
  const expected = records.flatMap(expectedRows);
  t.ok(records.length >= 6 && expected.length > records.length, `${records.length} records, ${expected.length} rows`);
  t.equal(rows.length, expected.length, 'as many rows as the records hold flows');
  t.same(rows.map(comparable), expected.map(comparable), 'the same records, in the same order, field by field');
  const dpids = rows.map((r) => r[3]).filter((d) => d !== '');
  t.ok(dpids.length > 0 && dpids.every((d) => /^\d+$/.test(d) && BigInt(d) > 2n ** 53n), 'DPIDs above 2^53');
  t.ok(dpids.includes('14721744659231801348'), 'written as their exact digits');
  t.ok(rows.some((r) => r[1] !== '') && rows.some((r) => r[1] === ''), 'a missing member is an empty field');

  const v = verify(out);
  t.equal(v.status, 0, `nsr verify passes: ${v.stdout}${v.stderr}`);
  t.match(v.stdout, /all good/);
  const ls = spawnSync(process.execPath, [NSR, 'ls', out, '--json'], { encoding: 'utf8' });
  t.equal(ls.status, 0, ls.stderr);
  t.same(JSON.parse(ls.stdout).streams.map((s: { stream: string }) => s.stream), ['events', 'flowinfo'], 'ls lists the NDJSON streams, the CSV files do not disturb it');
});

t.test('csv: a SIGKILL leaves a .csv; the next start cuts a torn row, zips it to _csv.zip, and it verifies', async (t) => {
  const dir = tempDir(t);
  await simulatorWithConfig(t, dir, (url) => config(url, '1h', '300ms')); // one long window: the kill finds it open
  const out = path.join(dir, 'out');
  const first = startNsr(dir, ['run', '-c', 'r.yaml']);
  const openCsv = () => (readdirSync(out, { withFileTypes: true }).find((e) => e.name.endsWith('_flowinfo.csv'))?.name);
  // The rows of at least three records (told apart by their timestamp column) are in the open .csv.
  await until('a .csv with the rows of a few records', () => {
    try {
      const f = openCsv();
      return !!f && new Set(readFileSync(path.join(out, f), 'utf8').split('\r\n').slice(1, -1).map((l) => l.split(',')[0])).size >= 3;
    } catch {
      return false;
    }
  });
  process.kill(first.pid, 'SIGKILL');
  t.equal((await first.exit).signal, 'SIGKILL');
  const leftover = openCsv()!;
  t.ok(leftover, 'the open .csv is left behind');
  const torn = '1234,,5,"a torn row'; // as if the kill came in the middle of a write
  appendFileSync(path.join(out, leftover), torn);

  const second = startNsr(dir, ['run', '-c', 'r.yaml', '--for', '2s']);
  t.equal((await second.exit).code, 0, second.output().slice(-500));
  t.same(readdirSync(out).filter((f) => f.endsWith('.csv') || f.endsWith('.json') || f.endsWith('.tmp')), [], 'no window file left');
  const recoveredZip = leftover.replace(/\.csv$/, '_csv.zip');
  t.ok(readdirSync(out).includes(recoveredZip), `${recoveredZip} made from the leftover`);
  const events = await readEvents(out);
  t.ok(events.some((e) => e.event === 'recovery' && e.action === 'cut_torn_line' && e.file === leftover && e.bytes === Buffer.byteLength(torn)), 'the torn row is cut and reported');
  t.ok(events.some((e) => e.event === 'recovery' && e.action === 'compress_leftover' && e.file === leftover), 'the leftover is compressed');

  const zips = await csvZips(out);
  const recovered = zips.find((z) => z.file === recoveredZip)!;
  t.notOk(recovered.text.includes('a torn row'));
  const [, ...rows] = parseCsv(recovered.text);
  t.equal(recovered.records, rows.length, 'its metadata counts its rows');
  // Each record's rows are all there, as its NDJSON line says (the rows of the last records before the kill may be missing, never partial or wrong).
  const records = (await readArchives(out, 'flowinfo')).flatMap((w) => w.lines);
  const byTs = new Map(records.map((l) => [String(parseExact(l).timestamp), l]));
  const groups = new Map<string, string[][]>();
  for (const r of rows) groups.set(r[0], [...(groups.get(r[0]) ?? []), r]);
  t.ok(groups.size >= 3, `rows of several records (${groups.size})`);
  for (const [ts, group] of groups) {
    t.ok(byTs.has(ts), `record ${ts} is in the NDJSON windows`);
    t.same(group.map(comparable), expectedRows(byTs.get(ts)!).map(comparable), `record ${ts}: its rows, field by field`);
  }
  const v = verify(out);
  t.equal(v.status, 0, `nsr verify passes: ${v.stdout}${v.stderr}`);
});
