// NETCONF sessions and the session pool against the simulated Juniper devices
// on 127.20.8.x: replies byte for byte, framing choice, authentication, host
// key decisions (checked before any RPC reaches the device), reuse, faults.
import t from 'tap';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { JunosNetconfSimulator, type JunosNetconfSimulatorOptions } from '../src/simulate/junos-netconf-simulator.js';
import { HostKeyVerifier } from '../src/sources/junos/host-keys.js';
import { NetconfSession, type NetconfSessionOptions, type NetconfTarget } from '../src/sources/junos/netconf-session.js';
import { NetconfPool } from '../src/sources/junos/netconf-pool.js';
import { JUNOS_NETCONF_RPCS } from '../src/sources/junos/netconf-rpcs.js';
import { FetchError } from '../src/sources/source.js';
import { sshKeyPair } from '../src/simulate/ssh-key-pair.js';

const PORT = 18830;
const dir = mkdtempSync(join(tmpdir(), 'nsr-netconf-'));
const fixture = (f: string) => readFileSync(new URL(`../fixtures/junos/${f}`, import.meta.url), 'utf8');
// The namespaced mpls.0 form is the old ncclient agent's: the device must accept both.
const RPCS = [
  { body: JUNOS_NETCONF_RPCS.interfaces, fixture: fixture('get-interface-information.rpc-reply.xml') },
  { body: JUNOS_NETCONF_RPCS['inet.3'], fixture: fixture('get-route-information.inet.3.rpc-reply.xml') },
  { body: '<get-route-information xmlns="http://yang.juniper.net/junos/rpc/route"><table>mpls.0</table></get-route-information>', fixture: fixture('get-route-information.mpls.0.rpc-reply.xml') },
];
const withoutMessageId = (s: string) => s.replace(/(<rpc-reply\b[^>]*?\smessage-id=")[^"]*"/, '$1"');
const messageIdOf = (s: string) => /<rpc-reply\b[^>]*?\smessage-id="([^"]*)"/.exec(s)?.[1];

const clientKey = sshKeyPair();
const otherKey = sshKeyPair();
const lockedKey = sshKeyPair({ passphrase: 'key-pass', cipher: 'aes256-ctr' });
const devices = ['ok1', 'ok2', 'hangs', 'fails', 'keyed'].map((name, i) => ({ name, address: `127.20.8.${i + 1}` }));
const target = (name: string): NetconfTarget => ({ name, host: devices.find((d) => d.name === name)!.address, port: PORT });
const simOptions: JunosNetconfSimulatorOptions = {
  devices,
  port: PORT,
  username: 'nsr',
  password: 'sekret-pw',
  authorizedKeys: [clientKey.public, lockedKey.public],
  faults: { hangs: 'hang', fails: 'error' },
  static: true,
  hostKeyFile: join(dir, 'sim-host-key'),
};
const sim = new JunosNetconfSimulator(simOptions);
const knownHosts = join(dir, 'known_hosts');
const deadline = () => Date.now() + 8000;
const never = new AbortController().signal;

function options(over: Partial<NetconfSessionOptions> = {}): NetconfSessionOptions {
  return { username: 'nsr', password: 'sekret-pw', hostKeys: new HostKeyVerifier({ knownHostsFile: knownHosts, firstContact: 'refuse' }), maxMessageBytes: 1 << 20, ...over };
}
async function failure(p: Promise<unknown>): Promise<FetchError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof FetchError) return err;
    throw err;
  }
  throw new Error('expected a FetchError');
}

t.before(async () => {
  await sim.start();
  sim.writeKnownHosts(knownHosts);
});
t.teardown(() => sim.stop());

