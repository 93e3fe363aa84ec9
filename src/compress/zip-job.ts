/** The message a compression worker receives, and what it answers. */
export interface ZipJob {
  id: number;
  jsonPath: string;
  zipPath: string;
  entryName: string;
  level: number;
  comment: string;
  /** Size of the window file, when known: the pool picks gzip or a Node worker by it. */
  bytes?: number;
  /** Entry modification time (epoch ms): the window's last record, so zips are reproducible. */
  mtime: number;
}

export type ZipResult =
  | { id: number; ok: true; bytesIn: number; bytesOut: number; ms: number }
  | { id: number; ok: false; error: string; code?: string };
