import { sharedProbe } from '../../api/shared-probe';

/** /readyz: one probe answers every caller for a moment, so a flood costs one round trip, not one each. */
describe('sharedProbe', () => {
  it('shares the probe in flight and its result while fresh, then probes again', async () => {
    let clock = 0;
    let calls = 0;
    const probe = sharedProbe(async () => ++calls, 1_000, () => clock);
    expect(await Promise.all(Array.from({ length: 300 }, () => probe()))).toEqual(Array(300).fill(1));
    clock = 999;
    expect(await probe()).toBe(1);
    clock = 1_000;
    expect(await probe()).toBe(2);
    expect(calls).toBe(2);
  });

  it('does not keep a probe that threw: the next caller probes again', async () => {
    let calls = 0;
    const probe = sharedProbe(async () => {
      calls += 1;
      if (calls === 1) throw new Error('down');
      return 'up';
    }, 1_000, () => 0);
    await expect(probe()).rejects.toThrow('down');
    expect(await probe()).toBe('up');
  });
});
