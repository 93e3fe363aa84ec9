#!/usr/bin/env node
// A peripheral speaking EGG's protocol as its asr, llm and tts do: it listens on
// its own port (answering /info with name, uuid, key=value lines and EOF),
// registers with `/register <name> <uuid> <port>` on the hub's command port and
// reads `/ack <data_port>`, then sends its output to that data port (first line
// its uuid). Roles for the tests and the benchmark:
//   source  sends lines when told on stdin: `send <count> <per_second> [prefix]`
//   relay   sends every line it receives, prefixed with `--prefix` (llm between asr and tts)
//   sink    appends every line it receives to `--out` (tts)
// Prints `ready <data_port>` once registered. Options: --name --uuid --port --hub
// (command port) [--host 127.0.0.1] [--token T: /auth first] [--api-key K: shown in /info].
import net from 'node:net';
import { createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';

const args = Object.fromEntries(
  process.argv
    .slice(2)
    .join(' ')
    .split('--')
    .filter(Boolean)
    .map((a) => {
      const [k, ...v] = a.trim().split(' ');
      return [k, v.join(' ')];
    }),
);
const role = args.role;
const host = args.host || '127.0.0.1';
const auth = args.token ? `/auth ${args.token}\n` : '';
const out = role === 'sink' ? createWriteStream(args.out, { flags: 'a' }) : undefined;
let dataSocket;

function toHub(line) {
  dataSocket.write(`${line}\n`);
}

// The peripheral's own port: /info from a scan, and the lines the hub's routes deliver.
const server = net.createServer((socket) => {
  let buf = '';
  socket.on('error', () => {});
  socket.on('data', (chunk) => {
    buf += chunk.toString('utf8');
    let nl;
    while ((nl = buf.indexOf('\n')) !== -1) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line === '/info') {
        socket.write(`${args.name}\n${args.uuid}\nrole=${role}\napi_key=${args['api-key'] || 'none'}\nEOF\n`);
      } else if (role === 'relay') toHub(`${args.prefix || ''}${line}`);
      else if (role === 'sink') out.write(`${line}\n`);
    }
  });
});

// What went wrong is said on stderr, so a test that waits for `ready` can tell why it did not come.
server.on('error', (err) => {
  process.stderr.write(`listen on ${args.port}: ${err.message}\n`);
  process.exit(1);
});
server.listen(Number(args.port), host, () => {
  process.stderr.write(`listening on ${args.port}\n`);
  register();
});

/** Registers on the command port; a hub not (yet) listening is tried again, as a supervised peripheral would be. */
function register() {
  const cmd = net.connect(Number(args.hub), host, () => cmd.write(`${auth}/register ${args.name} ${args.uuid} ${args.port}\n`));
  cmd.on('error', (err) => {
    process.stderr.write(`command port ${args.hub}: ${err.message}; again in 500 ms\n`);
    setTimeout(register, 500);
  });
  let reply = '';
  cmd.on('data', (chunk) => {
    reply += chunk.toString('utf8');
    const m = /\/ack (\d+)/.exec(reply);
    if (!m) {
      if (reply.includes('\n')) process.stderr.write(`the hub answered: ${reply}`);
      return;
    }
    cmd.end();
    process.stderr.write(`registered: /ack ${m[1]}\n`);
    dataSocket = net.connect(Number(m[1]), host, () => {
      dataSocket.write(`${auth}${args.uuid}\n`);
      process.stdout.write(`ready ${m[1]}\n`);
    });
    dataSocket.on('error', (err) => process.stderr.write(`data port ${m[1]}: ${err.message}\n`));
    dataSocket.setNoDelay(true);
  });
}

// A source sends when told, paced, in order, over its one data connection.
createInterface({ input: process.stdin }).on('line', async (line) => {
  const [verb, count, rate, prefix = 'a-'] = line.trim().split(' ');
  if (verb !== 'send') return;
  const n = Number(count);
  const perTick = Math.max(1, Math.round(Number(rate) / 100));
  let i = 0;
  const started = Date.now();
  while (i < n) {
    let chunk = '';
    for (let k = 0; k < perTick && i < n; k++, i++) chunk += `${prefix}${i}\n`;
    if (!dataSocket.write(chunk)) await new Promise((r) => dataSocket.once('drain', r));
    const due = started + (i / Number(rate)) * 1000;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  process.stdout.write(`sent ${n}\n`);
});

process.on('SIGTERM', () => {
  if (out) out.end(() => process.exit(0));
  else process.exit(0);
});
