/**
 * Task queues. One for now: every workflow and activity of the product. A queue of its own is
 * worth it once a kind of work needs separate scaling or isolation (e.g. backups, bulk mail).
 */
export const taskQueues = (base: string) => ({
  main: base,
});
