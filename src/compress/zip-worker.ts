/**
 * Child process of the CompressionPool: deflate is CPU work, and running it
 * here keeps the recorder's event loop (and so its tick timing) free.
 */
import { writeZip } from './write-zip.js';
import type { ZipJob, ZipResult } from './zip-job.js';

if (!process.send) {
  process.stderr.write('zip-worker: must be started by the compression pool (child_process.fork)\n');
  process.exit(2);
}

process.on('message', async (job: ZipJob) => {
  const started = performance.now();
  let result: ZipResult;
  try {
    const { bytesIn, bytesOut } = await writeZip(job);
    result = { id: job.id, ok: true, bytesIn, bytesOut, ms: performance.now() - started };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    result = { id: job.id, ok: false, error: e.message, code: e.code };
  }
  process.send!(result);
});

// The pool closes the IPC channel only when it has no job for us: then exit.
process.on('disconnect', () => process.exit(0));
