/**
 * Link utilisation of graph data for `nsr stats`: `link_bandwidth_utilization_percent`
 * over all edges of each record, read by a byte scan (no JSON.parse of 140 KB records),
 * summed for the report and bucketed for the chart.
 */
import { Buckets } from './buckets.js';
import { round2, type StatsReport, type StatsSeries } from './report.js';

/** Mean and max of `link_bandwidth_utilization_percent` over the edges of a graph record; read by a byte scan. */
export function linkUtilisation(line: Buffer): { mean: number; max: number; links: number } | undefined {
  let sum = 0;
  let max = -Infinity;
  let links = 0;
  for (let at = line.indexOf(UTIL_KEY); at !== -1; at = line.indexOf(UTIL_KEY, at)) {
    at += UTIL_KEY.length;
    while (line[at] === 0x20) at++;
    let end = at;
    // -0123456789.eE+
    while (end < line.length && ((line[end] >= 0x30 && line[end] <= 0x39) || line[end] === 0x2e || line[end] === 0x2d || line[end] === 0x2b || line[end] === 0x65 || line[end] === 0x45)) end++;
    const v = Number(line.toString('latin1', at, end));
    if (end === at || !Number.isFinite(v)) continue;
    sum += v;
    if (v > max) max = v;
    links++;
  }
  return links ? { mean: sum / links, max, links } : undefined;
}
const UTIL_KEY = Buffer.from('"link_bandwidth_utilization_percent":');

/** Utilisation over the records of a range; records that are not graph data are left out. */
export class UtilisationTally {
  private records = 0;
  private sum = 0;
  private max = -Infinity;
  private maxAt = 0;
  private readonly buckets: Buckets;

  constructor(bucketWidth: number) {
    this.buckets = new Buckets(bucketWidth);
  }

  add(ts: number, line: Buffer): void {
    const u = linkUtilisation(line);
    if (!u) return;
    this.records++;
    this.sum += u.mean;
    if (u.max > this.max) {
      this.max = u.max;
      this.maxAt = ts;
    }
    this.buckets.add('sum', ts, u.mean);
    this.buckets.add('n', ts, 1);
    this.buckets.max('max', ts, u.max);
  }

  report(): StatsReport['utilisation'] {
    return this.records ? { records: this.records, mean_percent: round2(this.sum / this.records), max_percent: round2(this.max), max_at: this.maxAt } : null;
  }

  /** Per bucket, mean of the records' mean utilisation, and the max of their max. */
  series(): StatsSeries['utilisation'] {
    const util = this.buckets;
    const utilN = util.values('n');
    return this.records
      ? {
          origin: util.origin!,
          width: util.width,
          mean: util.values('sum').map((s, i) => (utilN[i] ? s / utilN[i] : null)),
          max: util.values('max').map((m, i) => (utilN[i] ? m : null)),
        }
      : null;
  }
}
