// Host key decisions: known_hosts forms (patterns, [host]:port, hashed, @revoked,
// @cert-authority), pinned fingerprints, and the first-contact policies.
import t from 'tap';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { HostKeyVerifier, knownHostsName, sshKeyFingerprint, sshKeyType } from '../src/sources/junos/host-keys.js';
import { sshKeyPair } from '../src/simulate/ssh-key-pair.js';

const { utils } = ssh2;
const dir = mkdtempSync(join(tmpdir(), 'nsr-host-keys-'));
function keyPair(): { blob: Buffer; line: string } {
  const pub = utils.parseKey(sshKeyPair().public);
  if (pub instanceof Error || Array.isArray(pub)) throw new Error('key');
  const blob = pub.getPublicSSH();
  return { blob, line: `ssh-ed25519 ${blob.toString('base64')}` };
}
const A = keyPair();
const B = keyPair();
const r1 = { host: '192.0.2.1', port: 830, name: 'r1' };
let n = 0;
const file = (text: string) => {
  const f = join(dir, `known_hosts.${n++}`);
  writeFileSync(f, text);
  return f;
};

t.test('fingerprint and type as ssh-keygen prints them', async (t) => {
  t.equal(sshKeyType(A.blob), 'ssh-ed25519');
  t.equal(sshKeyFingerprint(A.blob), `SHA256:${createHash('sha256').update(A.blob).digest('base64').replace(/=+$/, '')}`);
  t.match(sshKeyFingerprint(A.blob), /^SHA256:[A-Za-z0-9+/]{43}$/);
  t.equal(knownHostsName('h', 22), 'h');
  t.equal(knownHostsName('h', 830), '[h]:830');
});

t.test('known_hosts: bracketed port, comma lists, wildcards, negation, hashed', async (t) => {
  const salt = randomBytes(20);
  const hashed = `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update('[192.0.2.9]:830').digest('base64')}`;
  const f = file(`# comment\n\nr0,[192.0.2.1]:830 ${A.line} comment here\n[192.0.2.2]:22 ${A.line}\n192.0.2.3 ${A.line}\n[192.0.2.1?]:830,![192.0.2.15]:830 ${A.line}\n${hashed} ${A.line}\n`);
  const v = new HostKeyVerifier({ knownHostsFile: f, firstContact: 'refuse' });
  t.match(await v.verify(r1, A.blob), { accept: true, source: `${f} line 3` });
  t.match(await v.verify({ host: '192.0.2.2', port: 830 }, A.blob), { accept: false, reason: 'host_key_unknown' }, '[h]:22 is not port 830');
  t.match(await v.verify({ host: '192.0.2.3', port: 22 }, A.blob), { accept: true }, 'port 22 is written without brackets');
  t.match(await v.verify({ host: '192.0.2.3', port: 830 }, A.blob), { accept: false, reason: 'host_key_unknown' }, 'a plain host is port 22 only');
  t.match(await v.verify({ host: '192.0.2.12', port: 830 }, A.blob), { accept: true }, 'wildcard');
  t.match(await v.verify({ host: '192.0.2.15', port: 830 }, A.blob), { accept: false, reason: 'host_key_unknown' }, 'negated');
  t.match(await v.verify({ host: '192.0.2.9', port: 830 }, A.blob), { accept: true, source: `${f} line 7` }, 'hashed entry');
  const refused = await v.verify(r1, B.blob);
  t.match(refused, { accept: false, reason: 'host_key_mismatch' });
  if (!refused.accept) {
    t.match(refused.message, `r1 (192.0.2.1:830)`);
    t.match(refused.message, `ssh-ed25519 ${sshKeyFingerprint(B.blob)}`, 'offered type and fingerprint');
    t.match(refused.message, `expected ssh-ed25519 ${sshKeyFingerprint(A.blob)} (${f} line 3)`, 'expected fingerprint and where from');
    t.match(refused.message, `ssh-keygen -R '[192.0.2.1]:830' -f '${f}'`, 'the fix');
    t.notMatch(refused.message, B.blob.toString('base64'), 'no key material');
  }
});

