// The simulators' ed25519 key pairs are ones ssh2 reads back. ssh2's own
// generateKeyPairSync makes an unreadable pair about once in 256 draws (a
// junos e2e test failed so); 2000 draws would meet that ~8 times.
import t from 'tap';
import ssh2 from 'ssh2';
import { sshKeyPair } from '../src/simulate/ssh-key-pair.js';

t.test('2000 key pairs, each read back by ssh2 (public and private)', async (t) => {
  let unreadable = 0;
  for (let i = 0; i < 2000; i++) {
    const pair = sshKeyPair();
    if (ssh2.utils.parseKey(pair.public) instanceof Error || ssh2.utils.parseKey(pair.private) instanceof Error) unreadable++;
  }
  t.equal(unreadable, 0);
});

t.test('a passphrase-protected pair opens with its passphrase only', async (t) => {
  const pair = sshKeyPair({ passphrase: 'key-pass', cipher: 'aes256-ctr' });
  t.notOk(ssh2.utils.parseKey(pair.private, 'key-pass') instanceof Error, 'with the passphrase');
  t.ok(ssh2.utils.parseKey(pair.private, 'wrong') instanceof Error, 'not with another');
});
