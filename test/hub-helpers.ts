/** Shared by the hub tests: talking to the hub's command port as EGG's tools do. */
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { startNsr, type NsrProcess } from './helpers.js';

/** Sends command lines to the hub's command port and returns what it answered (read until it goes quiet). */
export function hubCommands(port: number, lines: string[], quietMs = 300): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(lines.map((l) => `${l}\n`).join('')));
    let text = '';
    // A hub that never reads the commands (nor the end) would hold the socket open: closed after 5 s more.
    const end = () => {
      socket.end();
      setTimeout(() => socket.destroy(), 5000).unref();
    };
    let timer = setTimeout(end, quietMs * 3);
    socket.on('data', (d) => {
      text += d;
      clearTimeout(timer);
      timer = setTimeout(end, quietMs);
    });
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
  });
}


/**
 * Where freePorts draws from: below the kernel's ephemeral range, and below
 * 20000, where other test files pick ports of their own (hub-e2e and
 * hub-egg-state from 20000 up, junos-netconf-e2e 20000-60000; netconf-session
 * uses 18830).
 */
const FREE_PORT_BAND = { from: 10_000, to: 18_000 };

/**
 * Ports nothing listens on right now, for a hub to bind a moment later. They are
 * drawn from FREE_PORT_BAND: a port the OS hands out for listen(0) or for an
 * outgoing connection's local end can be taken again by another test's
 * connection in that moment (a hub then found its command port in use on a
 * busy machine), while one in the band is only ever taken by a test that names it.
 */
export async function freePorts(count: number): Promise<number[]> {
  const to = Math.min(FREE_PORT_BAND.to, ephemeralLow());
  const ports: number[] = [];
  for (let tries = 0; ports.length < count; tries++) {
    if (to - FREE_PORT_BAND.from < 1000 || tries > 200) {
      // no room in the band, or it is taken: the OS's choice (each port probed alone, so checked for repeats)
      const port = await listenProbe(0);
      if (!ports.includes(port)) ports.push(port);
      continue;
    }
    const port = FREE_PORT_BAND.from + Math.floor(Math.random() * (to - FREE_PORT_BAND.from));
    if (!ports.includes(port) && (await listenProbe(port).catch(() => 0))) ports.push(port);
  }
  return ports;
}

/** The first port of the kernel's ephemeral range (the IANA one where /proc does not say). */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (low > 0) return low;
  } catch {
    // not Linux
  }
  return 49_152;
}

/** Binds 127.0.0.1:port (0: the OS's choice), closes it, and returns the port. */
function listenProbe(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => {
      const bound = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(bound));
    });
  });
}

/** Polls `check` until it holds; the machine may be busy, so the limit is generous and the error names what was awaited. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A peripheral's own port, in this process: records who connected and what they wrote; answers /info as `info` says. */
export interface FakePeripheral {
  port: number;
  connections: number;
  /** What was written to it, kept up to 1 MB (a route's big lines are counted in `bytes`). */
  received: string;
  bytes: number;
  /** Stops reading (TCP then holds the hub's writes back), or reads again. */
  setReading(reading: boolean): void;
  close(): Promise<void>;
}

export function fakePeripheral(port: number, info?: string): Promise<FakePeripheral> {
  const sockets = new Set<net.Socket>();
  let reading = true;
  const fake: FakePeripheral = {
    port,
    connections: 0,
    received: '',
    bytes: 0,
    setReading(r) {
      reading = r;
      for (const s of sockets) r ? s.resume() : s.pause();
    },
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const server = net.createServer((socket) => {
    fake.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    if (!reading) socket.pause();
    socket.on('data', (d) => {
      fake.bytes += d.length;
      if (fake.received.length < 1_000_000) fake.received += d;
      if (info !== undefined && fake.received.endsWith('/info\n')) socket.write(info);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(fake));
  });
}

/**
 * `nsr run` with a hub stream `egg` on its command port and one data port, plus `extra`
 * settings (YAML flow mapping entries), recording into `outDir`; killed at teardown.
 */
export async function startHub(t: Tap.Test, dir: string, cmd: number, data: number, extra: string, outDir = 'recorded_info'): Promise<NsrProcess> {
  writeFileSync(path.join(dir, 'r.yaml'), `output: {dir: ${outDir}, window: 1m}\nstreams:\n  egg: {kind: hub, command_port: ${cmd}, data_ports: [${data}], save_delay: 100ms${extra ? `, ${extra}` : ''}}\n`);
  const nsr = startNsr(dir, ['run', '-c', 'r.yaml']);
  t.teardown(() => {
    try {
      process.kill(nsr.pid, 'SIGKILL');
    } catch {
      // it stopped already
    }
  });
  let exited = false;
  void nsr.exit.then(() => (exited = true));
  await waitFor('the hub to listen', async () => {
    // An nsr that stopped (a port in use, a bad setting) will never listen: say so now, with what it said.
    if (exited) {
      await new Promise((r) => setTimeout(r, 200)); // its last output may arrive after the exit
      throw new Error(`nsr exited before the hub listened:\n${nsr.output().slice(-2000)}`);
    }
    return nsr.output().includes('hub listening');
  }, 30_000);
  return nsr;
}
