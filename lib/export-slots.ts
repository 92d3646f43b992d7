/**
 * Long exports (the operation-log CSV, later full data exports) each hold a database connection
 * for as long as the client reads. They run in a bounded number of slots per process, at most
 * one per clinic, so no clinic's downloads can take the connections every other request needs.
 * A request that finds no free slot is refused at once (429 with Retry-After), never queued.
 */
export class ExportSlots {
  private readonly busy = new Set<string>();

  constructor(private readonly max: number) {}

  /** A release function, or undefined when the process or this clinic has no free slot. */
  tryAcquire(tenantId: string): (() => void) | undefined {
    if (this.busy.size >= this.max || this.busy.has(tenantId)) return undefined;
    this.busy.add(tenantId);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.busy.delete(tenantId);
    };
  }

  get inUse(): number {
    return this.busy.size;
  }
}
