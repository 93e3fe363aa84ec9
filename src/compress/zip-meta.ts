/**
 * Metadata every zip carries in its archive comment, so listing and verifying
 * archives needs no side index: `{"nsr":1,"stream":…,"records":…,"first":…,"last":…,"bytes":…}`,
 * and for an events window `"marked":…` (its run marks, logging/run-marks.ts).
 */
import type { WindowMeta } from '../sinks/window-writer.js';

export interface ZipMeta extends WindowMeta {
  nsr: 1;
}

export function encodeZipComment(meta: WindowMeta): string {
  const { stream, records, first, last, bytes, marked } = meta;
  return JSON.stringify({ nsr: 1, stream, records, first, last, bytes, marked });
}

export function decodeZipComment(comment: string): ZipMeta | undefined {
  try {
    const meta = JSON.parse(comment);
    return meta && meta.nsr === 1 ? (meta as ZipMeta) : undefined;
  } catch {
    return undefined;
  }
}
