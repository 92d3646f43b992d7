import { paceCollections } from '../../lib/paced-collections';

/**
 * The export's paced collections (lib/paced-collections.ts): with V8's `gc` exposed, a full
 * collection runs at a check that finds more than the limit of buffers outside the heap, while
 * at least one job holds the checks; they stop with the last job; without `gc`, nothing.
 */
describe('paced garbage collections', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('collects only when buffers outside the heap pass the limit, and not after the job ended', () => {
    const gc = jest.fn();
    let outside = 10;
    const end = paceCollections({ gc, outsideBytes: () => outside, limitBytes: 32, checkMs: 100 });
    jest.advanceTimersByTime(500);
    expect(gc).not.toHaveBeenCalled();
    outside = 33;
    jest.advanceTimersByTime(300);
    expect(gc).toHaveBeenCalledTimes(3);
    end();
    jest.advanceTimersByTime(1_000);
    expect(gc).toHaveBeenCalledTimes(3);
  });

  it('shares one check between jobs at once and stops with the last; ending twice counts once', () => {
    const gc = jest.fn();
    const opts = { gc, outsideBytes: () => 100, limitBytes: 32, checkMs: 100 };
    const first = paceCollections(opts);
    const second = paceCollections(opts);
    jest.advanceTimersByTime(200);
    expect(gc).toHaveBeenCalledTimes(2);
    first();
    first();
    jest.advanceTimersByTime(200);
    expect(gc).toHaveBeenCalledTimes(4);
    second();
    jest.advanceTimersByTime(200);
    expect(gc).toHaveBeenCalledTimes(4);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('does nothing where the process was started without --expose-gc', () => {
    const end = paceCollections({ gc: undefined });
    expect(jest.getTimerCount()).toBe(0);
    end();
  });
});
