// Disk full: on a real size-limited filesystem (tmpfs), nsr keeps what it holds,
// reports, retries, and carries on when space returns — no corrupted window or zip.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { NdtwinSimulator } from '../src/simulate/ndtwin-simulator.js';
import { tmpfsAt } from './tmpfs.js';
import { readArchives, readEvents, seqOf, sleep, startNsr, tempDir } from './helpers.js';

t.test('ENOSPC while recording: records wait in the queue, nothing is lost or corrupted', async (t) => {
  const dir = tempDir(t);
  const out = path.join(dir, 'out');
  if (!tmpfsAt(t, out, '3m')) return;
  const sim = new NdtwinSimulator({ port: 0 });
  const { url } = await sim.start();
  t.teardown(() => sim.stop());
  writeFileSync(
    path.join(dir, 'r.yaml'),
    `output: {dir: out, window: 2s}\nqueue: {max_records: 12}\nshutdown: {grace: 1s, deadline: 30s}\nstreams:\n  flowinfo: {kind: ndtwin, kernel: "${url}", data: flow, interval: 250ms}\n`,
  );
  // Leave ~250 KB free: a few 40 KB records, then ENOSPC.
  writeFileSync(path.join(out, 'filler'), Buffer.alloc(3 * 1024 * 1024 - 250 * 1024));
  const nsr = startNsr(dir, ['run', '-c', 'r.yaml']);
  // The disk fills up, then the queue: fetching stops (ticks skipped as queue_full). Wait for that
  // (no response served for 1.5 s, six ticks), however slow a loaded machine is to get there.
  let served = -1;
  let since = Date.now();
  for (const end = Date.now() + 30_000; Date.now() < end; await sleep(100)) {
    const n = sim.served()['/ndt/get_detected_flow_data']?.length ?? 0;
    if (n !== served) [served, since] = [n, Date.now()];
    else if (n > 0 && Date.now() - since > 1500) break;
  }
  rmSync(path.join(out, 'filler')); // space returns
  await sleep(6000);
  process.kill(nsr.pid, 'SIGTERM');
  const { code } = await nsr.exit;
  t.equal(code, 0, nsr.output().slice(-800));

  t.same(readdirSync(out).filter((f) => !f.endsWith('_json.zip') && !f.startsWith('.')), [], 'every window zipped, no temporary left');
  const archived = (await readArchives(out, 'flowinfo')).flatMap((w) => w.lines); // CRC-checked
  t.ok(archived.every((l) => l.startsWith('{"timestamp":') && l.endsWith(']}')), 'no torn or corrupted record');
  const seqs = archived.map(seqOf);
  t.same(seqs, sim.served()['/ndt/get_detected_flow_data'], 'every response served was archived exactly once, in order');

  const events = await readEvents(out);
  const names = new Set(events.map((e) => e.event));
  t.ok(names.has('write_error'), 'the write failure is an event');
  t.equal(events.find((e) => e.event === 'write_error')?.code, 'ENOSPC');
  t.ok(names.has('write_recovered'), 'and so is the recovery');
  t.ok(events.some((e) => e.event === 'missed_tick' && e.reason === 'queue_full'), 'ticks skipped while the queue was full are reported, not dropped silently');
  t.equal(events.find((e) => e.event === 'stop')?.unwritten_records, 0);
});
