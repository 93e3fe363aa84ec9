/**
 * `retention:` — how long and how much of the archives are kept. Globally
 * (`output.retention`: `max_age` for every stream, `max_bytes` for the whole
 * output directory) and per stream (`streams.<name>.retention`: that stream's
 * own age and byte limits). Without any, nothing is ever removed.
 */
import { z } from 'zod';
import { retentionFields } from './schema-types.js';

export const globalRetentionSchema = z
  .strictObject(retentionFields())
  .optional()
  .meta({ description: 'remove the oldest zipped windows: max_age for every stream (one with its own retention keeps its own), max_bytes for everything nsr keeps in the output directory (zips, window files not yet zipped, the index). Open windows, windows not yet zipped, windows a sink still reads back and windows whose on_window hook has not succeeded are never removed' });

export interface RetentionPolicy {
  maxAgeMs?: number;
  maxBytes?: number;
}

export function retentionPolicy(raw: { max_age?: number; max_bytes?: number } | undefined): RetentionPolicy | undefined {
  if (!raw || (raw.max_age === undefined && raw.max_bytes === undefined)) return undefined;
  return { maxAgeMs: raw.max_age, maxBytes: raw.max_bytes };
}
