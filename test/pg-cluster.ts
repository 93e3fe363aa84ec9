/**
 * A PostgreSQL server of the test's own (initdb in a temporary directory, a
 * random loopback port), so a test can stop and start it under load without
 * touching the machine's server. Needs root (to run it as the postgres user)
 * and the server binaries; without them: a visible skip on a developer's
 * machine, a failure in CI.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface PgCluster {
  url: string;
  stop(): void;
  start(): void;
}

export function privatePostgres(t: Tap.Test): PgCluster | undefined {
  const versions = existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql').sort() : [];
  const bin = versions.length ? `/usr/lib/postgresql/${versions[versions.length - 1]}/bin` : undefined;
  const why = !bin ? 'no PostgreSQL server binaries under /usr/lib/postgresql' : process.getuid?.() !== 0 ? 'not root (the test server runs as the postgres user)' : undefined;
  if (why) {
    if (process.env.CI) throw new Error(`this test needs its own PostgreSQL server: ${why}`);
    t.skip(why);
    return undefined;
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'nsr-pg-'));
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
  chownSync(dir, uid, gid);
  const data = path.join(dir, 'data');
  const as = (cmd: string, args: string[]) => execFileSync('runuser', ['-u', 'postgres', '--', `${bin}/${cmd}`, ...args], { stdio: 'pipe', timeout: 60_000 });
  as('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const port = 30_000 + Math.floor(Math.random() * 20_000);
  const start = () => as('pg_ctl', ['-D', data, '-l', path.join(dir, 'log'), '-w', '-t', '30', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']);
  const stop = () => as('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
  start();
  t.teardown(() => {
    try {
      stop();
    } catch {
      // already stopped
    }
    rmSync(dir, { recursive: true, force: true });
  });
  return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, stop, start };
}
