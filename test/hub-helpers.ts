/** Shared by the hub tests: talking to the hub's command port as EGG's tools do. */
import net from 'node:net';

/** Sends command lines to the hub's command port and returns what it answered (read until it goes quiet). */
export function hubCommands(port: number, lines: string[], quietMs = 300): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(lines.map((l) => `${l}\n`).join('')));
    let text = '';
    let timer = setTimeout(() => socket.end(), quietMs * 3);
    socket.on('data', (d) => {
      text += d;
      clearTimeout(timer);
      timer = setTimeout(() => socket.end(), quietMs);
    });
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
  });
}