t.test('@revoked refuses the key; @cert-authority is ignored with a note', async (t) => {
  const f = file(`@revoked [192.0.2.1]:830 ${A.line}\n[192.0.2.1]:830 ${A.line}\n@cert-authority *.example.net ${B.line}\n`);
  const v = new HostKeyVerifier({ knownHostsFile: f, firstContact: 'remember' });
  t.match(await v.verify(r1, A.blob), { accept: false, reason: 'host_key_revoked', message: /line 1 marks @revoked/ });
  t.match(v.notes.join('\n'), /line 3: @cert-authority ignored/);
});

t.test('pins decide for their device, by name, host:port or host', async (t) => {
  const f = file(`[192.0.2.1]:830 ${B.line}\n`);
  const v = new HostKeyVerifier({ knownHostsFile: f, pinned: { r1: sshKeyFingerprint(A.blob), '192.0.2.5': [sshKeyFingerprint(B.blob), sshKeyFingerprint(A.blob)] }, firstContact: 'refuse' });
  t.match(await v.verify(r1, A.blob), { accept: true, source: 'pinned fingerprint (r1)' });
  const wrong = await v.verify(r1, B.blob);
  t.match(wrong, { accept: false, reason: 'host_key_mismatch', message: new RegExp(`pinned for r1 is ${sshKeyFingerprint(A.blob).replace(/[+/]/g, '\\$&')}`) });
  t.match(await v.verify({ host: '192.0.2.5', port: 830 }, A.blob), { accept: true, source: 'pinned fingerprint (192.0.2.5)' });
  t.throws(() => new HostKeyVerifier({ pinned: { r1: 'MD5:aa:bb' }, firstContact: 'refuse' }), /not a SHA256 fingerprint/);
});

t.test('an IPv6 pin with a port is [addr]:port: it never stands for another address that ends in the port', async (t) => {
  // 2001:db8::1:830 is an address of its own, not 2001:db8::1 at port 830.
  const v = new HostKeyVerifier({ pinned: { '2001:db8::1:830': sshKeyFingerprint(B.blob), '[2001:db8::2]:830': sshKeyFingerprint(A.blob) }, firstContact: 'refuse' });
  t.match(await v.verify({ host: '2001:db8::1', port: 830 }, A.blob), { accept: false, reason: 'host_key_unknown' }, 'no pin applies to 2001:db8::1');
  t.match(await v.verify({ host: '2001:db8::2', port: 830 }, A.blob), { accept: true, source: 'pinned fingerprint ([2001:db8::2]:830)' });
});

t.test('first contact: refuse, or remember (0600, appended once, enforced after)', async (t) => {
  const refuse = new HostKeyVerifier({ firstContact: 'refuse' });
  t.match(await refuse.verify(r1, A.blob), { accept: false, reason: 'host_key_unknown', message: /no known_hosts file configured.*ssh-keyscan -p 830 192\.0\.2\.1/ });
  t.throws(() => new HostKeyVerifier({ firstContact: 'remember' }), /needs a known_hosts file/);

  const f = join(dir, 'remembered');
  const v = new HostKeyVerifier({ knownHostsFile: f, firstContact: 'remember' });
  const both = await Promise.all([v.verify(r1, A.blob), v.verify(r1, A.blob)]);
  t.match(both, [{ accept: true }, { accept: true }]);
  t.equal(readFileSync(f, 'utf8'), `[192.0.2.1]:830 ${A.line}\n`, 'one line, however many sessions met the device at once');
  t.equal(statSync(f).mode & 0o777, 0o600);
  t.match(await v.verify(r1, A.blob), { accept: true, source: `${f} line 1` });
  t.match(await v.verify(r1, B.blob), { accept: false, reason: 'host_key_mismatch' });
  // A new verifier (a restart) reads what was remembered.
  t.match(await new HostKeyVerifier({ knownHostsFile: f, firstContact: 'remember' }).verify(r1, B.blob), { accept: false, reason: 'host_key_mismatch' });

  const noNewline = file(`r9 ${B.line}`);
  await new HostKeyVerifier({ knownHostsFile: noNewline, firstContact: 'remember' }).verify(r1, A.blob);
  t.equal(readFileSync(noNewline, 'utf8'), `r9 ${B.line}\n[192.0.2.1]:830 ${A.line}\n`, 'a last line without newline is not glued to');

  const link = join(dir, 'link');
  symlinkSync(join(dir, 'elsewhere'), link);
  await t.rejects(new HostKeyVerifier({ knownHostsFile: link, firstContact: 'remember' }).verify(r1, A.blob), /ELOOP|symbolic/, 'never appends through a symlink');
});
