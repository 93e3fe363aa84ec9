/**
 * The NETCONF/SSH transport of a junos stream (`transport: netconf`): its
 * `netconf:` settings, and the three RPCs the agent sent through ncclient, on
 * sessions kept between cycles (netconf-pool.ts). Host keys are always
 * verified (host-keys.ts): the agent ran with hostkey_verify=False, so anyone
 * on the path could read its router credentials.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { z } from 'zod';
import { ConfigError } from '../../config/errors.js';
import { resolveSecret } from '../../config/secrets.js';
import { secret } from '../../config/schema-types.js';
import { HostKeyVerifier } from './host-keys.js';
import { NetconfPool } from './netconf-pool.js';
import { JUNOS_NETCONF_RPCS } from './netconf-rpcs.js';
import type { DeviceTransport } from './junos-transport.js';

/** A reply bigger than this is refused unless max_body_size says otherwise (a large router's interfaces run to a few MB). */
const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

export const netconfSchema = z
  .strictObject({
    private_key_file: z.string().min(1).optional().meta({ description: 'an OpenSSH or PEM private key for the SSH login (tried before the password)' }),
    passphrase: secret('the private key’s passphrase; write it as ${JUNOS_KEY_PASSPHRASE}'),
    passphrase_file: z.string().min(1).optional().meta({ description: 'a file holding the passphrase (instead of passphrase)' }),
    keep_sessions: z.boolean().default(true).meta({ description: 'keep each device’s session open between cycles (one SSH handshake per device, not per cycle)' }),
    host_keys: z
      .strictObject({
        known_hosts: z.string().min(1).optional().meta({ description: 'an OpenSSH known_hosts file ([host]:830 entries); with first_contact: remember, new keys are added to it' }),
        fingerprints: z
          .record(z.string().min(1), z.union([z.string().regex(/^SHA256:[A-Za-z0-9+/]{43}$/, { error: 'expected SHA256:<43 base64 characters>, as ssh-keygen -lf prints it' }), z.array(z.string().regex(/^SHA256:[A-Za-z0-9+/]{43}$/)).min(1)]))
          .optional()
          .meta({ description: 'pinned host key fingerprints, by device name or address: {r1: "SHA256:…"}' }),
        first_contact: z.enum(['refuse', 'remember']).meta({ description: 'a device whose key is in neither: refuse it, or remember its first key in known_hosts (trust on first use); required: the choice is yours' }),
      })
      .meta({ description: 'how device host keys are verified (always: a mismatch is refused with an event)' }),
  })
  .optional()
  .meta({ description: 'NETCONF/SSH settings (transport: netconf)' });

export type NetconfOptions = NonNullable<z.output<typeof netconfSchema>>;


export interface NetconfTransportOptions {
  where: string;
  username: string;
  password: string | undefined;
  options: NetconfOptions;
  maxMessageBytes: number | undefined;
  outputDir: string | undefined;
}

const expandHome = (p: string) => (p === '~' || p.startsWith('~/') ? homedir() + p.slice(1) : p);

export function netconfTransport(o: NetconfTransportOptions): DeviceTransport {
  const { host_keys: hk } = o.options;
  if (hk.first_contact === 'remember' && !hk.known_hosts) {
    throw new ConfigError(`${o.where}.netconf.host_keys.first_contact: remember needs known_hosts (the file the first keys are written to); add known_hosts: ~/.ssh/known_hosts or a file of nsr's own`);
  }
  if (!hk.known_hosts && !hk.fingerprints && hk.first_contact === 'refuse') {
    throw new ConfigError(`${o.where}.netconf.host_keys: no known_hosts and no fingerprints, with first_contact: refuse: every device would be refused; add known_hosts: ~/.ssh/known_hosts or fingerprints: {<device>: "SHA256:…"}`);
  }
  let privateKey: Buffer | undefined;
  if (o.options.private_key_file) {
    const file = expandHome(o.options.private_key_file);
    try {
      privateKey = readFileSync(file);
    } catch (err) {
      throw new ConfigError(`${o.where}.netconf.private_key_file: cannot read ${o.options.private_key_file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); check the path and that the recorder's user may read it`);
    }
  }
  const passphrase = resolveSecret(`${o.where}.netconf`, 'passphrase', o.options.passphrase, o.options.passphrase_file);
  // Neither set: SSH's "none" method is tried; a device that wants more refuses with auth_failed, an event naming both settings.
  const hostKeys = new HostKeyVerifier({ knownHostsFile: hk.known_hosts ? expandHome(hk.known_hosts) : undefined, pinned: hk.fingerprints, firstContact: hk.first_contact });
  const pool = new NetconfPool({ username: o.username, password: o.password, privateKey, passphrase, hostKeys, keepSessions: o.options.keep_sessions, maxMessageBytes: o.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES });
  let seen = { ...pool.counters };
  return {
    name: 'netconf',
    format: 'xml',
    rpc: (d, key, signal, deadline) => pool.rpc({ host: d.host.replace(/^\[|\]$/g, ''), port: d.port, name: (d as { label?: string }).label }, JUNOS_NETCONF_RPCS[key], signal, deadline),
    // Per cycle: what this cycle opened, reused and opened again after a device closed a kept session.
    counters: () => {
      const now = { ...pool.counters };
      const delta = { sessions_opened: now.opened - seen.opened, sessions_reused: now.reused - seen.reused, sessions_reopened: now.reopened - seen.reopened };
      seen = now;
      return delta;
    },
    endCycle: () => pool.endCycle(),
    close: () => void pool.close(),
  };
}
