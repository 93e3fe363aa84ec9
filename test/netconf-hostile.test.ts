// A hostile NETCONF device: what it sends must cost one device's session, never
// the process. Each test runs a bare ssh2 server scripted to misbehave, and
// times the client's refusal (a regex that backtracks on device text blocks the
// event loop, so no deadline can fire).
import t from 'tap';
import ssh2 from 'ssh2';
import type { AddressInfo } from 'node:net';
import { HostKeyVerifier, sshKeyFingerprint } from '../src/sources/junos/host-keys.js';
import { NetconfSession, rpcErrorOf } from '../src/sources/junos/netconf-session.js';
import { encodeEndOfMessage } from '../src/sources/junos/netconf-framing.js';
import { FetchError } from '../src/sources/source.js';
import { sshKeyPair } from '../src/simulate/ssh-key-pair.js';

const hostKey = sshKeyPair();
const hostKeyBlob = (ssh2.utils.parseKey(hostKey.public) as ssh2.ParsedKey).getPublicSSH();
const never = new AbortController().signal;

/** A device on an ephemeral loopback port that sends `hello` as its first message. */
async function device(t: Tap.Test, hello: Buffer): Promise<number> {
  const server = new ssh2.Server({ hostKeys: [hostKey.private] }, (conn) => {
    conn.on('error', () => undefined);
    conn.on('authentication', (ctx) => ctx.accept());
    conn.on('ready', () =>
      conn.on('session', (accept) => {
        accept().on('subsystem', (acceptSub) => {
          const channel = acceptSub();
          channel.on('error', () => undefined);
          channel.write(hello);
        });
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  return (server.address() as AddressInfo).port;
}

async function open(port: number) {
  const hostKeys = new HostKeyVerifier({ pinned: { '127.0.0.1': sshKeyFingerprint(hostKeyBlob) }, firstContact: 'refuse' });
  const started = Date.now();
  try {
    const s = await NetconfSession.open({ host: '127.0.0.1', port }, { username: 'nsr', password: 'pw', hostKeys, maxMessageBytes: 1 << 20 }, never, Date.now() + 20_000);
    s.destroy(new FetchError('session_closed', 'test over'));
    return { err: undefined, ms: Date.now() - started };
  } catch (err) {
    return { err: err as FetchError, ms: Date.now() - started };
  }
}

t.test('a hello whose <capability> never closes, padded with spaces, is read at once', async (t) => {
  // Before: \s*([^<]*?)\s*< backtracked cubically (2500 spaces took seconds, 8000 minutes).
  const hello = `<hello><capabilities><capability>urn:ietf:params:netconf:base:1.0</capability><capability>${' '.repeat(2500)}x</capabilities></hello>`;
  const { err, ms } = await open(await device(t, encodeEndOfMessage(hello)));
  t.equal(err, undefined, 'the base:1.0 capability before it is read');
  t.ok(ms < 2000, `answered in ${ms} ms`);
});

t.test('a hello preceded by a long run of whitespace and no element is refused at once', async (t) => {
  // Before: ^\s*(?:<\?xml…)?\s*< split the run between two \s* every way (quadratic).
  const { err, ms } = await open(await device(t, encodeEndOfMessage(`${' '.repeat(60_000)}x`)));
  t.equal(err?.reason, 'protocol_error', err?.message);
  t.ok(ms < 2000, `refused in ${ms} ms`);
});

t.test('capabilities with whitespace around them are still read', async (t) => {
  const hello = `<?xml version="1.0"?>\n  <hello><capabilities><capability>\n  urn:ietf:params:netconf:base:1.0  \n</capability></capabilities><session-id>7</session-id></hello>`;
  const { err } = await open(await device(t, encodeEndOfMessage(hello)));
  t.equal(err, undefined, 'opened on base:1.0');
});

t.test('an rpc-reply full of unclosed <rpc-error> and <error-message> openers is read in linear time', async (t) => {
  // Before: [^>]*> and lazy [\s\S]*? scanned to the end from every opener (quadratic in the reply).
  for (const reply of [`<rpc-reply message-id="1">${'<rpc-error>'.repeat(40_000)}</rpc-reply>`, `<rpc-reply message-id="1">${'<rpc-error'.repeat(40_000)}`, `<rpc-reply><rpc-error>${'<error-message>'.repeat(40_000)}</rpc-error></rpc-reply>`]) {
    const started = Date.now();
    rpcErrorOf(reply);
    const ms = Date.now() - started;
    t.ok(ms < 2000, `read in ${ms} ms`);
  }
  t.same(rpcErrorOf(`<rpc-reply><rpc-error><error-severity>warning</error-severity><error-message>w</error-message></rpc-error><nc:rpc-error x="1"><nc:error-tag>operation-failed</nc:error-tag><nc:error-message>\nsyntax error &amp; more\n</nc:error-message></nc:rpc-error></rpc-reply>`), { message: 'syntax error & more', tag: 'operation-failed' }, 'the first error (not warning) is still found');
  t.same(rpcErrorOf(`<rpc-reply><rpc-error><error-message>a</error-message></rpc-error></rpc-reply>`), { message: 'a' });
  t.equal(rpcErrorOf(`<rpc-reply><ok/></rpc-reply>`), undefined);
});
