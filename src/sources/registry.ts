/** Every source kind nsr knows. A new kind is one import and one entry here. */
import { z } from 'zod';
import { httpKind } from './http.js';
import { ndtwinKind } from './ndtwin.js';
import type { SourceKind } from './kind.js';

export const SOURCE_KINDS: Record<string, SourceKind> = {
  [ndtwinKind.kind]: ndtwinKind as unknown as SourceKind,
  [httpKind.kind]: httpKind as unknown as SourceKind,
};

export const streamKindSchema = z.discriminatedUnion('kind', [ndtwinKind.schema, httpKind.schema]);
