/**
 * Export for the NDTwin Web-GUI and Network-Traffic-Visualizer: flow and graph
 * files they load as they are — flow key `flow_info`, records paired by tick
 * (the i-th flow line and the i-th graph line are the same moment), `\n` line
 * ends, integer timestamps, and files split before they reach 100 MB (the
 * clients struggle above that). Bytes are otherwise those recorded.
 */
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { formatWindowTime } from '../sinks/window-naming.js';
import type { StreamCatalog } from './catalog.js';
import { readRecords, renameWrappedKey, type ArchivedRecord, type ReadOptions } from './records.js';

export interface GuiExportOptions extends ReadOptions {
  outDir: string;
  /** Tick interval, used to pair records: a flow and a graph record pair when less than half of it apart. */
  intervalMs: number;
  /** Each file stays below this (default 100 MB). */
  maxFileBytes?: number;
  flowKeyFrom?: string;
}

export interface GuiExportResult {
  files: string[];
  pairs: number;
  unpairedFlow: number;
  unpairedGraph: number;
}

const DEFAULT_MAX_FILE_BYTES = 100_000_000;
const NEWLINE = Buffer.from('\n');

export async function exportForGui(flow: StreamCatalog, graph: StreamCatalog, opts: GuiExportOptions): Promise<GuiExportResult> {
  const max = opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const result: GuiExportResult = { files: [], pairs: 0, unpairedFlow: 0, unpairedGraph: 0 };
  const flows = readRecords(flow, opts);
  const graphs = readRecords(graph, opts);
  let f = await next(flows);
  let g = await next(graphs);
  let part: { flow: FileHandle; graph: FileHandle; flowBytes: number; graphBytes: number } | undefined;
  try {
    while (f && g) {
      if (Math.abs(f.timestamp - g.timestamp) * 2 >= opts.intervalMs) {
        // Not the same tick: the earlier one has no partner.
        if (f.timestamp < g.timestamp) {
          result.unpairedFlow++;
          f = await next(flows);
        } else {
          result.unpairedGraph++;
          g = await next(graphs);
        }
        continue;
      }
      const flowLine = renameWrappedKey(f.line, opts.flowKeyFrom ?? 'flowinfo', 'flow_info');
      if (part && (part.flowBytes + flowLine.length + 1 >= max || part.graphBytes + g.line.length + 1 >= max)) {
        await closePart(part);
        part = undefined;
      }
      if (!part) {
        const base = formatWindowTime(Math.min(f.timestamp, g.timestamp));
        const flowPath = path.join(opts.outDir, `${base}_flowinfo.json`);
        const graphPath = path.join(opts.outDir, `${base}_graphinfo.json`);
        part = { flow: await open(flowPath, 'wx'), graph: await open(graphPath, 'wx'), flowBytes: 0, graphBytes: 0 };
        result.files.push(flowPath, graphPath);
      }
      await part.flow.write(Buffer.concat([flowLine, NEWLINE]));
      await part.graph.write(Buffer.concat([g.line, NEWLINE]));
      part.flowBytes += flowLine.length + 1;
      part.graphBytes += g.line.length + 1;
      result.pairs++;
      f = await next(flows);
      g = await next(graphs);
    }
    while (f) {
      result.unpairedFlow++;
      f = await next(flows);
    }
    while (g) {
      result.unpairedGraph++;
      g = await next(graphs);
    }
  } finally {
    if (part) await closePart(part);
  }
  return result;
}

async function next(it: AsyncGenerator<ArchivedRecord>): Promise<ArchivedRecord | undefined> {
  const r = await it.next();
  return r.done ? undefined : r.value;
}

async function closePart(part: { flow: FileHandle; graph: FileHandle }): Promise<void> {
  await part.flow.close();
  await part.graph.close();
}
