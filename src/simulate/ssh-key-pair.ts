/**
 * An ed25519 key pair for the simulated devices and their tests, one that
 * ssh2 can read back. ssh2's generateKeyPairSync strips leading zero bytes
 * from the public key, so about 1 pair in 256 comes out malformed and
 * parseKey refuses it (mscdex/ssh2 issues 1390 and 1513; measured here: 16 of
 * 5000). Such a pair is thrown away and another drawn.
 */
import ssh2 from 'ssh2';

/** With a passphrase, the private key is encrypted with `cipher` (e.g. aes256-ctr); ssh2 picks the bcrypt rounds. */
type KeyPairOptions = { passphrase?: string; cipher?: string };

export function sshKeyPair(opts: KeyPairOptions = {}): { private: string; public: string } {
  for (let attempt = 1; ; attempt++) {
    // ssh2's types ask for rounds alongside a passphrase; its code has a default for them.
    const pair = ssh2.utils.generateKeyPairSync('ed25519', opts as Parameters<typeof ssh2.utils.generateKeyPairSync>[1]);
    if (!(ssh2.utils.parseKey(pair.public) instanceof Error) && !(ssh2.utils.parseKey(pair.private, opts.passphrase) instanceof Error)) return pair;
    // Each draw fails with p ~ 1/256: 16 failures in a row mean something else is wrong.
    if (attempt >= 16) throw new Error('ssh2 produced 16 ed25519 key pairs in a row it cannot read back');
  }
}
