import { GroupCommit } from '../../application/group-commit';
import { asClinicWrite, inClinicWrite } from '../../db/tenant-scope';

/**
 * The group commit under the operation logs' writers (platform log, clinic read log): batches,
 * who waits for what, failures, the bound and independent keys. The batch writer is a fake whose
 * commits the test releases one by one, so nothing depends on timing.
 */
function harness(limits = { maxBatch: 100, maxWaiting: 1_000, maxWaitingPerKey: 500 }) {
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
  it('writes a batch outside the clinic write of the request that began it: the batch holds other requests\' items too', async () => {
    const seen: boolean[] = [];
    const commits = new GroupCommit<string, number>({
      maxBatch: 100, maxWaiting: 1_000, maxWaitingPerKey: 500,
      writeBatch: async () => void seen.push(inClinicWrite()),
      unavailable: (reason) => new Error(reason),
    });
    await asClinicWrite(async () => {
      expect(inClinicWrite()).toBe(true);
      await commits.write('clinic-a', 1);
      const release = commits.claim('clinic-b')!;
      const queued = commits.write('clinic-b', 2);
      release();
      await queued;
    });
    expect(seen).toEqual([false, false]);
  });

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
    const h = harness({ maxBatch: 2, maxWaiting: 100, maxWaitingPerKey: 100 });
    const all = [1, 2, 3, 4, 5].map((i) => h.write('a', i));
    for (let n = 0; n < 3; n += 1) {
      await flush();
      h.batches[n]!.commit();
    }
    await Promise.all(all);
    expect(h.batches.map((b) => b.items)).toEqual([[1], [2, 3], [4, 5]]);
  });

  it('refuses at once past maxWaiting, and takes writes again once the queue has drained', async () => {
    const h = harness({ maxBatch: 100, maxWaiting: 2, maxWaitingPerKey: 2 });
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

  it('refuses past maxWaitingPerKey for a stuck key while other keys still write', async () => {
    const h = harness({ maxBatch: 100, maxWaiting: 100, maxWaitingPerKey: 2 });
    const stuck = [h.write('a', 1), h.write('a', 2), h.write('a', 3)]; // 1 is being written, 2 and 3 wait
    await h.write('a', 4);
    expect(h.settled.get(4)).toBe('unavailable: too many entries waiting for one key');
    const other = h.write('b', 5);
    await flush();
    h.batches.find((b) => b.key === 'b')!.commit();
    await other;
    expect(h.settled.get(5)).toBe('done');
    h.batches[0]!.commit();
    await flush();
    h.batches.at(-1)!.commit();
    await Promise.all(stuck);
  });

  it('claim gives an idle key to the caller; writes meanwhile queue behind it and go in one batch after the release', async () => {
    const h = harness();
    const release = h.commits.claim('a');
    expect(release).toBeDefined();
    const queued = [h.write('a', 1), h.write('a', 2)];
    expect(h.commits.claim('a')).toBeUndefined(); // busy
    expect(h.commits.claim('b')).toBeDefined(); // other keys are not
    await flush();
    expect(h.batches).toHaveLength(0); // nothing is written beside the caller's own transaction
    release!();
    release!(); // a second release changes nothing
    await flush();
    expect(h.batches.map((b) => b.items)).toEqual([[1, 2]]);
    h.batches[0]!.commit();
    await Promise.all(queued);
    expect([h.settled.get(1), h.settled.get(2)]).toEqual(['done', 'done']);
    expect(h.commits.claim('a')).toBeDefined(); // idle again once drained
  });

  it('a claim released with nothing queued leaves the key idle', async () => {
    const h = harness();
    h.commits.claim('a')!();
    await flush();
    expect(h.commits.claim('a')).toBeDefined();
    expect(h.batches).toHaveLength(0);
  });
});
