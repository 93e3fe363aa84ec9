/**
 * What bin/nsr loads: the bundle (scripts/bundle.mjs: fewer files to read and
 * compile, a faster start), unless tsc wrote dist/ after it. Then the bundle is
 * older than the code and dist/cli/ is run (a `tsc` without the bundle step).
 */
import { statSync } from 'node:fs';

const mtime = (rel: string) => statSync(new URL(rel, import.meta.url), { throwIfNoEntry: false })?.mtimeMs;
const bundled = mtime('./bundle/main.js');
const compiled = mtime('./cli/main.js');
await import(bundled !== undefined && (compiled === undefined || bundled >= compiled) ? './bundle/main.js' : './cli/main.js');
