// Which sequence markers were served completely, by path: what a correct client records.
// Tests and soaks compare an archive with it. Only complete, valid answers go in (normal
// ones and `large` ones); a marker handed out in a faulty answer uses up a number but is
// never listed.

export interface ServedLedger {
  [path: string]: number[];
}

export class ServedLog {
  private seq = 0;
  private readonly ledger: ServedLedger = {};
  /** When each ledger entry completed (epoch ms): lets a soak tell a loss at a kill from any other. */
  private readonly servedAt = new Map<number, number>();

  /** The next sequence number (shared by recorded and unrecorded answers). */
  next(): number {
    return ++this.seq;
  }

  /** An answer carrying `seq` reached the client completely at `at`. */
  complete(path: string, seq: number, at: number): void {
    (this.ledger[path] ??= []).push(seq);
    this.servedAt.set(seq, at);
  }

  copy(): ServedLedger {
    const copy: ServedLedger = {};
    for (const [k, v] of Object.entries(this.ledger)) copy[k] = v.slice();
    return copy;
  }

  /** What `GET /sim/served` answers: the ledger, with `times` also when each entry completed. */
  toJson(times: boolean): unknown {
    return times ? { ledger: this.ledger, served_at: Object.fromEntries(this.servedAt) } : this.ledger;
  }
}
