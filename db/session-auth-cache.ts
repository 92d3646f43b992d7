/**
 * What session_auth() answered for a token, kept in the API process with the clinic's
 * authentication generation it was read at (db/migrations/20270111000001_session_auth_generation.ts).
 * An answer is used again only after PostgreSQL confirmed, on that same request, that the clinic's
 * generation has not moved since: the cache saves the read, never the check, so nothing that
 * changed in the database is ever answered from here.
 *
 * Keyed by the token's SHA-256 (as the database keys sessions), never the token; bounded, least
 * recently used first out. Only answers that found a session are kept.
 */
export interface KeptAnswer<R> {
  tenantId: string;
  /** The clinic's generation read in the same statement as `record` (int8: a decimal string). */
  generation: string;
  record: R;
}

export class SessionAuthCache<R = unknown> {
  private readonly entries = new Map<string, KeptAnswer<R>>();

  constructor(readonly maxEntries: number) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new Error('SessionAuthCache: maxEntries must be a positive integer');
  }

  get size(): number {
    return this.entries.size;
  }

  get(tokenHash: Buffer): KeptAnswer<R> | undefined {
    const key = tokenHash.toString('base64');
    const kept = this.entries.get(key);
    if (kept) {
      // Most recently used last: Map keeps insertion order, so eviction takes the first key.
      this.entries.delete(key);
      this.entries.set(key, kept);
    }
    return kept;
  }

  set(tokenHash: Buffer, answer: KeptAnswer<R>): void {
    const key = tokenHash.toString('base64');
    this.entries.delete(key);
    this.entries.set(key, answer);
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  delete(tokenHash: Buffer): void {
    this.entries.delete(tokenHash.toString('base64'));
  }
}
