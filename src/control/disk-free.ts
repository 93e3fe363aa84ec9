/** Free disk space, apart from metrics.ts so that /status need not load prom-client. */
import { statfs } from 'node:fs/promises';

/** Free bytes for an unprivileged user on the output directory's file system. */
export async function diskFreeBytes(dir: string): Promise<number | undefined> {
  try {
    const s = await statfs(dir);
    return s.bavail * s.bsize;
  } catch {
    return undefined;
  }
}
