// This machine's RabbitMQ is shared by the test files that use it, and tap
// runs two files at once (.taprc jobs: 2). amqp.test.ts restarts the broker
// (rabbitmqctl stop_app / start_app) to show that nothing is lost; a file
// running beside it then lost its own connections mid-test (amqp-input.test.ts
// failed so beside a CPU burner). So a file that uses the broker holds a lease
// for its whole run, and the restart waits until no other file holds one; no
// file takes a lease while a restart is under way.
//
// The leases are files named after the process that holds them, in a directory
// of the system's temporary one: a file left by a process that died is ignored
// (its pid is not alive). Taking a lease writes it first and looks for a
// restart second; restarting writes its mark first and looks for leases
// second: of two that start at once, at least one sees the other.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isAlive } from '../src/pipeline/process-identity.js';
import { sleep } from './helpers.js';

const DIR = path.join(os.tmpdir(), 'nsr-test-rabbitmq');
const LEASE = 'lease-';
const RESTART = 'restart-';
const POLL_MS = 250;

/** Live pids, other than this process, with a file of this kind. */
function others(kind: string): number[] {
  const pids = readdirSync(DIR)
    .filter((f) => f.startsWith(kind))
    .map((f) => Number(f.slice(kind.length)));
  return pids.filter((pid) => pid !== process.pid && isAlive(pid));
}

const mark = (kind: string) => path.join(DIR, `${kind}${process.pid}`);

/** Holds a lease on the broker until this test file ends: waits while another file restarts it. */
export async function holdBroker(t: Tap.Test): Promise<void> {
  mkdirSync(DIR, { recursive: true });
  t.teardown(() => rmSync(mark(LEASE), { force: true }));
  for (;;) {
    writeFileSync(mark(LEASE), '');
    if (others(RESTART).length === 0) return;
    rmSync(mark(LEASE), { force: true });
    await sleep(POLL_MS);
  }
}

/**
 * Runs `restart` once no other test file holds a lease, and keeps new leases
 * waiting meanwhile. Gives up after `waitMs` (returns false, nothing run).
 */
export async function whileNoOtherUses(restart: () => Promise<void>, waitMs: number): Promise<boolean> {
  mkdirSync(DIR, { recursive: true });
  writeFileSync(mark(RESTART), '');
  try {
    const end = Date.now() + waitMs;
    while (others(LEASE).length > 0) {
      if (Date.now() > end) return false;
      await sleep(POLL_MS);
    }
    await restart();
    return true;
  } finally {
    rmSync(mark(RESTART), { force: true });
  }
}