t.test('the three RPCs return the fixtures byte for byte (but message-id), base:1.1 framing', async (t) => {
  const session = await NetconfSession.open(target('ok1'), options(), never, deadline());
  t.equal(session.framing, 'base:1.1', 'both announce base:1.1');
  t.ok(session.sessionId);
  for (const [i, rpc] of RPCS.entries()) {
    const reply = (await session.rpc(rpc.body, never, deadline())).toString('utf8');
    t.equal(withoutMessageId(reply), withoutMessageId(rpc.fixture), `${rpc.body}: fixture bytes`);
    t.equal(messageIdOf(reply), String(i + 1), 'the reply carries the request\'s message-id');
  }
  await session.close();
  t.notOk(session.open);
});

t.test('base:1.0 framing when the device offers only base:1.0', async (t) => {
  const old = new JunosNetconfSimulator({ ...simOptions, devices: [{ name: 'old', address: '127.20.8.20' }], base10Only: true });
  await old.start();
  t.teardown(() => old.stop());
  writeFileSync(knownHosts, readFileSync(knownHosts, 'utf8') + old.knownHosts());
  const session = await NetconfSession.open({ host: '127.20.8.20', port: PORT }, options(), never, deadline());
  t.equal(session.framing, 'base:1.0');
  const replies = await Promise.all(RPCS.map((r) => session.rpc(r.body, never, deadline())));
  t.same(replies.map((r) => withoutMessageId(r.toString())), RPCS.map((r) => withoutMessageId(r.fixture)), 'RPCs queued at once are answered in order');
  session.destroy(new FetchError('session_closed', 'done'));
});

t.test('authentication: key, key with passphrase, wrong password', async (t) => {
  const byKey = await NetconfSession.open(target('keyed'), options({ password: undefined, privateKey: clientKey.private }), never, deadline());
  t.ok(await byKey.rpc(RPCS[1]!.body, never, deadline()));
  await byKey.close();
  const byLockedKey = await NetconfSession.open(target('keyed'), options({ password: undefined, privateKey: lockedKey.private, passphrase: 'key-pass' }), never, deadline());
  await byLockedKey.close();
  const noPassphrase = await failure(NetconfSession.open(target('keyed'), options({ privateKey: lockedKey.private }), never, deadline()));
  t.equal(noPassphrase.reason, 'private_key_error');
  t.notMatch(noPassphrase.message, /PRIVATE KEY/, 'no key material in the message');

  const wrong = await failure(NetconfSession.open(target('keyed'), options({ password: 'not-the-password' }), never, deadline()));
  t.equal(wrong.reason, 'auth_failed');
  t.match(wrong.message, /authentication as nsr refused by keyed \(127\.20\.8\.5:18830\)/);
  t.notMatch(wrong.message, /not-the-password/, 'the password is never in a message');

  const otherKeyRefused = await failure(NetconfSession.open(target('keyed'), options({ password: undefined, privateKey: otherKey.private }), never, deadline()));
  t.equal(otherKeyRefused.reason, 'auth_failed', 'a key that is not authorized');

  const badKey = await failure(NetconfSession.open(target('keyed'), options({ privateKey: 'not a key' }), never, deadline()));
  t.equal(badKey.reason, 'private_key_error');
});

t.test('host keys: a different key is refused before any RPC reaches the device', async (t) => {
  const otherPublic = (ssh2.utils.parseKey(otherKey.public) as ssh2.ParsedKey).getPublicSSH().toString('base64');
  const wrongFile = join(dir, 'known_hosts.wrong');
  writeFileSync(wrongFile, `[127.20.8.2]:${PORT} ssh-ed25519 ${otherPublic}\n`);
  const before = { sessions: sim.sessionsOpened.get('ok2') ?? 0, rpcs: sim.rpcsReceived.get('ok2') ?? 0 };
  const pool = new NetconfPool({ ...options({ hostKeys: new HostKeyVerifier({ knownHostsFile: wrongFile, firstContact: 'remember' }) }), keepSessions: true });
  const err = await failure(pool.rpc(target('ok2'), RPCS[0]!.body, never, deadline()));
  t.equal(err.reason, 'host_key_mismatch');
  t.match(err.message, sim.fingerprint, 'names the offered fingerprint');
  t.match(err.message, /ssh-keygen -R/);
  t.equal(sim.sessionsOpened.get('ok2') ?? 0, before.sessions, 'no session was opened');
  t.equal(sim.rpcsReceived.get('ok2') ?? 0, before.rpcs, 'the device saw no RPC');
  t.same(pool.counters, { opened: 0, reused: 0, failed: 1, reopened: 0 });
  await pool.close();
});

