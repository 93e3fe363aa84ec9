// End to end: bin/nsr run as a real process against the simulator, stopped by real signals.
import t from 'tap';
import { readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { NdtwinSimulator } from '../src/simulate/ndtwin-simulator.js';
import { readArchives, readEvents, seqOf, sleep, startNsr, tempDir, untilRecording } from './helpers.js';

function writeConfig(dir: string, kernel: string, extra = ''): string {
  const file = path.join(dir, 'recorder.yaml');
  writeFileSync(
    file,
    `output:\n  dir: out\n  window: 3s\nlog:\n  level: info\nshutdown:\n  grace: 1s\n  deadline: 20s\nstreams:\n  flowinfo: {kind: ndtwin, kernel: "${kernel}", data: flow, interval: 1s}\n  graphinfo: {kind: ndtwin, kernel: "${kernel}", data: graph, interval: 1s}\n${extra}`,
  );
  return file;
}


// Windows are deflated by gzip children by default; `node` keeps nsr's own
// zip worker, and a program that cannot be run falls back to that worker.
const COMPRESSION = [
  ['gzip, the default', ''],
  ['nsr\'s own worker', 'compression: {program: node}\n'],
  ['a gzip that is not there', 'compression: {program: /nonexistent/gzip}\n'],
] as const;

for (const [compression, setting] of COMPRESSION) t.test(`records flow and graph windows and stops cleanly on SIGTERM with nothing lost (compression: ${compression})`, async (t) => {
  const dir = tempDir(t);
  // Testbed DPIDs: uint64 values above 2^53 that the records must keep exact.
  const sim = new NdtwinSimulator({ port: 0, dpids: 'testbed' });
  const { url } = await sim.start();
  t.teardown(() => sim.stop());
  const config = writeConfig(dir, url, setting);
  const nsr = startNsr(dir, ['run', '-c', config]);
  await untilRecording(path.join(dir, 'out'), 'flowinfo');
  await sleep(9500); // several 3 s windows rotate while running
  process.kill(nsr.pid, 'SIGTERM');
  const { code } = await nsr.exit;
  t.equal(code, 0, `exit code 0 (stderr: ${nsr.output().slice(-500)})`);

  const out = path.join(dir, 'out');
  const files = readdirSync(out).filter((f) => !f.startsWith('.'));
  t.same(files.filter((f) => !f.endsWith('_json.zip')), [], 'no .json or temporary left');
  const served = sim.served();
  for (const [stream, endpoint, key] of [
    ['flowinfo', '/ndt/get_detected_flow_data', '"flowinfo":['],
    ['graphinfo', '/ndt/get_graph_data', '"edges":['],
  ] as const) {
    const windows = await readArchives(out, stream);
    t.ok(windows.length >= 3, `${stream}: several windows rotated (${windows.length})`);
    const seqs: number[] = [];
    let lastTs = 0;
    let backwards = 0;
    for (const w of windows) {
      t.same(w.entries, [w.file.replace('_json.zip', '.json')], `${w.file}: one entry named like its .json`);
      t.match(w.file, /^\d{4}_\d{2}_\d{2}_\d{2}-\d{2}-\d{2}_(flowinfo|graphinfo)_json\.zip$/);
      t.equal(w.meta?.records, w.lines.length, `${w.file}: metadata counts its records`);
      for (const line of w.lines) {
        t.ok(line.startsWith('{"timestamp":') && line.includes(key), undefined, { diagnostic: false });
        const ts = Number(/^\{"timestamp":(\d+)/.exec(line)![1]);
        if (ts < lastTs) backwards++;
        lastTs = ts;
        seqs.push(seqOf(line));
      }
      t.equal(w.meta?.first, Number(/^\{"timestamp":(\d+)/.exec(w.lines[0])![1]));
    }
    t.equal(backwards, 0, `${stream}: timestamps never go backwards`);
    t.same(seqs, served[endpoint], `${stream}: every completed response archived exactly once, in order`);
    t.ok(seqs.length >= 6, `${stream}: about one record per second (${seqs.length} in ~9.5 s after the first)`);
  }
  const graph = await readArchives(out, 'graphinfo');
  t.ok(graph[0].lines[0].includes('"dpid":14721744659231801345'), 'uint64 DPIDs above 2^53 kept exactly');
  const events = await readEvents(out);
  t.equal(events[0].event, 'start');
  const stop = events.find((e) => e.event === 'stop');
  t.ok(stop, 'a stop event is written');
  t.equal(stop.reason, 'SIGTERM');
  t.equal(stop.unwritten_records, 0);
  t.equal(stop.streams.flowinfo.records, served['/ndt/get_detected_flow_data'].length);
  const fallbacks = events.filter((e) => e.event === 'compression_program_unavailable');
  if (setting.includes('nonexistent')) t.match(fallbacks, [{ program: '/nonexistent/gzip', error: /ENOENT/ }], 'the fallback is told once');
  else t.same(fallbacks, [], 'no fallback');
});

t.test('a second signal skips compression; the next start recovers and compresses', async (t) => {
  const dir = tempDir(t);
  // Slow answers keep the first shutdown waiting for in-flight fetches, so the
  // second signal lands before the windows are closed.
  const sim = new NdtwinSimulator({ port: 0, latencyMs: 500 });
  const { url } = await sim.start();
  t.teardown(() => sim.stop());
  const config = writeConfig(dir, url);
  writeFileSync(config, readFileSync(config, 'utf8').replace('window: 3s', 'window: 1h'));
  const first = startNsr(dir, ['run', '-c', config]);
  await untilRecording(path.join(dir, 'out'), 'flowinfo');
  await sleep(1250 - (Date.now() % 1000)); // 250 ms after a tick: its fetches are in flight
  process.kill(first.pid, 'SIGTERM');
  await sleep(100); // two signals sent at once would merge into one
  process.kill(first.pid, 'SIGTERM');
  t.equal((await first.exit).code, 0, first.output().slice(-300));
  const out = path.join(dir, 'out');
  const leftover = readdirSync(out).filter((f) => f.endsWith('.json'));
  t.ok(leftover.some((f) => f.endsWith('_flowinfo.json')), `window files left uncompressed: ${leftover}`);

  const second = startNsr(dir, ['run', '-c', config, '--for', '2s']);
  t.equal((await second.exit).code, 0, second.output().slice(-300));
  t.same(readdirSync(out).filter((f) => f.endsWith('.json')), [], 'leftovers compressed at the next start');
  const seqs = (await readArchives(out, 'flowinfo')).flatMap((w) => w.lines.map(seqOf));
  t.same([...seqs].sort((a, b) => a - b), [...sim.served()['/ndt/get_detected_flow_data']].sort((a, b) => a - b), 'both runs together: every response exactly once');
  const events = await readEvents(out);
  t.ok(events.some((e) => e.event === 'recovery' && e.action === 'compress_leftover'), 'recovery reported in the events stream');
});

t.test('an unreachable kernel: nsr keeps running, reports each missed tick, stops cleanly', async (t) => {
  const dir = tempDir(t);
  const config = writeConfig(dir, 'http://127.0.0.1:9'); // discard port: nothing listens
  const nsr = startNsr(dir, ['run', '-c', config, '--for', '3500ms']);
  t.equal((await nsr.exit).code, 0, nsr.output().slice(-600));
  const out = path.join(dir, 'out');
  t.same(readdirSync(out).filter((f) => f.includes('flowinfo')), [], 'no empty windows for a stream that got nothing');
  const events = await readEvents(out);
  const missed = events.filter((e) => e.event === 'missed_tick' && e.stream === 'flowinfo');
  t.ok(missed.length >= 2, `missed ticks recorded (${missed.length})`);
  t.equal(missed[0]?.reason, 'connection_refused', JSON.stringify(missed[0]));
  t.ok(existsSync(out));
});

t.test('an events window that closes during shutdown still ends in a clean stop', async (t) => {
  // Short event windows rotate while the data windows are being compressed at stop.
  const dir = tempDir(t);
  const sim = new NdtwinSimulator({ port: 0 });
  const { url } = await sim.start();
  t.teardown(() => sim.stop());
  writeFileSync(path.join(dir, 'r.yaml'), `output: {dir: out, window: 1s}\nstreams:\n  flowinfo: {kind: ndtwin, kernel: "${url}", data: flow, interval: 10s, window: 10s}\n`);
  for (let i = 0; i < 3; i++) {
    const nsr = startNsr(dir, ['run', '-c', 'r.yaml', '--for', '3s']);
    t.equal((await nsr.exit).code, 0, `run ${i + 1}: ${nsr.output().slice(-400)}`);
  }
  const events = await readEvents(path.join(dir, 'out'));
  t.equal(events.filter((e) => e.event === 'stop').length, 3, 'every stop event was written');
  t.same(readdirSync(path.join(dir, 'out')).filter((f) => f.endsWith('.json')), [], 'all compressed');
});
