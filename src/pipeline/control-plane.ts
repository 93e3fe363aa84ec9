/**
 * Starting the control server: its token (the configured one, or one of the
 * recorder's own written into the output directory for its user before the URL
 * is announced), then the URL on the lock's second line, where `nsr status`
 * finds it.
 */
import type { ControlConfig } from '../config/loader.js';
import type { RecorderView } from '../control/view.js';
import type { ControlServer } from '../control/control-server.js';
import type { Logger } from '../logging/logger.js';
import { controlTokenFile, createControlToken, removeControlToken } from './control-token.js';
import { announceControlUrl } from './lock-file.js';

export interface ControlPlane {
  server: ControlServer;
  /** Removes the generated token file (at stop, with the lock); nothing for a configured token. */
  removeToken(): void;
}

export async function startControlPlane(outputDir: string, view: RecorderView, control: ControlConfig, log: Logger): Promise<ControlPlane> {
  const { ControlServer } = await import('../control/control-server.js');
  const configured = control.token;
  const generated = configured ? undefined : createControlToken(outputDir);
  const tokenFile = configured ? undefined : controlTokenFile(outputDir);
  const removeToken = () => {
    if (!generated) return;
    try {
      removeControlToken(outputDir);
    } catch {
      /* the lock still goes */
    }
  };
  try {
    const server = new ControlServer(view, control, (configured ?? generated)!, tokenFile);
    const url = await server.listen();
    announceControlUrl(outputDir, url);
    log.info({ url, auth: configured ? 'bearer token on every request' : `reads open on loopback; commands need the token in ${tokenFile}` }, 'control server listening');
    return { server, removeToken };
  } catch (err) {
    removeToken();
    throw err;
  }
}