t.test('host keys: unknown refused, or remembered and enforced across restarts', async (t) => {
  const address = '127.20.8.30';
  const tofu = join(dir, 'tofu_known_hosts');
  const remember = () => options({ hostKeys: new HostKeyVerifier({ knownHostsFile: tofu, firstContact: 'remember' }) });
  const keyFile = join(dir, 'restartable-host-key');
  const first = new JunosNetconfSimulator({ ...simOptions, devices: [{ name: 'new', address }], hostKeyFile: keyFile });
  await first.start();
  const unknown = await failure(NetconfSession.open({ host: address, port: PORT }, options(), never, deadline()));
  t.equal(unknown.reason, 'host_key_unknown', 'not in the known_hosts file and first contact is refuse');
  t.equal(first.sessionsOpened.size, 0);
  const s1 = await NetconfSession.open({ host: address, port: PORT }, remember(), never, deadline());
  await s1.close();
  t.equal(readFileSync(tofu, 'utf8'), `[${address}]:${PORT} ${first.publicKey}\n`, 'the key was remembered');
  t.equal(statSync(tofu).mode & 0o777, 0o600);
  t.equal(statSync(keyFile).mode & 0o777, 0o600, 'the simulator kept its generated key 0600');
  await first.stop();

  const restarted = new JunosNetconfSimulator({ ...simOptions, devices: [{ name: 'new', address }], hostKeyFile: keyFile });
  t.equal(restarted.fingerprint, first.fingerprint, 'the simulator reuses its key file');
  await restarted.start();
  const s2 = await NetconfSession.open({ host: address, port: PORT }, remember(), never, deadline());
  await s2.close();
  await restarted.stop();

  const impostor = new JunosNetconfSimulator({ ...simOptions, devices: [{ name: 'new', address }], hostKeyFile: undefined, hostKey: otherKey.private });
  await impostor.start();
  t.teardown(() => impostor.stop());
  const changed = await failure(NetconfSession.open({ host: address, port: PORT }, remember(), never, deadline()));
  t.equal(changed.reason, 'host_key_mismatch', 'a remembered key is enforced');
  t.equal(impostor.sessionsOpened.size, 0);
});

t.test('host keys: pinned fingerprints', async (t) => {
  const pinned = (fp: string) => options({ hostKeys: new HostKeyVerifier({ pinned: { ok1: fp }, firstContact: 'refuse' }) });
  const s = await NetconfSession.open(target('ok1'), pinned(sim.fingerprint), never, deadline());
  await s.close();
  const otherFp = `SHA256:${'A'.repeat(43)}`;
  const err = await failure(NetconfSession.open(target('ok1'), pinned(otherFp), never, deadline()));
  t.equal(err.reason, 'host_key_mismatch');
  t.match(err.message, `pinned for ok1 is ${otherFp}`);
});

t.test('session reuse: two cycles of three RPCs open one session kept, two otherwise', async (t) => {
  for (const keepSessions of [true, false]) {
    const pool = new NetconfPool({ ...options(), keepSessions });
    const before = sim.sessionsOpened.get('ok2') ?? 0;
    for (let cycle = 0; cycle < 2; cycle++) {
      const replies = await Promise.all(RPCS.map((r) => pool.rpc(target('ok2'), r.body, never, deadline())));
      t.equal(replies.length, 3);
      await pool.endCycle();
    }
    t.equal((sim.sessionsOpened.get('ok2') ?? 0) - before, keepSessions ? 1 : 2, `keepSessions ${keepSessions}: sessions the device saw`);
    t.same(pool.counters, keepSessions ? { opened: 1, reused: 5, failed: 0, reopened: 0 } : { opened: 2, reused: 4, failed: 0, reopened: 0 });
    await pool.close();
  }
});

