/** Shared by the control-plane tests: finding a recorder's control server, its token, and raw HTTP with any headers. */
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import path from 'node:path';
import { sleep, type NsrProcess } from './helpers.js';

/** Waits for the control URL on the lock file's second line (the first holds the pid and its start time). */
export async function controlUrl(dir: string, nsr: NsrProcess, timeoutMs = 10_000): Promise<string> {
  const lock = path.join(dir, 'recorded_info', '.nsr.lock');
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const lines = existsSync(lock) ? readFileSync(lock, 'utf8').split('\n') : [];
    if (lines[1]) {
      if (lines[0].split(' ')[0] !== String(nsr.pid)) throw new Error(`lock holds pid ${lines[0]}, not ${nsr.pid}`);
      return lines[1];
    }
    await sleep(50);
  }
  throw new Error(`no control URL in ${lock}:\n${nsr.output()}`);
}

/** The token a recorder without control.token wrote for its commands. */
export function controlToken(dir: string): string {
  return readFileSync(path.join(dir, 'recorded_info', '.nsr.control-token'), 'utf8').trim();
}

/** The headers a command needs: the recorder's token and a JSON body. */
export function commandHeaders(dir: string): Record<string, string> {
  return { authorization: `Bearer ${controlToken(dir)}`, 'content-type': 'application/json' };
}

export interface RawResponse {
  status: number;
  text: string;
  json: () => any;
}

/** An HTTP request with exactly these headers (fetch will not send a Host of our choosing). */
export function rawRequest(url: string, opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? 'GET', headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, text, json: () => JSON.parse(text) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}
