// A DAC user's urls_small.csv, as README's "Coming from DAC" says to use it: the
// targets_file of a probe stream in nsr's YAML, recognised by its url_id header
// (no targets_format needed), with dac_stats writing DAC's stats rows. bin/nsr
// runs against loopback targets; each row must be probed at its own interval,
// under its url_id, with its regex, and a malformed row reported by its line.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { ProbeSimulator } from '../src/simulate/probe-simulator.js';
import { dacSchemaSql } from '../src/sinks/dac/dac-schema.js';
import { pgSchema, readArchives, readEvents, startNsr, tempDir } from './helpers.js';

t.test("urls_small.csv as a probe stream's targets_file: DAC's stats rows at each row's interval, a bad line reported by number", async (t) => {
  const pg = await pgSchema(t);
  if (!pg) return;
  const schema = /search_path%3D(\w+)/.exec(pg.url)![1];
  await pg.query(dacSchemaSql(schema));
  const dir = tempDir(t);
  const sim = new ProbeSimulator();
  const { url } = await sim.start();
  t.teardown(() => sim.stop());
  // DAC's export: every field quoted; a regex with a comma inside its quotes; a
  // blank line and a quoted field over two lines before the bad row, so that its
  // line in the file is not its row number plus one.
  writeFileSync(
    path.join(dir, 'urls_small.csv'),
    [
      '"url_id","url","interval","regex"',
      `"1","${url}/p/one?body=v1-v2-v3","1","v(\\d)"`,
      '',
      `"2","${url}/p/two?body=ab-abb-a","2","b{1,2}"`,
      `"3","${url}/p/three","1","never
here"`,
      `"4","${url}/p/four","2.5",""`,
      '',
    ].join('\n'),
  );
  writeFileSync(path.join(dir, 'r.yaml'), `postgres: {url: "${pg.url}", flush_interval: 200ms}\nstreams:\n  urls: {kind: probe, targets_file: urls_small.csv, dac_stats: ${schema}.stats}\n`);

  const nsr = startNsr(dir, ['run', '-c', 'r.yaml', '--for', '6500ms']);
  t.equal((await nsr.exit).code, 0, 'nsr runs its 6.5 s and stops cleanly', { output: nsr.output().slice(-2000) });

  const rows = await pg.query(`SELECT url_id, status, extract(epoch FROM request_ts)::float8 AS req, regex_mach FROM ${schema}.stats ORDER BY url_id, request_ts`);
  const of = (id: number) => rows.filter((r) => r.url_id === id);
  t.same([...new Set(rows.map((r) => r.url_id))], [1, 2, 3], 'the three good rows, by their url_id; the bad one left out');
  t.same([...new Set(of(1).map((r) => `${r.status} ${r.regex_mach}`))], ['200 1 2 3'], "one group: the group's text of every match, joined by single spaces");
  t.same([...new Set(of(2).map((r) => `${r.status} ${r.regex_mach}`))], ['200 b bb'], 'the quoted regex with a comma kept whole (b{1,2}), its matches joined by single spaces');
  t.same([...new Set(of(3).map((r) => r.regex_mach))], [''], "a regex that finds nothing: '' as DAC");
  for (const [id, every] of [[1, 1], [2, 2], [3, 1]]) {
    const req = of(id).map((r) => r.req);
    const steps = req.slice(1).map((v, i) => v - req[i]);
    t.ok(req.length >= (every === 1 ? 4 : 2), `url_id ${id}: probed ${req.length} times in 6.5 s`);
    t.ok(steps.every((s) => s > 0 && s % every === 0), `url_id ${id}: request_ts every ${every} s on its grid (${steps.join(', ')})`);
  }

  const records = (await readArchives(path.join(dir, 'recorded_info'), 'urls')).flatMap((w) => w.lines.map((l) => JSON.parse(l)));
  const two = records.filter((r) => r.target === '2');
  t.ok(two.length >= 2, 'the probe records name the target by its url_id');
  t.same(two[0].matches, ['b', 'bb'], 'and carry the matches of its regex');
  const spacing = two.slice(1).map((r, i) => r.scheduled_at - two[i].scheduled_at);
  t.ok(spacing.every((s) => s === 2000), `url_id 2 scheduled every 2000 ms (${spacing.join(', ')})`);

  const rejected = (await readEvents(path.join(dir, 'recorded_info'))).filter((e) => e.event === 'targets_rejected');
  t.equal(rejected.length, 1, 'one targets_rejected event (the file is read again every refresh, reported once)');
  t.match(rejected[0]?.problems, [/^urls_small\.csv:7: 4: interval: got "2\.5"; expected whole seconds, at least 1/], 'it names the file, the line of the bad row (7), its url_id, the value and what is expected');
});