t.test('a kept session the device closed is reopened transparently', async (t) => {
  const pool = new NetconfPool({ ...options(), keepSessions: true });
  await pool.rpc(target('ok1'), RPCS[1]!.body, never, deadline());
  await pool.endCycle();
  sim.dropConnections();
  await new Promise((r) => setTimeout(r, 300));
  const reply = await pool.rpc(target('ok1'), RPCS[1]!.body, never, deadline());
  t.equal(withoutMessageId(reply.toString()), withoutMessageId(RPCS[1]!.fixture));
  t.equal(pool.counters.opened, 2);
  t.equal(pool.counters.reopened, 1);
  await pool.close();
});

t.test('a hanging device times out by its deadline while the others answer; a failing one is rpc_error', async (t) => {
  const pool = new NetconfPool({ ...options(), keepSessions: true });
  const order: string[] = [];
  const track = (name: string, p: Promise<unknown>) =>
    p.then(
      () => order.push(`${name} ok`),
      (e: FetchError) => order.push(`${name} ${e.reason}`),
    );
  const started = Date.now();
  const hangDeadline = Date.now() + 2500;
  const hanging = pool.rpc(target('hangs'), RPCS[0]!.body, never, hangDeadline);
  await Promise.all([
    track('hangs', hanging),
    track('ok1', pool.rpc(target('ok1'), RPCS[0]!.body, never, deadline())),
    track('ok2', pool.rpc(target('ok2'), RPCS[2]!.body, never, deadline())),
  ]);
  t.equal(order[2], 'hangs timeout', 'the others answered first');
  t.same(order.slice(0, 2).sort(), ['ok1 ok', 'ok2 ok']);
  const err = await failure(hanging);
  t.match(err.message, /no reply to get-interface-information from hangs \(127\.20\.8\.3:18830\) within/);
  t.ok(Date.now() - started < 2500 + 2000, 'ended near its deadline');
  t.equal(pool.size, 2, 'the timed-out session was destroyed');

  const failed = await failure(pool.rpc(target('fails'), RPCS[0]!.body, never, deadline()));
  t.equal(failed.reason, 'rpc_error');
  t.match(failed.message, 'get-interface-information on fails (127.20.8.4:18830) failed: simulated failure: mgd is busy');
  // The device answered properly: the session stays for the next RPC.
  t.equal((await failure(pool.rpc(target('fails'), RPCS[1]!.body, never, deadline()))).reason, 'rpc_error');
  t.equal(pool.counters.opened, 4);
  await pool.close();
});

t.test('an abort ends the RPC and the session', async (t) => {
  const session = await NetconfSession.open(target('hangs'), options(), never, deadline());
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 100);
  const err = await failure(session.rpc(RPCS[0]!.body, controller.signal, deadline()));
  t.equal(err.reason, 'aborted');
  t.notOk(session.open);
  t.equal((await failure(session.rpc(RPCS[0]!.body, never, deadline()))).reason, 'session_closed');
});

t.test('connect errors and an oversize reply', async (t) => {
  const refused = await failure(NetconfSession.open({ host: '127.20.8.99', port: PORT }, options(), never, deadline()));
  t.equal(refused.reason, 'connect_error');
  t.match(refused.message, /ECONNREFUSED/);
  const small = await NetconfSession.open(target('ok1'), options({ maxMessageBytes: 4096 }), never, deadline());
  const big = await failure(small.rpc(RPCS[0]!.body, never, deadline()));
  t.equal(big.reason, 'framing_error');
  t.match(big.message, /grew past 4096 bytes/);
});
