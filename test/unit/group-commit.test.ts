import { GroupCommit } from '../../application/group-commit';

/**
 * The group commit under the operation logs' writers (platform log, clinic read log): batches,
 * who waits for what, failures, the bound and independent keys. The batch writer is a fake whose
 * commits the test releases one by one, so nothing depends on timing.
 */
function harness(limits = { maxBatch: 100, maxWaiting: 1_000 }) {
  const batches: Array<{ key: string; items: number[]; commit: () => void; fail: (err: Error) => void }> = [];
  const commits = new GroupCommit<string, number>({
    ...limits,
    writeBatch: (key, items) =>
      new Promise<void>((resolve, reject) => {
        batches.push({ key, items, commit: resolve, fail: reject });
      }),
    unavailable: (reason) => new Error(`unavailable: ${reason}`),
  });
  const settled = new Map<number, 'done' | string>();
  const write = (key: string, item: number) =>
    commits.write(key, item).then(
      () => void settled.set(item, 'done'),
      (err: Error) => void settled.set(item, err.message),
    );
  return { commits, batches, settled, write };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('GroupCommit', () => {
  it('writes the first item at once and those that arrive meanwhile together in the next batch; each caller waits for its own batch', async () => {
    const h = harness();
    const first = h.write('clinic-a', 1);
    const rest = [2, 3, 4].map((i) => h.write('clinic-a', i));
    await flush();
    expect(h.batches.map((b) => b.items)).toEqual([[1]]);
    h.batches[0]!.commit();
    await first;
    expect(h.settled.get(1)).toBe('done');
    expect([2, 3, 4].map((i) => h.settled.get(i))).toEqual([undefined, undefined, undefined]);
    await flush();
    expect(h.batches.map((b) => b.items)).toEqual([[1], [2, 3, 4]]);
    h.batches[1]!.commit();
    await Promise.all(rest);
    expect([2, 3, 4].map((i) => h.settled.get(i))).toEqual(['done', 'done', 'done']);
    expect(h.commits.pending).toBe(0);
  });

  it('fails exactly the callers of a failed batch; the next batch is written', async () => {
    const h = harness();
    const all = [h.write('a', 1), h.write('a', 2), h.write('a', 3)];
    await flush();
    h.batches[0]!.fail(new Error('connection lost'));
    await flush();
    h.batches[1]!.commit();
    await Promise.all(all);
    expect([1, 2, 3].map((i) => h.settled.get(i))).toEqual(['connection lost', 'done', 'done']);
  });

  it('splits at maxBatch', async () => {
    const h = harness({ maxBatch: 2, maxWaiting: 100 });
    const all = [1, 2, 3, 4, 5].map((i) => h.write('a', i));
    for (let n = 0; n < 3; n += 1) {
      await flush();
      h.batches[n]!.commit();
    }
    await Promise.all(all);
    expect(h.batches.map((b) => b.items)).toEqual([[1], [2, 3], [4, 5]]);
  });

  it('refuses at once past maxWaiting, and takes writes again once the queue has drained', async () => {
    const h = harness({ maxBatch: 100, maxWaiting: 2 });
    const admitted = [h.write('a', 1), h.write('b', 2)];
    await h.write('a', 3);
    expect(h.settled.get(3)).toBe('unavailable: too many entries waiting');
    await flush();
    for (const b of h.batches) b.commit();
    await Promise.all(admitted);
    const again = h.write('a', 4);
    await flush();
    h.batches.at(-1)!.commit();
    await again;
    expect(h.settled.get(4)).toBe('done');
  });

  it('keeps keys apart: one clinic\'s slow batch does not hold another clinic\'s', async () => {
    const h = harness();
    const slow = h.write('clinic-a', 1);
    const other = h.write('clinic-b', 2);
    await flush();
    expect(h.batches.map((b) => [b.key, b.items])).toEqual([
      ['clinic-a', [1]],
      ['clinic-b', [2]],
    ]);
    h.batches[1]!.commit();
    await other;
    expect(h.settled.get(2)).toBe('done');
    expect(h.settled.get(1)).toBeUndefined();
    h.batches[0]!.commit();
    await slow;
  });

  it('whenIdle runs the caller\'s own write when the key is idle; writes meanwhile queue behind it and go in one batch after it', async () => {
    const h = harness();
    let finishOwn!: () => void;
    const own = h.commits.whenIdle('a', () => new Promise<string>((r) => (finishOwn = () => r('own write'))));
    const queued = [h.write('a', 1), h.write('a', 2)];
    const busy = await h.commits.whenIdle('a', async () => 'never');
    expect(busy).toEqual({ ran: false });
    await flush();
    expect(h.batches).toHaveLength(0); // nothing is written beside the caller's own transaction
    finishOwn();
    expect(await own).toEqual({ ran: true, value: 'own write' });
    await flush();
    expect(h.batches.map((b) => b.items)).toEqual([[1, 2]]);
    h.batches[0]!.commit();
    await Promise.all(queued);
    expect([h.settled.get(1), h.settled.get(2)]).toEqual(['done', 'done']);
    // Idle again: the next caller writes on its own.
    expect(await h.commits.whenIdle('a', async () => 'next')).toEqual({ ran: true, value: 'next' });
  });

  it('whenIdle passes its work\'s failure on and still writes what queued behind it', async () => {
    const h = harness();
    let failOwn!: (err: Error) => void;
    const own = h.commits.whenIdle('a', () => new Promise<string>((_r, reject) => (failOwn = reject)));
    const queued = h.write('a', 1);
    failOwn(new Error('read failed'));
    await expect(own).rejects.toThrow('read failed');
    await flush();
    h.batches[0]!.commit();
    await queued;
    expect(h.settled.get(1)).toBe('done');
  });
});
