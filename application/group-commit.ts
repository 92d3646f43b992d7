import { outsideClinicWrite } from '../db/tenant-scope';

/**
 * Writes callers' items in group commits, one queue per key. An operation log is a hash chain per
 * clinic (and one for the platform): every insert holds its chain's head until commit, so
 * concurrent writers of one chain queue on it, each for an insert, a round trip and a commit's
 * flush. Here items that arrive while a key's batch is being written wait for the next batch,
 * which writes them all in one statement and one commit (one pooled connection per key at a
 * time). Each caller still waits for the commit of its own item, so it answers only once its item
 * is durable, and learns if it failed. Past `maxWaiting` items in all, or `maxWaitingPerKey` for
 * one key, writes are refused at once (the caller answers 503) rather than let memory or latency
 * grow without bound.
 */
interface Waiting<T> {
  item: T;
  settle: (err?: unknown) => void;
}

export interface GroupCommitOptions<K, T> {
  writeBatch: (key: K, items: T[]) => Promise<void>;
  maxBatch: number;
  maxWaiting: number;
  /** At most this many items waiting for one key: one stuck key (a clinic's chain head held elsewhere) must not fill maxWaiting for all. */
  maxWaitingPerKey: number;
  /** The error for a refused write, and for a failed batch that threw nothing useful. */
  unavailable: (reason: string) => Error;
}

export class GroupCommit<K, T> {
  private readonly queues = new Map<K, Waiting<T>[]>();
  private waiting = 0;

  constructor(private readonly opts: GroupCommitOptions<K, T>) {}

  write(key: K, item: T): Promise<void> {
    if (this.waiting >= this.opts.maxWaiting) return Promise.reject(this.opts.unavailable('too many entries waiting'));
    if ((this.queues.get(key)?.length ?? 0) >= this.opts.maxWaitingPerKey) return Promise.reject(this.opts.unavailable('too many entries waiting for one key'));
    return new Promise<void>((resolve, reject) => {
      let queue = this.queues.get(key);
      const idle = queue === undefined;
      if (!queue) {
        queue = [];
        this.queues.set(key, queue);
      }
      queue.push({ item, settle: (err) => (err === undefined ? resolve() : reject(err)) });
      this.waiting += 1;
      if (idle) void outsideClinicWrite(() => this.drain(key, queue));
    });
  }

  /**
   * Takes the key for the caller if nothing is queued or being written for it: the caller writes
   * its own item (in a transaction of its making) and must call the returned release once that
   * has committed or failed. Items written meanwhile queue behind it, as behind a batch, and are
   * written after the release. Undefined if the key is busy (then use write). Synchronous, so a
   * caller can decide without an await between the check and the claim.
   */
  claim(key: K): (() => void) | undefined {
    if (this.queues.has(key)) return undefined;
    const queue: Waiting<T>[] = [];
    this.queues.set(key, queue);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      void outsideClinicWrite(() => this.drain(key, queue));
    };
  }

  /** Items queued and not yet committed or failed (for tests and metrics). */
  get pending(): number {
    return this.waiting;
  }

  private async drain(key: K, queue: Waiting<T>[]): Promise<void> {
    try {
      while (queue.length > 0) {
        const batch = queue.splice(0, this.opts.maxBatch);
        try {
          await this.opts.writeBatch(key, batch.map((w) => w.item));
          for (const w of batch) w.settle();
        } catch (err) {
          for (const w of batch) w.settle(err ?? this.opts.unavailable('write failed'));
        } finally {
          this.waiting -= batch.length;
        }
      }
    } finally {
      // Nothing awaits between the empty check and here, so no item can be left behind.
      this.queues.delete(key);
    }
  }
}
