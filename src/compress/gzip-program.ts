/**
 * Which gzip the compression pool runs (`compression.program`): `node` means
 * none (nsr's own Node worker), an absolute path is taken as given, and a
 * name is looked up on PATH once, at start, as a shell would. No gzip found:
 * undefined, and windows are compressed by the Node worker as before.
 */
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';

export function gzipProgram(setting: string, searchPath = process.env.PATH ?? ''): string | undefined {
  if (setting === 'node') return undefined;
  if (path.isAbsolute(setting)) return setting;
  for (const dir of searchPath.split(path.delimiter)) {
    if (!path.isAbsolute(dir)) continue; // a relative PATH entry would depend on the working directory
    const candidate = path.join(dir, setting);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}
